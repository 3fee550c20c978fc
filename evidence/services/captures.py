"""The capture job: what the capture worker does with a web link (issue #16).

`link_capture(capture_id=)` claims the capture with a conditional update (as photos are
claimed), has the page captured in Chromium (`evidence.capture.engine`: every request checked
against `config.outbound`, within the time, byte and request limits), stores each file once
under its SHA-256 through the app's storage, turns each image and each directly linked video
found on the page into its own evidence item through the normal ingest (`photo_ingest`,
`video_ingest`: hashed, metadata, flags, near-duplicates), keeps the videos as files of the
capture too, and records it all —
every file's hash — on the link's custody record, in one transaction. It is safe to run twice:
files are stored under their hashes, the same image is the same evidence, and the finishing
transaction checks that this attempt still owns the capture. A capture that fell short (host
not found, refused, TLS, HTTP error, time or size limit, address not allowed) is `failed` with
a reason a reporter reads, keeping whatever was captured (an error page is captured too).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.activity import Verb, activity_record
from config.outbound import AddressRefused, allow_list, check_url
from evidence import enqueue
from evidence.capture.engine import Limits, PageCapture, page_capture
from evidence.leases import expired_before, lease_kept
from evidence.models import Capture, CaptureFile
from evidence.services.evidence import photo_ingest, video_ingest

logger = logging.getLogger(__name__)

# A capture whose worker died this many times fails for good.
MAX_ATTEMPTS = 3
VIDEO_TYPES = {
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "video/ogg": ".ogv",
    "video/x-m4v": ".m4v",
}


def capture_limits() -> Limits:
    return Limits(
        seconds=settings.CASEFILE_CAPTURE_SECONDS,
        max_bytes=settings.CASEFILE_CAPTURE_MAX_BYTES,
        max_requests=settings.CASEFILE_CAPTURE_MAX_REQUESTS,
        min_image_side=settings.CASEFILE_CAPTURE_MIN_IMAGE_SIDE,
    )


def capture_storage_name(sha256: str) -> str:
    """Where a capture's file lives: derived from its hash, as originals are."""
    return f"captures/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _store(path: Path) -> tuple[str, str, int]:
    """Store a file once under its hash (never overwriting); (name, sha256, size)."""
    sha256, size = _sha256_of(path)
    name = capture_storage_name(sha256)
    if not default_storage.exists(name):
        with path.open("rb") as handle:
            saved = default_storage.save(name, File(handle))
        if saved != name:  # the same bytes were stored a moment ago
            default_storage.delete(saved)
    return name, sha256, size


# --- Claiming ---------------------------------------------------------------------------------


def _abandoned(now) -> Q:
    return Q(status=Capture.Status.RUNNING) & (
        Q(heartbeat_at__lt=expired_before(now)) | Q(heartbeat_at__isnull=True)
    )


def _claim(capture_id: int) -> int | None:
    now = timezone.now()
    taken = Capture.objects.filter(
        Q(status=Capture.Status.PENDING) | _abandoned(now), pk=capture_id
    ).update(
        status=Capture.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
    )
    if not taken:
        return None
    return Capture.objects.filter(pk=capture_id).values_list("attempts", flat=True).get()


def _renew(capture_id: int, attempt: int) -> bool:
    if Capture.objects.filter(
        pk=capture_id, status=Capture.Status.RUNNING, attempts=attempt
    ).update(heartbeat_at=timezone.now()):
        return True
    # Finished by this very attempt, a moment before its lease stops: no takeover.
    return Capture.objects.filter(
        pk=capture_id,
        attempts=attempt,
        status__in=[Capture.Status.READY, Capture.Status.FAILED],
    ).exists()


def link_capture(*, capture_id: int, keep_lease: bool = False) -> str:
    """Run one capture (see the module docstring); returns its status afterwards. A worker
    passes `keep_lease`, renewing the claim while the browser works."""
    attempt = _claim(capture_id)
    if attempt is None:
        status = Capture.objects.filter(pk=capture_id).values_list("status", flat=True).first()
        return status or "missing"
    if not keep_lease:
        return _run(capture_id, attempt)
    with lease_kept(lambda: _renew(capture_id, attempt), what=f"capture {capture_id}"):
        return _run(capture_id, attempt)


