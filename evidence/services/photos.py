"""The photo job: what a Celery worker does with an uploaded photo, and the rows it keeps.

`photo_process(photo_id=)` claims the photo with a conditional update, re-verifies the stored
original against the hash taken at ingest, has it analysed once (`evidence.imaging.decode`:
decoding under the pixel limit, metadata, derivatives, hashes), stores the thumbnail and
preview, records near-duplicates in the case and keeps the consistency flags
(`evidence.imaging.flags`) in step. It is safe to run twice or concurrently: derivatives have
fixed names per photo, flags and matches are unique rows, and every write checks that this
attempt still owns the claim. A worker holds the claim by a lease it renews (evidence.leases);
`photos_requeue_stale` (part of every worker's recovery) hands an abandoned claim to another.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from PIL import Image, UnidentifiedImageError

from cases.activity import Verb, activity_record
from cases.policy import require
from evidence import enqueue
from evidence.imaging.decode import Analysis, PhotoRejected, analyse, processing_software
from evidence.imaging.descriptive import DESCRIBED_FIELDS
from evidence.imaging.flags import METADATA_FLAGS, consistency_flags
from evidence.imaging.hashes import (
    STORED_WHOLE_KINDS,
    MatchKind,
    hashes_compare,
    near_duplicate_hashes,
    orb_agreement,
    stored,
)
from evidence.leases import expired_before, lease_kept
from evidence.models import Evidence, Photo, PhotoFlag, PhotoHash, PhotoMatch
from evidence.search import search_index_photo
from evidence.services.texts import text_read_queue
from evidence.services.video_matches import photo_keyframe_matches_record
from evidence.similarity import hash_matches

logger = logging.getLogger(__name__)

# A photo whose processing was interrupted this many times (its worker died each time) fails
# for good instead of taking down worker after worker.
MAX_ATTEMPTS = 5


class StorageUnavailable(Exception):
    """A transient failure to read or write storage: the task retries."""


# --- Storage ---------------------------------------------------------------------------------


def derivative_name(photo: Photo, kind: str) -> str:
    """A fixed name per photo and kind, so that a second run replaces rather than adds."""
    return f"derivatives/{photo.pk}/{kind}.jpg"


def _store(name: str, data: bytes) -> str:
    return store_derivative(name, data)


def store_derivative(name: str, data) -> str:
    """Write a derivative (bytes, or an open file) under its fixed name, replacing what an
    earlier attempt wrote there; storage errors are StorageUnavailable (the task retries)."""
    try:
        if default_storage.exists(name):
            default_storage.delete(name)
        content = ContentFile(data) if isinstance(data, bytes) else File(data)
        saved = default_storage.save(name, content)
        if saved != name:  # written meanwhile by another attempt: same bytes, keep one copy
            default_storage.delete(saved)
    except OSError as exc:
        raise StorageUnavailable(f"Could not write {name}: {exc}") from exc
    return name


def _verified_original(photo: Photo):
    """Open the stored original and check it against the hash taken at ingest."""
    evidence = photo.evidence
    try:
        file = default_storage.open(evidence.original.name, "rb")
    except FileNotFoundError:
        raise PhotoRejected(
            "The original file is missing from storage; upload the photo again."
        ) from None
    except OSError as exc:
        raise StorageUnavailable(f"Could not read the original: {exc}") from exc
    try:
        digest = hashlib.sha256()
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    except OSError as exc:
        file.close()
        raise StorageUnavailable(f"Could not read the original: {exc}") from exc
    if digest.hexdigest() != evidence.sha256:
        file.close()
        raise PhotoRejected(
            "The stored original no longer matches the SHA-256 taken at upload "
            f"({evidence.sha256[:12]}…): it was altered or damaged in storage."
        )
    file.seek(0)
    return file


# --- Claiming and processing -----------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    # When another attempt is running, how many seconds until it counts as abandoned.
    busy_for: float | None = None


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)


def _abandoned(now) -> Q:
    """Processing by an attempt whose lease ran out: its worker is gone."""
    return Q(status=Photo.Status.PROCESSING) & (
        Q(heartbeat_at__lt=expired_before(now)) | Q(heartbeat_at__isnull=True)
    )


def _claim(photo_id: int) -> int | None:
    """Take the job: pending, or processing by an attempt whose lease ran out (its worker
    died). Returns this attempt's number, the token every later write checks."""
    now = dj_timezone.now()
    claimable = Q(status=Photo.Status.PENDING) | _abandoned(now)
    with transaction.atomic():
        taken = Photo.objects.filter(claimable, pk=photo_id).update(
            status=Photo.Status.PROCESSING,
            attempts=F("attempts") + 1,
            status_changed_at=now,
            heartbeat_at=now,
        )
        if not taken:
            return None
        return Photo.objects.filter(pk=photo_id).values_list("attempts", flat=True).get()


