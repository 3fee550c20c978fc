"""Recovery without waiting: what every worker does when it connects to the broker and every
CASEFILE_RECOVERY_INTERVAL_SECONDS after (evidence.tasks.RecoveryStep), with or without beat.

- the outbox is drained: tasks whose transaction committed while the broker was away are sent;
- photos, videos and exports whose worker died (the lease ran out) are queued again, as are those
  whose task was lost; exports that never started are given up (`exports_requeue_stale`);
- half-written export bundles left behind by a dead worker are removed.

Every step is safe in several workers at once (conditional updates, skipped locks) and with
the broker or the database away (it logs and leaves the rest for the next run): each job
still runs exactly once in effect, since every attempt claims its job before it works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import DatabaseError

from evidence.enqueue import outbox_drain
from evidence.services.exports import export_temp_files_remove, exports_requeue_stale
from evidence.services.photos import photos_requeue_stale
from evidence.services.videos import videos_requeue_stale

logger = logging.getLogger(__name__)


@dataclass
class Recovered:
    outbox: int = 0
    photos: list[int] = field(default_factory=list)
    videos: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.outbox or self.photos or self.videos or self.exports or self.temp_files)


def jobs_recover() -> Recovered:
    """Run every recovery step once (see the module docstring); returns what each did. A step
    that fails (the database away) is logged and named in `failed`; the others still run."""
    done = Recovered()
    steps = (
        ("outbox", outbox_drain),
        ("photos", photos_requeue_stale),
        ("videos", videos_requeue_stale),
        ("exports", exports_requeue_stale),
        ("temp_files", export_temp_files_remove),
    )
    for name, step in steps:
        try:
            setattr(done, name, step())
        except DatabaseError:
            logger.warning("Recovery: could not %s", name, exc_info=True)
            done.failed.append(name)
    if done:
        logger.info(
            "Recovery: %d task(s) sent from the outbox, photos %s, videos %s and exports %s "
            "queued again, %d stale export file(s) removed",
            done.outbox,
            done.photos[:20],
            done.videos[:20],
            done.exports[:20],
            len(done.temp_files),
        )
    return done
