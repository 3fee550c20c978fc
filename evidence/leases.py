"""Leases on jobs: how a worker says "still mine", and how a dead worker's job is told apart.

A photo or export job is claimed with a conditional update that sets its `heartbeat_at`; while
the attempt runs, a thread renews it every third of CASEFILE_LEASE_SECONDS. A job whose
heartbeat is older than the lease was abandoned (its worker was killed, lost its database or its
broker) and may be taken over by another attempt: every write of an attempt checks that it still
owns the job, so a takeover never duplicates anything.

The renewal runs in a thread of its own because the work itself (decoding a photo, copying a
large original into a bundle) can hold the task's thread for longer than a lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    return timedelta(seconds=settings.CASEFILE_LEASE_SECONDS)


def expired_before(now: datetime) -> datetime:
    """A heartbeat older than this means the job was abandoned."""
    return now - lease()


@contextmanager
def lease_kept(renew: Callable[[], bool], *, what: str) -> Iterator[None]:
    """Renew a job's lease in the background while the block runs. `renew` makes the
    conditional update and returns whether this attempt still owns the job; once it does not
    (another attempt took over), renewing stops and the attempt's own ownership checks make it
    write nothing more."""
    stop = threading.Event()

    def beat() -> None:
        every = settings.CASEFILE_LEASE_SECONDS / 3
        try:
            while not stop.wait(every):
                try:
                    if not renew():
                        logger.warning("%s: the lease was taken over by another attempt", what)
                        return
                except DatabaseError:
                    # The connection may have been cut (a database restart, a terminated
                    # backend): a fresh one is opened for the next beat.
                    logger.warning("%s: could not renew the lease", what, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"lease {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