def _renew(photo_id: int, attempt: int) -> bool:
    return bool(
        Photo.objects.filter(pk=photo_id, status=Photo.Status.PROCESSING, attempts=attempt).update(
            heartbeat_at=dj_timezone.now()
        )
    )


def photo_process(*, photo_id: int, keep_lease: bool = False) -> Outcome:
    """Process one photo (see the module docstring). Returns what became of it; raises
    StorageUnavailable or a database error for the task to retry. A worker passes
    `keep_lease`: the claim is renewed while it works, so that only its death frees it (in
    process, with no other worker to take over, there is nothing to renew it against)."""
    attempt = _claim(photo_id)
    if attempt is None:
        row = Photo.objects.filter(pk=photo_id).values("status", "heartbeat_at").first()
        if row is None:
            return Outcome("missing")
        if row["status"] == Photo.Status.PROCESSING:
            now = dj_timezone.now()
            left = (row["heartbeat_at"] or now) - expired_before(now)
            return Outcome(row["status"], busy_for=max(1.0, left.total_seconds()))
        return Outcome(row["status"])
    if not keep_lease:
        return _process(photo_id, attempt)
    with lease_kept(lambda: _renew(photo_id, attempt), what=f"photo {photo_id}"):
        return _process(photo_id, attempt)


def _process(photo_id: int, attempt: int) -> Outcome:
    photo = Photo.objects.select_related("evidence__case", "evidence__source").get(pk=photo_id)
    if attempt > MAX_ATTEMPTS:
        return _fail(
            photo,
            attempt,
            f"Processing was interrupted {attempt - 1} times (the worker stopped each time); "
            "it will not be tried again automatically.",
        )
    try:
        file = _verified_original(photo)
        try:
            analysis = analyse(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS)
        finally:
            file.close()
        thumbnail = _store(derivative_name(photo, "thumbnail"), analysis.thumbnail)
        preview = _store(derivative_name(photo, "preview"), analysis.preview)
        delay = settings.CASEFILE_PIPELINE_TEST_DELAY_SECONDS
        if delay:  # only the fault-injection tests set this, to break things mid-task
            time.sleep(delay)
        return _finish(photo, attempt, analysis, thumbnail=thumbnail, preview=preview)
    except PhotoRejected as rejected:
        return _fail(photo, attempt, rejected.reason)
    except Exception as exc:
        if _is_time_limit(exc):
            return _fail(
                photo,
                attempt,
                f"Processing took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds and "
                "was stopped.",
            )
        _release(photo_id, attempt)
        raise


def _is_time_limit(exc: Exception) -> bool:
    from celery.exceptions import SoftTimeLimitExceeded

    return isinstance(exc, SoftTimeLimitExceeded)


def _release(photo_id: int, attempt: int) -> None:
    """Give the job back (a transient error): the retry may claim it at once. The attempt is
    not counted: `attempts` counts the runs that were interrupted or finished. The database
    itself may be what failed (a terminated connection): one more try on a fresh connection;
    after that the lease running out frees the job."""
    for _ in range(2):
        try:
            Photo.objects.filter(
                pk=photo_id, status=Photo.Status.PROCESSING, attempts=attempt
            ).update(
                status=Photo.Status.PENDING,
                status_changed_at=dj_timezone.now(),
                heartbeat_at=None,
                attempts=F("attempts") - 1,
            )
            return
        except DatabaseError:
            connection.close()
    logger.warning("Could not release photo %s after a transient error", photo_id)