def _run(capture_id: int, attempt: int) -> str:
    capture = Capture.objects.select_related("evidence__case", "evidence__source").get(
        pk=capture_id
    )
    evidence = capture.evidence
    if attempt > MAX_ATTEMPTS:
        page = PageCapture(url=evidence.url, started_at=timezone.now())
        page.fail(
            f"The capture was interrupted {MAX_ATTEMPTS} times (its worker stopped each time); "
            "capture it again.",
            "interrupted",
        )
        return _finish(capture, attempt, page, files=[], media=[])
    allowed = allow_list(settings.CASEFILE_CAPTURE_ALLOW_HOSTS)
    folder = Path(tempfile.mkdtemp(prefix=f"capture-{capture_id}-", dir=_spool()))
    try:
        try:
            # Refused before a browser is started: an address not allowed, a host not found.
            check_url(evidence.url, allowed=allowed)
        except AddressRefused as refused:
            page = PageCapture(url=evidence.url, started_at=timezone.now())
            kind = "host" if str(refused).startswith("Host not found") else "address"
            page.fail(str(refused), kind)
        else:
            page = page_capture(
                evidence.url, folder=folder, allowed=allowed, limits=capture_limits()
            )
        files = [(saved, *_store(saved.path)) for saved in page.files]
        return _finish(capture, attempt, page, files=files, media=page.media)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _spool() -> str | None:
    folder = settings.FILE_UPLOAD_TEMP_DIR
    return folder if folder and os.path.isdir(folder) else None


def _finish(capture: Capture, attempt: int, page: PageCapture, *, files, media) -> str:
    evidence = capture.evidence
    status = Capture.Status.FAILED if page.failure else Capture.Status.READY
    with transaction.atomic():
        owned = (
            Capture.objects.select_for_update()
            .filter(pk=capture.pk, status=Capture.Status.RUNNING, attempts=attempt)
            .first()
        )
        if owned is None:  # another attempt took over: it writes, not this one
            return Capture.objects.filter(pk=capture.pk).values_list("status", flat=True).get()
        rows = []
        for saved, name, sha256, size in files:
            rows.append(
                CaptureFile.objects.create(
                    capture=owned,
                    role=saved.role,
                    name=saved.name,
                    file=name,
                    sha256=sha256,
                    size=size,
                    content_type=saved.content_type,
                )
            )
        media_ids, media_notes = _media_take(owned, page, media, rows)
        owned.status = status
        owned.failure_reason = page.failure[:500]
        owned.failure_kind = page.failure_kind[:16]
        owned.captured_at = page.started_at
        owned.finished_at = timezone.now()
        owned.final_url = page.final_url[:2000]
        owned.http_status = page.http_status
        owned.title = page.title[:300]
        owned.response_headers = [list(pair) for pair in page.headers]
        owned.tls = page.tls
        owned.redirects = page.redirects
        owned.refused = page.refused
        owned.requests = page.requests
        owned.bytes = page.bytes
        owned.heartbeat_at = None
        owned.save()
        owned.media.set(media_ids)
        activity_record(
            case=evidence.case,
            actor=None,
            verb=Verb.EVIDENCE_CAPTURED if status == "ready" else Verb.EVIDENCE_CAPTURE_FAILED,
            target=evidence,
            data={
                "capture": owned.pk,
                "status": status,
                "failure_reason": owned.failure_reason,
                "url": evidence.url,
                "final_url": owned.final_url,
                "http_status": owned.http_status,
                "captured_at": page.started_at.isoformat(),
                "files": [
                    {
                        "name": row.name,
                        "sha256": row.sha256,
                        "size": row.size,
                        "content_type": row.content_type,
                    }
                    for row in rows
                ],
                "media": media_ids,
                "media_skipped": media_notes,
                "refused": [item["url"] for item in page.refused][:50],
            },
        )
    return status


