"""Celery tasks of the evidence app: each takes primary keys and calls the pipeline."""

import logging
import random

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from cases.activity import checkpoints_write_due
from evidence.imaging.decode import image_memory_pool
from evidence.services.exports import export_build, exports_expire, exports_requeue_stale
from evidence.services.photos import StorageUnavailable, photo_process, photos_requeue_stale

logger = logging.getLogger(__name__)

# Only these are worth another try: storage or the database being briefly unreachable. A bad
# image is a final, recorded failure inside the pipeline and never reaches the retry machinery.
TRANSIENT_ERRORS = (
    StorageUnavailable,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


@worker_init.connect
def worker_image_memory_pool(**kwargs) -> None:
    """Before the worker forks its pool processes, so that each inherits the setting."""
    image_memory_pool(settings.CASEFILE_IMAGE_MEMORY_POOL_MB)


@shared_task(
    bind=True,
    # Acknowledged only when done, and redelivered if the worker dies mid-task: the pipeline
    # claims the photo with a conditional update, so a second delivery is harmless.
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def photo_process_task(self, photo_id: int) -> str:
    """Process one uploaded photo; returns its status afterwards."""
    outcome = photo_process(photo_id=photo_id)
    if outcome.busy_for is not None and not self.request.is_eager:
        # Another attempt holds the photo. Come back when it would count as abandoned; by then
        # it has finished (nothing left to do) or its worker died (this run takes over).
        countdown = outcome.busy_for + random.uniform(1, 10)  # noqa: S311 - jitter, not a secret
        raise self.retry(countdown=countdown, max_retries=None)
    return outcome.status


@shared_task(acks_late=True)
def photo_requeue_stale_task() -> int:
    """Queue again the photos stuck in pending or processing (run by Celery beat)."""
    try:
        ids = photos_requeue_stale()
    except DatabaseError:
        logger.warning("Could not look for stuck photos", exc_info=True)
        return 0
    if ids:
        logger.info("Queued %d stuck photos again: %s", len(ids), ids[:20])
    return len(ids)


# --- Exports (chain of custody, issue #6) ----------------------------------------------------


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError, ConnectionError, TimeoutError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
    # A large case with its originals takes longer than the default limits allow; the hard
    # limit stays below the broker's visibility timeout (one hour) so it is never run twice
    # at the same time. Routed to the `exports` queue by CELERY_TASK_ROUTES ("*export*").
    soft_time_limit=1800,
    time_limit=1900,
)
def case_export_task(export_id: int) -> str:
    """Write the ZIP bundle of one export; returns its status afterwards."""
    return export_build(export_id=export_id)


@shared_task(acks_late=True)
def exports_requeue_stale_task() -> int:
    """Send again the exports whose task was lost or never reached the broker, and give up
    those that never started (run by Celery beat; routed to the `exports` queue)."""
    try:
        ids = exports_requeue_stale()
    except DatabaseError:
        logger.warning("Could not look for stuck exports", exc_info=True)
        return 0
    if ids:
        logger.info("Queued %d stuck export(s) again: %s", len(ids), ids[:20])
    return len(ids)


@shared_task(acks_late=True)
def exports_expire_task() -> int:
    """Delete the bundles of exports past their retention (run by Celery beat; routed to the
    `exports` queue with the other export work)."""
    ids = exports_expire()
    if ids:
        logger.info("Expired %d export(s): %s", len(ids), ids[:20])
    return len(ids)


# --- Checkpoints of the activity record (issue #13) -------------------------------------------


@shared_task(acks_late=True)
def checkpoints_write_task() -> int:
    """Sign a checkpoint of every case whose activity chain grew since its last one (run by
    Celery beat every CASEFILE_CHECKPOINT_MINUTES); safe to run twice."""
    try:
        ids = checkpoints_write_due()
    except DatabaseError:
        logger.warning("Could not write checkpoints", exc_info=True)
        return 0
    if ids:
        logger.info("Signed %d checkpoint(s)", len(ids))
    return len(ids)