def _fail(photo: Photo, attempt: int, reason: str) -> Outcome:
    with transaction.atomic():
        updated = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            status=Photo.Status.FAILED,
            failure_reason=reason[:500],
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if updated:
            activity_record(
                case=photo.evidence.case,
                actor=None,
                verb=Verb.PHOTO_FAILED,
                target=photo.evidence,
                data={"reason": reason[:500], "attempt": attempt},
            )
            search_index_photo(photo.pk)
    return Outcome(Photo.Status.FAILED)


METADATA_FIELDS = (
    "taken_at",
    "taken_at_offset",
    "taken_at_source",
    "camera_make",
    "camera_model",
    "lens",
    "software",
    "gps_latitude",
    "gps_longitude",
    "gps_altitude",
    "orientation",
    *DESCRIBED_FIELDS,
    "embedded_images",
    "content_credentials",
)
# The text fields, cut to their columns.
TEXT_FIELDS = (
    "taken_at_offset",
    "taken_at_source",
    "camera_make",
    "camera_model",
    "lens",
    "software",
    "credit",
    "copyright",
    "date_created",
    "city",
    "sublocation",
    "country",
)


def _finish(photo: Photo, attempt: int, analysis: Analysis, *, thumbnail: str, preview: str):
    evidence = photo.evidence
    values = {name: analysis.metadata.get(name) for name in METADATA_FIELDS}
    for name in TEXT_FIELDS:
        values[name] = (values[name] or "")[: Photo._meta.get_field(name).max_length]
    values["caption"] = values["caption"] or ""
    for name in ("creator", "keywords", "editing_history", "embedded_images"):
        values[name] = values[name] or []
    # 1. Metadata, derivatives, hashes and flags, in one transaction that still owns the claim.
    # The hashes are committed before near-duplicates are searched, so that of two photos
    # processed at the same moment at least one sees the other.
    with transaction.atomic():
        owned = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            width=analysis.width,
            height=analysis.height,
            exif=analysis.exif,
            thumbnail=thumbnail,
            preview=preview,
            phash=analysis.phash,
            dhash=analysis.dhash,
            **values,
        )
        if not owned:  # another attempt took over (this one was thought dead): leave it be
            return Outcome(Photo.Status.PROCESSING)
        # What the reporter states now (an edit while this ran re-ran only the photo it saw).
        evidence.refresh_from_db(fields=["observed_at", "latitude", "longitude", "place_name"])
        wanted = consistency_flags(metadata=analysis.metadata, evidence=evidence)
        photo_flags_sync(photo, wanted, managed=set(wanted) | METADATA_FLAGS)
        hashes = analysis.near_duplicates.hashes if analysis.near_duplicates else {}
        photo_hashes_store(photo_id=photo.pk, hashes=stored(hashes))
        search_index_photo(photo.pk)  # what the file says: camera, caption, keywords
    # 2. Near-duplicates in the case (the unsure ones checked with local features, outside any
    # transaction: it reads the other photo's thumbnail), then ready.
    found = near_duplicates_find(photo=photo, hashes=hashes, thumbnail=analysis.thumbnail)
    with transaction.atomic():
        matches = _record_matches(photo, found)
        # The keyframes of the case's videos too (issue #15): "appears in video X at 0:12".
        photo_keyframe_matches_record(photo, analysis.phash)
        done = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            status=Photo.Status.READY,
            failure_reason="",
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if done:
            search_index_photo(photo.pk)
            # Its text is read next, by a job of its own on the `ocr` queue: never before ready.
            text_read_queue(evidence=evidence)
            activity_record(
                case=evidence.case,
                actor=None,
                verb=Verb.PHOTO_PROCESSED,
                target=evidence,
                data={
                    "flags": sorted(wanted),
                    "near_duplicates": matches,
                    "width": analysis.width,
                    "height": analysis.height,
                    # Custody: what was derived from which bytes, with what (issue #6).
                    "derived_from": evidence.sha256,
                    # What else the file holds, by hash: the MPF images it embeds.
                    "embedded_images": [
                        i["sha256"] for i in analysis.metadata["embedded_images"] if i["sha256"]
                    ],
                    "content_credentials": (analysis.metadata["content_credentials"] or {}).get(
                        "validation"
                    ),
                    "derivatives": {
                        "thumbnail": hashlib.sha256(analysis.thumbnail).hexdigest(),
                        "preview": hashlib.sha256(analysis.preview).hexdigest(),
                    },
                    "software": processing_software(),
                },
            )
    return Outcome(Photo.Status.READY if done else Photo.Status.PROCESSING)


