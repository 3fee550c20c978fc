"""Recovery without waiting: what every worker does when it connects to the broker and every
CASEFILE_RECOVERY_INTERVAL_SECONDS after (evidence.tasks.RecoveryStep), with or without beat.

- the outbox is drained: tasks whose transaction committed while the broker was away are sent;
- photos, videos, exports, link captures and text readings (OCR) whose worker died (the lease
  ran out) are queued again, as are those whose task was lost; exports that never started are
  given up (`exports_requeue_stale`);
- half-written export bundles left behind by a dead worker are removed;
- trusted timestamps a TSA that was down left out are filled in (`timestamps_fill_task`, sent
  at most every CASEFILE_TSA_RETRY_SECONDS);
- webhook deliveries that are due (a retry's backoff ran out, a lost task, a dead worker's
  attempt) are sent again (evidence.webhooks);
- notification emails that are due are sent (evidence.services.notifications).

Every step is safe in several workers at once (conditional updates, skipped locks) and with
the broker or the database away (it logs and leaves the rest for the next run): each job
still runs exactly once in effect, since every attempt claims its job before it works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields

from django.db import DatabaseError

from evidence.enqueue import outbox_drain
from evidence.services.captures import captures_requeue_stale
from evidence.services.exports import export_temp_files_remove, exports_requeue_stale
from evidence.services.notifications import notifications_email
from evidence.services.photos import photos_requeue_stale
from evidence.services.texts import texts_requeue_stale
from evidence.services.timestamps import timestamps_requeue_missing
from evidence.services.videos import videos_requeue_stale
from evidence.webhooks import webhooks_requeue_due

logger = logging.getLogger(__name__)


@dataclass
class Recovered:
    outbox: int = 0
    photos: list[int] = field(default_factory=list)
    videos: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    captures: list[int] = field(default_factory=list)
    texts: list[int] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    # 1 when the task that fills in missing trusted timestamps was sent.
    timestamps: int = 0
    webhooks: list[int] = field(default_factory=list)
    emails: int = 0
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """Whether any step did something (a failed step did not)."""
        return any(getattr(self, f.name) for f in fields(self) if f.name != "failed")

    def __str__(self) -> str:
        """What the steps did, for the log: `photos [3, 4], outbox 2` (the first 20 of a list)."""
        done = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value and f.name != "failed":
                done.append(f"{f.name} {value[:20] if isinstance(value, list) else value}")
        return ", ".join(done)


def jobs_recover() -> Recovered:
    """Run every recovery step once (see the module docstring); returns what each did. A step
    that fails (the database away) is logged and named in `failed`; the others still run."""
    done = Recovered()
    steps = (
        ("outbox", outbox_drain),
        ("photos", photos_requeue_stale),
        ("videos", videos_requeue_stale),
        ("exports", exports_requeue_stale),
        ("captures", captures_requeue_stale),
        ("texts", texts_requeue_stale),
        ("temp_files", export_temp_files_remove),
        ("timestamps", timestamps_requeue_missing),
        ("webhooks", webhooks_requeue_due),
        ("emails", notifications_email),
    )
    for name, step in steps:
        try:
            setattr(done, name, step())
        except DatabaseError:
            logger.warning("Recovery: could not %s", name, exc_info=True)
            done.failed.append(name)
    if done:
        logger.info("Recovery: %s", done)
    return done
