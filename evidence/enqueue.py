"""Handing work to the Celery workers: the one place that queues tasks.

Tasks are sent by name, so that the services which queue work never import `evidence.tasks`
(which imports them). Work is queued after the transaction that recorded it commits, so that a
worker always finds its rows; and a broker that cannot be reached never fails the request that
queued it: the send is bounded, the failure is logged, and the work, already recorded in the
database, is queued again by a sweep (`requeue_stale_photos` and `photo_requeue_stale_task` for
photos, `exports_requeue_stale_task` and the case's next export request for exports).

Queues are chosen by the app's routes (CELERY_TASK_ROUTES), by task name, as for any task.
"""

import logging
from dataclasses import dataclass

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

PHOTO_PROCESS = "evidence.tasks.photo_process_task"
CASE_EXPORT = "evidence.tasks.case_export_task"

# What a broker that is down or unreachable raises at publish time (kombu wraps the
# transport's connection errors in its OperationalError; a socket error may come through bare).
BROKER_ERRORS = (OperationalError, OSError)

# A request must not wait for a broker that is away: one quick retry (a pooled connection
# that went stale when Redis restarted is replaced by it), then give up. Connecting is
# bounded by CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"].
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


@dataclass
class Dispatch:
    """Work queued to be sent on commit. `sent` is None until the transaction commits, then
    whether the task was handed over (False: the broker was unreachable, the work waits for
    the sweep)."""

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
    """Send the task `name` once the current transaction commits (at once outside one);
    returns the Dispatch that then says whether it was sent."""
    dispatch = Dispatch(task=name, args=args)

    # A plain function: robust on_commit logs a failing callback by its __qualname__. It fails
    # only when an in-process (eager) task raises; a broker failure is handled in task_send.
    def send_after_commit() -> None:
        dispatch.sent = task_send(name, *args)

    transaction.on_commit(send_after_commit, robust=True)
    return dispatch