def photo_flags_sync(photo: Photo, wanted: dict[str, str], *, managed: set[str]) -> None:
    """Make the photo's flags among `managed` codes exactly `wanted`, one row per code."""
    photo.flags.filter(code__in=managed).exclude(code__in=wanted).delete()
    for code, message in wanted.items():
        PhotoFlag.objects.update_or_create(photo=photo, code=code, defaults={"message": message})


def photo_hashes_store(*, photo_id: int, hashes: dict[str, int]) -> None:
    """Keep exactly these near-duplicate hashes for the photo (one row per kind)."""
    PhotoHash.objects.filter(photo_id=photo_id).exclude(kind__in=list(hashes)).delete()
    # One statement for all kinds; a second run (or a concurrent backfill) updates in place.
    PhotoHash.objects.bulk_create(
        [
            PhotoHash(photo_id=photo_id, kind=kind, value=value, whole=kind in STORED_WHOLE_KINDS)
            for kind, value in hashes.items()
        ],
        update_conflicts=True,
        unique_fields=["photo", "kind"],
        update_fields=["value", "whole"],
    )


@dataclass
class Found:
    """A near-duplicate of the photo being processed: the other photo, the distance of the
    nearest pair of hashes, the kind of copy, and whether ORB had to confirm it."""

    other_id: int
    distance: int
    kind: str
    verified: bool


def _thumbnail_image(photo_id: int):
    """The stored thumbnail of another photo, decoded; None when it cannot be read."""
    name = Photo.objects.filter(pk=photo_id).values_list("thumbnail", flat=True).first()
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as file:
            image = Image.open(io.BytesIO(file.read()))
            image.load()
            return image
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def near_duplicates_find(*, photo: Photo, hashes: dict[str, int], thumbnail: bytes) -> list[Found]:
    """The photos of the case that are near-duplicates of this one by its hashes
    (`evidence.imaging.hashes.hashes_compare`); where the hashes alone are unsure, ORB on the
    two thumbnails decides (`orb_agreement`). The search is answered from the part indexes
    (evidence/similarity.py, `hash_matches`), so its cost does not grow with the case."""
    evidence = photo.evidence
    candidates = hash_matches(hashes=hashes, case_id=evidence.case_id, exclude=photo.pk)
    live = set(
        Photo.objects.filter(
            pk__in=list(candidates), evidence__deleted_at__isnull=True
        ).values_list("pk", flat=True)
    )
    found, own = [], None
    for other_id, theirs in sorted(candidates.items()):
        if other_id not in live:  # a tombstone is no longer evidence of anything
            continue
        candidate = hashes_compare(hashes, theirs)
        if candidate is None:
            continue
        if candidate.sure:
            found.append(Found(other_id, candidate.distance, candidate.kind, False))
            continue
        other = _thumbnail_image(other_id)
        if other is None:
            continue
        if own is None:
            own = Image.open(io.BytesIO(thumbnail))
        agreement = orb_agreement(own, other)
        if agreement.same:
            kind = MatchKind.MIRRORED if agreement.mirrored else candidate.kind
            found.append(Found(other_id, candidate.distance, kind, True))
    return found


