"""The video job: what a worker on the `video` queue does with an uploaded video.

`video_process(video_id=)` works as `evidence.services.photos.photo_process` does: it claims the
video with a conditional update and holds it by a lease it renews (evidence.leases),
re-verifies the original against its hash, reads the metadata and keyframes, poster and contact
sheet (`evidence.imaging.video`), makes the web-playable preview, and commits everything in one
transaction that still owns the claim, so that a run killed at any point leaves the next one a
clean slate: derivatives have fixed names per video, keyframe rows are replaced whole, flags and
matches are unique rows. `videos_requeue_stale` (part of every worker's recovery) hands an
abandoned video to another worker. The original is only ever read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone as dj_timezone

from cases.activity import Verb, activity_record
from cases.policy import require
from evidence import enqueue
from evidence.imaging.video import VideoAnalysis, VideoRejected, pyav_versions, video_analyse
from evidence.imaging.video import video_preview as make_preview
from evidence.imaging.video_flags import VIDEO_FLAGS, video_consistency_flags
from evidence.leases import expired_before, lease_kept
from evidence.models import Evidence, Video, VideoFlag, VideoKeyframe
from evidence.services.photos import MAX_ATTEMPTS, Outcome, StorageUnavailable, store_derivative
from evidence.services.video_matches import (
    duplicate_flag_sync,
    keyframe_photo_matches_record,
    video_matches_record,
)

logger = logging.getLogger(__name__)


def video_derivative_name(video_id: int, kind: str, ext: str = "jpg") -> str:
    """A fixed name per video and kind, so that a second run replaces rather than adds."""
    return f"derivatives/videos/{video_id}/{kind}.{ext}"


# --- Claiming ---------------------------------------------------------------------------------


def _abandoned(now) -> Q:
    return Q(status=Video.Status.PROCESSING) & (
        Q(heartbeat_at__lt=expired_before(now)) | Q(heartbeat_at__isnull=True)
    )


def _claim(video_id: int) -> int | None:
    now = dj_timezone.now()
    with transaction.atomic():
        taken = Video.objects.filter(
            Q(status=Video.Status.PENDING) | _abandoned(now), pk=video_id
        ).update(
            status=Video.Status.PROCESSING,
            attempts=F("attempts") + 1,
            status_changed_at=now,
            heartbeat_at=now,
        )
        if not taken:
            return None
        return Video.objects.filter(pk=video_id).values_list("attempts", flat=True).get()


def _owned(video_id: int, attempt: int):
    return Video.objects.filter(pk=video_id, status=Video.Status.PROCESSING, attempts=attempt)


def _renew(video_id: int, attempt: int) -> bool:
    return bool(_owned(video_id, attempt).update(heartbeat_at=dj_timezone.now()))


def video_process(*, video_id: int, keep_lease: bool = False) -> Outcome:
    """Process one video (see the module docstring); returns what became of it. Raises
    StorageUnavailable or a database error for the task to retry."""
    attempt = _claim(video_id)
    if attempt is None:
        row = Video.objects.filter(pk=video_id).values("status", "heartbeat_at").first()
        if row is None:
            return Outcome("missing")
        if row["status"] == Video.Status.PROCESSING:
            now = dj_timezone.now()
            left = (row["heartbeat_at"] or now) - expired_before(now)
            return Outcome(row["status"], busy_for=max(1.0, left.total_seconds()))
        return Outcome(row["status"])
    if not keep_lease:
        return _process(video_id, attempt)
    with lease_kept(lambda: _renew(video_id, attempt), what=f"video {video_id}"):
        return _process(video_id, attempt)


class _Original:
    """The stored original, verified against its hash: a path when storage has one (PyAV
    reads it directly), else the open file."""

    def __init__(self, video: Video):
        self.evidence = video.evidence
        self.file = None

    def __enter__(self):
        name = self.evidence.original.name
        try:
            file = default_storage.open(name, "rb")
        except FileNotFoundError:
            raise VideoRejected(
                "The original file is missing from storage; upload the video again."
            ) from None
        except OSError as exc:
            raise StorageUnavailable(f"Could not read the original: {exc}") from exc
        digest = hashlib.sha256()
        try:
            for chunk in iter(lambda: file.read(4 * 1024 * 1024), b""):
                digest.update(chunk)
        except OSError as exc:
            file.close()
            raise StorageUnavailable(f"Could not read the original: {exc}") from exc
        if digest.hexdigest() != self.evidence.sha256:
            file.close()
            raise VideoRejected(
                "The stored original no longer matches the SHA-256 taken at upload "
                f"({self.evidence.sha256[:12]}…): it was altered or damaged in storage."
            )
        self.file = file
        return self

    def open(self):
        """A fresh reader of the original (a path on local storage)."""
        try:
            return default_storage.path(self.evidence.original.name)
        except NotImplementedError:
            self.file.seek(0)
            return self.file

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()


def _process(video_id: int, attempt: int) -> Outcome:
    video = Video.objects.select_related("evidence__case", "evidence__source").get(pk=video_id)
    if attempt > MAX_ATTEMPTS:
        return _fail(
            video,
            attempt,
            f"Processing was interrupted {attempt - 1} times (the worker stopped each time); "
            "it will not be tried again automatically.",
        )
    try:
        with _Original(video) as original:
            analysis = video_analyse(
                original.open(),
                max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS,
                max_seconds=settings.CASEFILE_MAX_VIDEO_SECONDS,
            )
            stored = _store_stills(video_id, analysis)
            preview, preview_error = _store_preview(video_id, original)
        delay = settings.CASEFILE_PIPELINE_TEST_DELAY_SECONDS
        if delay:  # only the fault-injection tests set this, to break things mid-task
            time.sleep(delay)
        return _finish(
            video, attempt, analysis, stored=stored, preview=preview, preview_error=preview_error
        )
    except VideoRejected as rejected:
        return _fail(video, attempt, rejected.reason)
    except Exception as exc:
        if _is_time_limit(exc):
            return _fail(
                video,
                attempt,
                f"Processing took longer than {settings.CASEFILE_VIDEO_SOFT_TIME_LIMIT} seconds "
                "and was stopped.",
            )
        _release(video_id, attempt)
        raise


def _is_time_limit(exc: Exception) -> bool:
    from celery.exceptions import SoftTimeLimitExceeded

    return isinstance(exc, SoftTimeLimitExceeded)


def _store_stills(video_id: int, analysis: VideoAnalysis) -> dict:
    stored = {
        "poster": store_derivative(video_derivative_name(video_id, "poster"), analysis.poster),
        "contact_sheet": store_derivative(
            video_derivative_name(video_id, "contact-sheet"), analysis.contact_sheet
        ),
        "keyframes": [],
    }
    for keyframe in analysis.keyframes:
        thumb = video_derivative_name(video_id, f"keyframe-{keyframe.index:02d}-thumb")
        image = video_derivative_name(video_id, f"keyframe-{keyframe.index:02d}")
        stored["keyframes"].append(
            (store_derivative(thumb, keyframe.thumbnail), store_derivative(image, keyframe.image))
        )
    return stored


def _store_preview(video_id: int, original: _Original) -> tuple[str, str]:
    """Transcode the preview to a temporary file and store it; a video whose preview cannot
    be made is still ready (its keyframes stand), with the reason."""
    handle, path = tempfile.mkstemp(suffix=".mp4", prefix="casefile-preview-")
    os.close(handle)
    try:
        try:
            make_preview(original.open(), path)
        except VideoRejected as rejected:
            return "", rejected.reason
        with open(path, "rb") as made:
            name = video_derivative_name(video_id, "preview", "mp4")
            return store_derivative(name, made), ""
    finally:
        os.unlink(path)


def _release(video_id: int, attempt: int) -> None:
    for _ in range(2):
        try:
            _owned(video_id, attempt).update(
                status=Video.Status.PENDING,
                status_changed_at=dj_timezone.now(),
                heartbeat_at=None,
                attempts=F("attempts") - 1,
            )
            return
        except DatabaseError:
            connection.close()
    logger.warning("Could not release video %s after a transient error", video_id)


def _fail(video: Video, attempt: int, reason: str) -> Outcome:
    with transaction.atomic():
        updated = _owned(video.pk, attempt).update(
            status=Video.Status.FAILED,
            failure_reason=reason[:500],
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if updated:
            activity_record(
                case=video.evidence.case,
                actor=None,
                verb=Verb.VIDEO_FAILED,
                target=video.evidence,
                data={"reason": reason[:500], "attempt": attempt},
            )
    return Outcome(Video.Status.FAILED)


METADATA_FIELDS = (
    "duration",
    "container",
    "video_codec",
    "audio_codec",
    "width",
    "height",
    "rotation",
    "frame_rate",
    "bit_rate",
    "taken_at",
    "taken_at_offset",
    "taken_at_source",
    "camera_make",
    "camera_model",
    "software",
    "encoder",
    "gps_latitude",
    "gps_longitude",
    "gps_altitude",
)


def _finish(
    video: Video,
    attempt: int,
    analysis: VideoAnalysis,
    *,
    stored: dict,
    preview: str,
    preview_error: str,
) -> Outcome:
    evidence = video.evidence
    values = {name: analysis.metadata.get(name) for name in METADATA_FIELDS}
    for name in METADATA_FIELDS:
        field = Video._meta.get_field(name)
        if getattr(field, "max_length", None):
            values[name] = (values[name] or "")[: field.max_length]
    values["rotation"] = values["rotation"] or 0
    # 1. Metadata, derivatives, keyframes and flags, in one transaction that owns the claim:
    # one set of keyframes whatever ran before.
    with transaction.atomic():
        owned = _owned(video.pk, attempt).update(
            tags=analysis.tags,
            poster=stored["poster"],
            contact_sheet=stored["contact_sheet"],
            preview=preview,
            preview_error=preview_error[:500],
            **values,
        )
        if not owned:
            return Outcome(Video.Status.PROCESSING)
        VideoKeyframe.objects.filter(video=video).delete()
        VideoKeyframe.objects.bulk_create(
            VideoKeyframe(
                video=video,
                index=keyframe.index,
                time=keyframe.time,
                thumbnail=thumb,
                image=image,
                phash=keyframe.phash,
                dhash=keyframe.dhash,
                change=keyframe.change,
            )
            for keyframe, (thumb, image) in zip(
                analysis.keyframes, stored["keyframes"], strict=True
            )
        )
        wanted = video_consistency_flags(metadata=analysis.metadata, evidence=evidence)
        video.flags.filter(code__in=VIDEO_FLAGS).exclude(code__in=wanted).delete()
        for code, message in wanted.items():
            VideoFlag.objects.update_or_create(
                video=video, code=code, defaults={"message": message}
            )
    # 2. Near-duplicates in the case, then ready.
    with transaction.atomic():
        photo_matches = keyframe_photo_matches_record(video)
        video_matches = video_matches_record(video)
        duplicate_flag_sync(video.pk)
        done = _owned(video.pk, attempt).update(
            status=Video.Status.READY,
            failure_reason="",
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if done:
            activity_record(
                case=evidence.case,
                actor=None,
                verb=Verb.VIDEO_PROCESSED,
                target=evidence,
                data={
                    "flags": sorted(wanted),
                    "keyframes": [k.time for k in analysis.keyframes],
                    "photo_matches": photo_matches,
                    "video_matches": video_matches,
                    "width": values["width"],
                    "height": values["height"],
                    "duration": values["duration"],
                    # Custody: what was derived from which bytes, with what.
                    "derived_from": evidence.sha256,
                    "derivatives": {
                        "poster": hashlib.sha256(analysis.poster).hexdigest(),
                        "contact_sheet": hashlib.sha256(analysis.contact_sheet).hexdigest(),
                        "keyframes": [
                            hashlib.sha256(k.image).hexdigest() for k in analysis.keyframes
                        ],
                        "preview": _file_sha256(preview) if preview else None,
                    },
                    "preview_error": preview_error or None,
                    "software": pyav_versions(),
                },
            )
    return Outcome(Video.Status.READY if done else Video.Status.PROCESSING)


def _file_sha256(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as file:
        for chunk in iter(lambda: file.read(4 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- Recovery ---------------------------------------------------------------------------------


def videos_stale(*, older_than: timedelta | None = None, now=None):
    """Videos whose work was lost: processing by an attempt whose lease ran out, or pending
    for longer than CASEFILE_STALE_AFTER_SECONDS (the task was lost)."""
    now = now or dj_timezone.now()
    cutoff = now - (
        older_than
        if older_than is not None
        else timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)
    )
    return Video.objects.filter(
        Q(status=Video.Status.PENDING, status_changed_at__lt=cutoff) | _abandoned(now)
    ).order_by("status_changed_at")


def videos_requeue_stale(*, older_than: timedelta | None = None, limit: int = 200) -> list[int]:
    """Queue again the videos whose work was lost (`videos_stale`), as
    `photos_requeue_stale` does for photos; returns the ids queued."""
    now = dj_timezone.now()
    rows = list(videos_stale(older_than=older_than, now=now).values_list("pk", flat=True)[:limit])
    sent = []
    for video_id in rows:
        if not enqueue.task_send(enqueue.VIDEO_PROCESS, video_id):
            break
        sent.append(video_id)
    Video.objects.filter(_abandoned(now), pk__in=sent).update(
        status=Video.Status.PENDING, heartbeat_at=None, status_changed_at=now
    )
    Video.objects.filter(pk__in=sent, status=Video.Status.PENDING).update(status_changed_at=now)
    return sent


# --- Asking again ---------------------------------------------------------------------------


def video_queue(video_id: int) -> None:
    """Queue processing after the transaction commits (through the outbox)."""
    enqueue.task_on_commit(enqueue.VIDEO_PROCESS, video_id)


@transaction.atomic
def video_reprocess(*, actor, evidence: Evidence) -> Evidence:
    """Ask for a video to be processed again (reporters and above): one whose processing
    failed, or one stuck for longer than CASEFILE_STALE_AFTER_SECONDS."""
    require(actor, evidence.case, "evidence.reprocess")
    video = (
        Video.objects.select_for_update(of=("self",)).filter(evidence=evidence).order_by().first()
    )
    if video is None:
        raise ValidationError("Only a video can be processed again here.", code="not_a_video")
    stuck_since = dj_timezone.now() - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)
    stuck = video.status in (Video.Status.PENDING, Video.Status.PROCESSING) and (
        video.status_changed_at < stuck_since
    )
    if video.status != Video.Status.FAILED and not stuck:
        raise ValidationError(
            f"This video is {video.get_status_display().lower()}: only a video whose "
            "processing failed (or is stuck) can be processed again.",
            code="not_failed",
        )
    previous = {"status": video.status, "failure_reason": video.failure_reason}
    video.status = Video.Status.PENDING
    video.failure_reason = ""
    video.attempts = 0
    video.status_changed_at = dj_timezone.now()
    video.save(update_fields=["status", "failure_reason", "attempts", "status_changed_at"])
    activity_record(
        case=evidence.case,
        actor=actor,
        verb=Verb.VIDEO_REPROCESS_REQUESTED,
        target=evidence,
        data=previous,
    )
    video_queue(video.pk)
    return evidence