def _media_take(capture: Capture, page: PageCapture, media, rows: list) -> tuple[list, list]:
    """Images and directly linked videos become evidence items of their own (the normal ingest,
    so that they are hashed and processed); a video is also kept as a file of the capture.
    Returns (evidence ids, notes on what was left out and why)."""
    taken, notes = [], []
    videos = 0
    for found in media:
        ingest, what = photo_ingest, "Image"
        base = os.path.basename(found.url.split("?", 1)[0]) or "image"
        if found.kind == "video":
            if not found.body:
                notes.append({"url": found.url, "reason": found.problem or "not fetched"})
                continue
            videos += 1
            extension = VIDEO_TYPES.get(found.content_type, ".bin")
            name, sha256, size = _store_bytes(found.body)
            rows.append(
                CaptureFile.objects.create(
                    capture=capture,
                    role=CaptureFile.Role.VIDEO,
                    name=f"video-{videos}{extension}",
                    file=name,
                    sha256=sha256,
                    size=size,
                    content_type=found.content_type or "application/octet-stream",
                    source_url=found.url[:2000],
                )
            )
            ingest, what = video_ingest, "Video"
            base = os.path.basename(found.url.split("?", 1)[0]) or f"video{extension}"
        item = _found_ingest(capture, page, found, notes, ingest=ingest, what=what, name=base)
        if item is not None and item.pk not in taken:
            taken.append(item.pk)
    return taken, notes


def _found_ingest(capture: Capture, page: PageCapture, found, notes: list, *, ingest, what, name):
    """One image or video found on the page as an evidence item "from the capture of …", or
    None with a note saying why not (not an image or a video, too large, …)."""
    evidence = capture.evidence
    when = page.started_at.strftime("%Y-%m-%d %H:%M UTC")
    try:
        with transaction.atomic():
            item, _ = ingest(
                actor=capture.requested_by,
                case=evidence.case,
                file=ContentFile(found.body, name=name[-100:]),
                source=evidence.source,
                title=f"From the capture of {evidence.label}"[:300],
                description=(
                    f"{what} found at {found.url} on the page {page.final_url or page.url}, "
                    f"captured {when} (capture {capture.pk} of evidence {evidence.pk})."
                ),
                sensitive=evidence.sensitive,
            )
    except ValidationError as refused:
        notes.append({"url": found.url, "reason": " ".join(refused.messages)[:300]})
        return None
    except PermissionDenied:
        notes.append(
            {"url": found.url, "reason": "who asked for the capture may no longer add evidence"}
        )
        return None
    return item


def _store_bytes(data: bytes) -> tuple[str, str, int]:
    sha256 = hashlib.sha256(data).hexdigest()
    name = capture_storage_name(sha256)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:
            default_storage.delete(saved)
    return name, sha256, len(data)


# --- Recovery -----------------------------------------------------------------------------------


def captures_requeue_stale(*, limit: int = 500) -> list[int]:
    """Send again the captures whose work was lost: running with a lease that ran out (the
    worker died), or pending CASEFILE_STALE_AFTER_SECONDS after their task was last sent (the
    task was lost). Part of every worker's recovery (evidence.services.recovery); stops at the
    first broker failure."""
    now = timezone.now()
    resend_after = now - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)
    stale = Capture.objects.filter(
        _abandoned(now)
        | Q(status=Capture.Status.PENDING, dispatched_at__lt=resend_after)
        | Q(status=Capture.Status.PENDING, dispatched_at__isnull=True)
    ).order_by("pk")
    sent = []
    for capture_id in stale.values_list("pk", flat=True)[:limit]:
        if not enqueue.task_send(enqueue.LINK_CAPTURE, capture_id):
            break
        sent.append(capture_id)
    Capture.objects.filter(_abandoned(now), pk__in=sent).update(
        status=Capture.Status.PENDING, heartbeat_at=None
    )
    Capture.objects.filter(pk__in=sent, status=Capture.Status.PENDING).update(dispatched_at=now)
    return sent