def _record_matches(photo: Photo, found: list[Found]) -> int:
    """Record the near-duplicates found, once per pair, and flag both photos of a pair that
    came from different sources."""
    evidence = photo.evidence
    sources = dict(
        Photo.objects.filter(pk__in=[f.other_id for f in found]).values_list(
            "pk", "evidence__source_id"
        )
    )
    rows = []
    for match in found:
        other_source = sources.get(match.other_id)
        cross = (
            evidence.source_id is not None
            and other_source is not None
            and other_source != evidence.source_id
        )
        a, b = sorted((photo.pk, match.other_id))
        rows.append(
            PhotoMatch(
                case_id=evidence.case_id,
                photo_a_id=a,
                photo_b_id=b,
                distance=match.distance,
                cross_source=cross,
                kind=match.kind,
                verified=match.verified,
            )
        )
    PhotoMatch.objects.bulk_create(rows, ignore_conflicts=True)
    involved = {photo.pk} | {m.photo_a_id for m in rows} | {m.photo_b_id for m in rows}
    for photo_id in involved:
        _sync_duplicate_flag(photo_id)
    return len(rows)


def _sync_duplicate_flag(photo_id: int) -> None:
    matches = (
        PhotoMatch.objects.filter(
            Q(photo_a_id=photo_id) | Q(photo_b_id=photo_id), cross_source=True
        )
        .select_related("photo_a__evidence__source", "photo_b__evidence__source")
        .order_by("distance", "id")
    )
    others = [m.photo_b if m.photo_a_id == photo_id else m.photo_a for m in matches]
    others = [other for other in others if other.evidence.deleted_at is None]
    code = PhotoFlag.Code.DUPLICATE_OTHER_SOURCE
    if not others:
        PhotoFlag.objects.filter(photo_id=photo_id, code=code).delete()
        return
    # str(source) is the safe name: a protected source shows only its pseudonym.
    named = [f"“{o.evidence.label}” from {o.evidence.source}" for o in others[:3]]
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    message = (
        f"A near-duplicate of this photo came from another source: {', '.join(named)}{more}. "
        "The sources may not be independent of each other."
    )
    PhotoFlag.objects.update_or_create(
        photo_id=photo_id, code=code, defaults={"message": message[:500]}
    )


# --- Photos processed before the near-duplicate hashes ----------------------------------------


def photos_without_hashes():
    """Ready photos that have no near-duplicate hashes: processed before evidence.imaging.hashes
    gave them (or whose hashes were lost), oldest first."""
    return (
        Photo.objects.filter(status=Photo.Status.READY, near_hashes__isnull=True)
        .exclude(thumbnail="")
        .order_by("evidence_id")
    )


def photo_hashes_backfill(*, photo_id: int) -> int | None:
    """Give one ready photo its near-duplicate hashes, from its stored thumbnail (the image they
    are computed from at processing), and record the near-duplicates they find; one activity
    row. Returns the number of matches, or None when there was nothing to do (not ready, hashed
    meanwhile, or the thumbnail unreadable: that photo is left for `photo_reprocess`). Safe to
    run twice: hashes are one row per kind and matches one row per pair."""
    photo = (
        Photo.objects.select_related("evidence__case", "evidence__source")
        .filter(pk=photo_id, status=Photo.Status.READY)
        .first()
    )
    if photo is None or photo.near_hashes.exists():
        return None
    thumbnail = _thumbnail_image(photo.pk)
    if thumbnail is None:
        return None
    hashes = near_duplicate_hashes(thumbnail.convert("RGB")).hashes
    with transaction.atomic():
        photo_hashes_store(photo_id=photo.pk, hashes=stored(hashes))
    buffer = io.BytesIO()
    thumbnail.convert("RGB").save(buffer, "JPEG", quality=95)
    found = near_duplicates_find(photo=photo, hashes=hashes, thumbnail=buffer.getvalue())
    with transaction.atomic():
        matches = _record_matches(photo, found)
        activity_record(
            case=photo.evidence.case,
            actor=None,
            verb=Verb.PHOTO_HASHED,
            target=photo.evidence,
            data={
                "near_duplicates": matches,
                "hashes": sorted(hashes),
                "software": {"imagehash": processing_software()["imagehash"]},
            },
        )
    return matches


