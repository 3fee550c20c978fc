"""Trusted timestamps (RFC 3161) of originals at ingest and of checkpoints: taking them in a
worker once the upload or checkpoint was committed, filling in what a TSA that was down left
without one, checking them, and showing them.

An upload never waits for a TSA or fails for one: `evidence_ingest` queues
`evidence_timestamp_task` through the outbox (`evidence.enqueue`); if the TSA is slow or down
the task gives up at once (the item is ready all the same), and the workers' recovery sends
`timestamps_fill_task` at most every CASEFILE_TSA_RETRY_SECONDS while anything lacks one
(`timestamps_requeue_missing`), which fills them in, oldest first, until the TSA fails again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef

from cases import timestamps
from cases.models import ActivityCheckpoint, TrustedTimestamp
from cases.services import checkpoint_timestamp, timestamp_take
from evidence import enqueue
from evidence.models import Evidence

logger = logging.getLogger(__name__)

# Shown wherever an item or a checkpoint has no token.
NO_TIMESTAMP = timestamps.NO_TIMESTAMP
FILL_THROTTLE_KEY = "casefile:tsa-fill-sent"


def evidence_timestamp_queue(evidence: Evidence) -> None:
    """Queue the trusted timestamp of a new original's SHA-256 for after the transaction
    commits (nothing without a TSA configured)."""
    if timestamps.tsa_configured() and evidence.sha256:
        enqueue.task_on_commit(enqueue.EVIDENCE_TIMESTAMP, evidence.pk)


def evidence_timestamp(*, evidence_id: int) -> TrustedTimestamp | None:
    """Take the trusted timestamp of an original's SHA-256 (`timestamp_take`), if it has none.
    None when there is nothing to stamp or no TSA; TimestampUnavailable when the TSA fails."""
    evidence = Evidence.objects.filter(pk=evidence_id).exclude(sha256="").first()
    if evidence is None:
        return None
    return timestamp_take(
        case_id=evidence.case_id,
        subject=TrustedTimestamp.Subject.EVIDENCE,
        object_id=evidence.pk,
        digest=bytes.fromhex(evidence.sha256),
    )


def _stamped(subject: str):
    return Exists(TrustedTimestamp.objects.filter(subject=subject, object_id=OuterRef("pk")))


def _missing():
    evidence = (
        Evidence.objects.exclude(sha256="")
        .filter(~_stamped(TrustedTimestamp.Subject.EVIDENCE))
        .order_by("pk")
    )
    checkpoints = ActivityCheckpoint.objects.filter(
        ~_stamped(TrustedTimestamp.Subject.CHECKPOINT)
    ).order_by("pk")
    return evidence, checkpoints


def timestamps_fill_due(*, limit: int = 500) -> int:
    """Take the trusted timestamps still missing (checkpoints, then originals; oldest first, at
    most `limit`); returns how many were taken. Stops at the first TSA failure: the rest wait
    for the next run. A token taken late says so itself: its time is when it was taken."""
    if not timestamps.tsa_configured():
        return 0
    evidence, checkpoints = _missing()
    taken = 0
    try:
        for checkpoint in checkpoints[:limit]:
            checkpoint_timestamp(checkpoint=checkpoint)
            taken += 1
        for evidence_id in evidence.values_list("pk", flat=True)[: max(0, limit - taken)]:
            evidence_timestamp(evidence_id=evidence_id)
            taken += 1
    except timestamps.TimestampUnavailable as exc:
        logger.warning("Trusted timestamps: %d taken, then %s; the rest wait", taken, exc)
    return taken


def timestamps_requeue_missing() -> int:
    """Part of every worker's recovery: when a TSA is configured and something lacks a trusted
    timestamp, send `timestamps_fill_task`, at most once every CASEFILE_TSA_RETRY_SECONDS (per
    cache). Returns 1 if it was sent."""
    if not timestamps.tsa_configured():
        return 0
    # The throttle first: the recovery runs every few seconds, the look for what is missing
    # (an anti-join over every original) only once a period.
    if not cache.add(FILL_THROTTLE_KEY, 1, timeout=settings.CASEFILE_TSA_RETRY_SECONDS):
        return 0
    evidence, checkpoints = _missing()
    if not (checkpoints.exists() or evidence.exists()):
        return 0
    return 1 if enqueue.task_send(enqueue.TIMESTAMPS_FILL) else 0


# --- Checking and showing ---------------------------------------------------------------------


def evidence_timestamps(evidence_ids) -> dict[int, TrustedTimestamp]:
    return {
        stamp.object_id: stamp
        for stamp in TrustedTimestamp.objects.filter(
            subject=TrustedTimestamp.Subject.EVIDENCE, object_id__in=list(evidence_ids)
        )
    }


def evidence_timestamp_problems(evidence: Evidence, stamp: TrustedTimestamp) -> list[str]:
    """Why an original's stored token does not prove its SHA-256 existed at the token's time:
    a token over another digest, one whose signature fails, or one that does not chain to
    the TSA's configured root."""
    if stamp.digest != evidence.sha256:
        return [f"its trusted timestamp is of {stamp.digest}, not of its SHA-256"]
    found = timestamps.token_problems(bytes(stamp.token), digest=bytes.fromhex(evidence.sha256))
    return [f"its trusted timestamp does not hold: {found[0]}"] if found else []
