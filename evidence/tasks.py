"""Celery tasks of the evidence app: each takes primary keys and calls the pipeline; and the
worker's own recovery (RecoveryStep), which needs no beat."""

import logging
import random

from celery import bootsteps, current_app, shared_task
from celery.signals import worker_init
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from cases import timestamps
from cases.activity import checkpoints_write_due
from cases.models import ActivityCheckpoint
from cases.services import checkpoint_timestamp
from evidence.imaging.decode import image_memory_pool
from evidence.services.captures import link_capture
from evidence.services.exports import export_build, exports_expire
from evidence.services.photos import StorageUnavailable, photo_process
from evidence.services.recovery import jobs_recover
from evidence.services.texts import text_read
from evidence.services.timestamps import evidence_timestamp, timestamps_fill_due
from evidence.services.videos import video_process
from evidence.webhooks import webhook_deliver

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
    outcome = photo_process(photo_id=photo_id, keep_lease=not self.request.is_eager)
    if outcome.busy_for is not None and not self.request.is_eager:
        # Another attempt holds the photo. Come back when its lease would have run out; by
        # then it has finished (nothing left to do) or its worker died (this run takes over).
        jitter = random.uniform(1, max(1.0, settings.CASEFILE_LEASE_SECONDS / 3))  # noqa: S311
        raise self.retry(countdown=outcome.busy_for + jitter, max_retries=None)
    return outcome.status


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    # Minutes, not seconds: keyframes of up to two hours and the preview's transcode. Routed
    # to the `video` queue (CELERY_TASK_ROUTES).
    soft_time_limit=settings.CASEFILE_VIDEO_SOFT_TIME_LIMIT,
    time_limit=settings.CASEFILE_VIDEO_TIME_LIMIT,
)
def video_process_task(self, video_id: int) -> str:
    """Process one uploaded video; returns its status afterwards."""
    outcome = video_process(video_id=video_id, keep_lease=not self.request.is_eager)
    if outcome.busy_for is not None and not self.request.is_eager:
        jitter = random.uniform(1, max(1.0, settings.CASEFILE_LEASE_SECONDS / 3))  # noqa: S311
        raise self.retry(countdown=outcome.busy_for + jitter, max_retries=None)
    return outcome.status


# --- Text in pictures (OCR, issue #15) ---------------------------------------------------------


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
    # A scanned PDF of CASEFILE_OCR_MAX_PAGES pages takes longer than a photo; the hard limit
    # stays below the broker's visibility timeout. Routed to the `ocr` queue.
    soft_time_limit=1200,
    time_limit=1260,
)
def text_read_task(self, evidence_id: int) -> str:
    """Read the text of one photo or PDF (after the photo is ready); returns its status."""
    return text_read(evidence_id=evidence_id, keep_lease=not self.request.is_eager)


# --- Exports (chain of custody, issue #6) ----------------------------------------------------


@shared_task(
    bind=True,
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
def case_export_task(self, export_id: int) -> str:
    """Write the ZIP bundle of one export; returns its status afterwards."""
    return export_build(export_id=export_id, keep_lease=not self.request.is_eager)


@shared_task(acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str:
    """One attempt at a webhook delivery (claimed first: a second run does nothing). A failed
    attempt is scheduled again by the delivery itself, with backoff, and sent by recovery."""
    return webhook_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True)
def exports_expire_task() -> int:
    """Delete the bundles of exports past their retention (run by Celery beat; routed to the
    `exports` queue with the other export work)."""
    ids = exports_expire()
    if ids:
        logger.info("Expired %d export(s): %s", len(ids), ids[:20])
    return len(ids)


# --- Link captures (issue #16) -----------------------------------------------------------------


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
    # The capture bounds itself (CASEFILE_CAPTURE_SECONDS); these only catch a browser that
    # hangs past it. Routed to the `capture` queue by CELERY_TASK_ROUTES.
    soft_time_limit=settings.CASEFILE_CAPTURE_SECONDS + 120,
    time_limit=settings.CASEFILE_CAPTURE_SECONDS + 180,
)
def link_capture_task(self, capture_id: int) -> str:
    """Capture one web link's page; returns the capture's status afterwards."""
    return link_capture(capture_id=capture_id, keep_lease=not self.request.is_eager)


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
    # Once the checkpoints are committed, and outside their lock: a TSA that is slow or down
    # delays nothing but their timestamps (filled in later by timestamps_fill_task).
    try:
        for checkpoint in ActivityCheckpoint.objects.filter(pk__in=ids).order_by("pk"):
            checkpoint_timestamp(checkpoint=checkpoint)
    except timestamps.TimestampUnavailable as exc:
        logger.warning("Checkpoints left without a trusted timestamp for now: %s", exc)
    except DatabaseError:
        logger.warning("Could not store a checkpoint's trusted timestamp", exc_info=True)
    return len(ids)


# --- Trusted timestamps (RFC 3161, issue #13) -------------------------------------------------


@shared_task(acks_late=True)
def evidence_timestamp_task(evidence_id: int) -> bool:
    """Timestamp a new original's SHA-256 (queued by the ingest, on commit). A TSA that fails is
    not retried here: the item is ready regardless, and the recovery's timestamps_fill_task
    fills the timestamp in once the TSA answers again. Returns whether it has one now."""
    try:
        return evidence_timestamp(evidence_id=evidence_id) is not None
    except timestamps.TimestampUnavailable as exc:
        logger.warning("Evidence %s left without a trusted timestamp for now: %s", evidence_id, exc)
        return False


@shared_task(acks_late=True)
def timestamps_fill_task() -> int:
    """Take the trusted timestamps a TSA that was down left out (sent by the workers'
    recovery); safe to run twice. Returns how many were taken."""
    return timestamps_fill_due()


# --- Recovery, in every worker ----------------------------------------------------------------


@shared_task(acks_late=True)
def jobs_recover_task() -> bool:
    """The recovery on demand (`celery -A config call evidence.tasks.jobs_recover_task`): every
    worker already runs it by itself (RecoveryStep). Returns whether it found anything to do."""
    return bool(jobs_recover())


class RecoveryStep(bootsteps.StartStopStep):
    """Runs `jobs_recover` in the worker's main process each time it connects to the broker
    (at start, and when the broker is back after an outage: the outbox is drained at once) and
    then every CASEFILE_RECOVERY_INTERVAL_SECONDS on the worker's timer. So a killed worker's
    jobs run again within a lease and an interval of another worker being up, with or without
    Celery beat, whichever queues the workers consume (the recovery only sends tasks; the
    routes take them to their queues)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_ref = None

    def start(self, parent) -> None:
        self.recover()
        self.timer_ref = parent.timer.call_repeatedly(
            settings.CASEFILE_RECOVERY_INTERVAL_SECONDS, self.recover
        )

    def stop(self, parent) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    shutdown = stop

    def recover(self) -> None:
        try:
            jobs_recover()
        except Exception:  # the timer must keep running, whatever one run met
            logger.warning("Recovery failed", exc_info=True)
        finally:
            # The main process holds no connection between runs: the pool's children are
            # forked from it, and a database restart would leave it a dead one.
            connection.close()


current_app.steps["consumer"].add(RecoveryStep)