# --- Recovery ---------------------------------------------------------------------------------


def photos_stale(*, older_than: timedelta | None = None, now=None):
    """Photos whose work was lost: processing by an attempt whose lease ran out (its worker
    died), or pending for longer than CASEFILE_STALE_AFTER_SECONDS (the task was lost)."""
    now = now or dj_timezone.now()
    cutoff = now - (older_than if older_than is not None else _stale_after())
    return Photo.objects.filter(
        Q(status=Photo.Status.PENDING, status_changed_at__lt=cutoff) | _abandoned(now)
    ).order_by("status_changed_at")


def photos_requeue_stale(*, older_than: timedelta | None = None, limit: int = 1000) -> list[int]:
    """Queue processing again for the photos whose work was lost (`photos_stale`); returns the
    ids queued. Part of every worker's recovery (evidence.services.recovery).

    Once sent, an abandoned photo goes back to pending and a pending photo's clock is reset,
    so that the next recovery (every few seconds, in every worker) does not send it again while
    it waits its turn in a long queue. With the broker unreachable it stops at the first
    failure: nothing is changed, the rest wait for the next run."""
    now = dj_timezone.now()
    rows = list(photos_stale(older_than=older_than, now=now).values_list("pk", "status")[:limit])
    sent = []
    for photo_id, _status in rows:
        if not enqueue.task_send(enqueue.PHOTO_PROCESS, photo_id):
            break
        sent.append(photo_id)
    # After sending: a worker that already took one has moved it on, and these updates,
    # conditional, leave it alone.
    Photo.objects.filter(_abandoned(now), pk__in=sent).update(
        status=Photo.Status.PENDING, heartbeat_at=None, status_changed_at=now
    )
    Photo.objects.filter(pk__in=sent, status=Photo.Status.PENDING).update(status_changed_at=now)
    return sent


# --- Asking again --------------------------------------------------------------------------


def photo_queue(photo_id: int) -> None:
    """Queue processing after the transaction commits, so that the worker finds the rows. A
    broker that cannot be reached does not fail the upload: the task waits in the outbox and
    is sent by the next recovery once the broker is back."""
    enqueue.task_on_commit(enqueue.PHOTO_PROCESS, photo_id)


@transaction.atomic
def photo_reprocess(*, actor, evidence: Evidence) -> Evidence:
    """Ask for a photo to be processed again (reporters and above): one whose processing
    failed, or one stuck in pending or processing for longer than the hard time limit."""
    require(actor, evidence.case, "evidence.reprocess")
    # Only the photo's row: `.first()` would order by Photo's default ordering, joining (and so
    # locking) the evidence and case rows too, ahead of the lock order (cases/activity.py).
    photo = (
        Photo.objects.select_for_update(of=("self",)).filter(evidence=evidence).order_by().first()
    )
    if photo is None:
        raise ValidationError("Only a photo can be processed again.", code="not_a_photo")
    stuck_since = dj_timezone.now() - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)
    stuck = photo.status in (Photo.Status.PENDING, Photo.Status.PROCESSING) and (
        photo.status_changed_at < stuck_since
    )
    if photo.status != Photo.Status.FAILED and not stuck:
        raise ValidationError(
            f"This photo is {photo.get_status_display().lower()}: only a photo whose processing "
            "failed (or is stuck) can be processed again.",
            code="not_failed",
        )
    previous = {"status": photo.status, "failure_reason": photo.failure_reason}
    photo.status = Photo.Status.PENDING
    photo.failure_reason = ""
    photo.attempts = 0
    photo.status_changed_at = dj_timezone.now()
    photo.save(update_fields=["status", "failure_reason", "attempts", "status_changed_at"])
    activity_record(
        case=evidence.case,
        actor=actor,
        verb=Verb.PHOTO_REPROCESS_REQUESTED,
        target=evidence,
        data=previous,
    )
    photo_queue(photo.pk)
    return evidence
