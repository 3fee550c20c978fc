"""Handing work to the Celery workers: the one place that queues tasks.

Tasks are sent by name, so that the services which queue work never import `evidence.tasks`
(which imports them). A task is first written to the outbox (`OutboxTask`), in the transaction
that records the work, and sent once that transaction commits, so that a worker always finds its
rows; a broker that cannot be reached never fails the request that queued it: the send is
bounded (PROMPT), the failure is logged, and the task stays in the outbox, which every worker's
recovery drains (`outbox_drain`) as soon as it reaches the broker again. Nothing is lost between
the commit and the broker, and nothing waits for a timer once the broker is back.

Queues are chosen by the app's routes (CELERY_TASK_ROUTES), by task name, as for any task.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError

from evidence.models import OutboxTask

logger = logging.getLogger(__name__)

PHOTO_PROCESS = "evidence.tasks.photo_process_task"
VIDEO_PROCESS = "evidence.tasks.video_process_task"
CASE_EXPORT = "evidence.tasks.case_export_task"
EVIDENCE_TIMESTAMP = "evidence.tasks.evidence_timestamp_task"
TIMESTAMPS_FILL = "evidence.tasks.timestamps_fill_task"
LINK_CAPTURE = "evidence.tasks.link_capture_task"
TEXT_READ = "evidence.tasks.text_read_task"

# What a broker that is down or unreachable raises at publish time (kombu wraps the
# transport's connection errors in its OperationalError; a socket error may come through bare).
BROKER_ERRORS = (OperationalError, OSError)

# A request must not wait for a broker that is away: one quick retry (a pooled connection
# that went stale when Redis restarted is replaced by it), then give up. Connecting is
# bounded by CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"], so that a send answers
# within PROMPT seconds whatever the broker does.
PROMPT = 2.0
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


# The outbox leaves a task this long to the sender of its own transaction before the recovery
# sends it (sending twice would be harmless, only wasteful).
OUTBOX_GRACE = timedelta(seconds=2)


@dataclass
class Dispatch:
    """Work queued to be sent on commit. `sent` is None until the transaction commits, then
    whether the task was handed over (False: the broker was unreachable, the task waits in
    the outbox for the recovery)."""

    task: str
    args: tuple
    sent: bool | None = None


def task_send(name: str, *args) -> bool:
    """Send the task `name` now; return False (logged) when the broker cannot be reached.

    With CELERY_TASK_ALWAYS_EAGER the task runs here, in-process, and its errors propagate as
    Celery's eager mode makes them (`send_task` would not run it: the registered task is
    looked up by name instead, which still needs no import of its module)."""
    app = current_app
    if app.conf.task_always_eager:
        if name not in app.tasks:
            # What a worker does at start: import every app's tasks module (autodiscovery).
            app.loader.import_default_modules()
        app.tasks[name].apply_async(args=args)
        return True
    try:
        # No result is stored or awaited: every job's state lives in its row. (Asking for a
        # result would also subscribe to the result backend, which retries for 20 s when
        # Redis is down.)
        app.send_task(
            name, args=args, ignore_result=True, retry=True, retry_policy=PUBLISH_RETRY_POLICY
        )
    except BROKER_ERRORS as exc:
        logger.warning(
            "Could not queue %s%r, the broker is unreachable (%s): it will be queued again",
            name,
            args,
            exc,
        )
        return False
    return True


def task_on_commit(name: str, *args) -> Dispatch:
    """Record the task `name` in the outbox, in the current transaction, and send it once that
    commits (at once outside one); returns the Dispatch that then says whether it was sent.

    In-process tasks (CELERY_TASK_ALWAYS_EAGER, no broker) skip the outbox: nothing stands
    between the commit and the run that could lose them."""
    dispatch = Dispatch(task=name, args=args)
    row = None
    if not current_app.conf.task_always_eager:
        row = OutboxTask.objects.create(task=name, args=list(args))

    # A plain function: robust on_commit logs a failing callback by its __qualname__. It fails
    # only when an in-process (eager) task raises; a broker failure is handled in task_send.
    def send_after_commit() -> None:
        dispatch.sent = task_send(name, *args)
        if row is not None:
            _outbox_settle(row.pk, sent=dispatch.sent)

    transaction.on_commit(send_after_commit, robust=True)
    return dispatch


def _outbox_settle(pk: int, *, sent: bool, error: str = "the broker is unreachable") -> None:
    """A sent task leaves the outbox; one that was not counts the failure."""
    try:
        if sent:
            OutboxTask.objects.filter(pk=pk).delete()
        else:
            OutboxTask.objects.filter(pk=pk).update(
                failures=F("failures") + 1, last_error=error[:300]
            )
    except DatabaseError:
        # The task was sent (or not) all the same; the recovery sends a leftover row again,
        # which is harmless.
        logger.warning("Could not update outbox task %s", pk, exc_info=True)


def outbox_drain(*, older_than: timedelta = OUTBOX_GRACE, limit: int = 500) -> int:
    """Send the tasks left in the outbox (the broker was unreachable when their transaction
    committed), oldest first; returns how many were sent. Stops at the first failure: the
    broker is still away, the rest wait for the next run. Safe in several workers at once:
    each row is taken under a lock that the others skip."""
    cutoff = timezone.now() - older_than
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxTask.objects.select_for_update(skip_locked=True)
            .filter(created_at__lt=cutoff)
            .order_by("pk")[:limit]
        )
        for row in rows:
            if not task_send(row.task, *row.args):
                _outbox_settle(row.pk, sent=False)
                break
            _outbox_settle(row.pk, sent=True)
            sent += 1
    return sent
