"""The text job: reading the text of a photo (OCR) or a PDF document (its text layer, else OCR
of its rendered pages), after the photo is ready, on the `ocr` queue of its own.

It never delays `ready`: a photo's job is queued in the transaction that makes it ready, a
document's when it is received. It is claimed and leased like a photo (evidence.leases), so
a worker killed mid-page leaves a job the recovery (`texts_requeue_stale`, part of every
worker's `jobs_recover`) queues again; a job interrupted MAX_ATTEMPTS times fails for good.
Where Tesseract is absent the job ends `skipped`, with the reason on the item.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import timedelta

import pypdf
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from cases.activity import Verb, activity_record
from evidence import enqueue
from evidence.imaging.decode import PhotoRejected, open_image
from evidence.imaging.ocr import (
    OcrFailed,
    OcrUnavailable,
    parse_languages,
    read_text,
    software,
)
from evidence.imaging.pdftext import PdfUnreadable, pdf_text
from evidence.leases import expired_before, lease_kept
from evidence.models import Evidence, TextReading
from evidence.search import search_index_evidence

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# What can be read: photos, and PDF documents.
READABLE_TYPES = ("application/pdf",)


def readable(evidence: Evidence) -> bool:
    return evidence.kind == Evidence.Kind.PHOTO or (
        evidence.kind == Evidence.Kind.DOCUMENT and evidence.content_type in READABLE_TYPES
    )


# --- Queueing ----------------------------------------------------------------------------------


def text_read_queue(*, evidence: Evidence) -> TextReading | None:
    """Ask for the text of `evidence` to be read (again), in the current transaction: the job
    is sent once it commits. Nothing when the server reads no text (CASEFILE_OCR off) or the
    item has none to read."""
    if not settings.CASEFILE_OCR or not readable(evidence):
        return None
    reading, _ = TextReading.objects.update_or_create(
        evidence=evidence,
        defaults={
            "status": TextReading.Status.PENDING,
            "note": "",
            "attempts": 0,
            "heartbeat_at": None,
            "status_changed_at": dj_timezone.now(),
        },
    )
    enqueue.task_on_commit(enqueue.TEXT_READ, evidence.pk)
    return reading


# --- Claiming ----------------------------------------------------------------------------------


def _abandoned(now) -> Q:
    return Q(status=TextReading.Status.PROCESSING) & (
        Q(heartbeat_at__lt=expired_before(now)) | Q(heartbeat_at__isnull=True)
    )


def _claim(evidence_id: int) -> int | None:
    now = dj_timezone.now()
    with transaction.atomic():
        taken = TextReading.objects.filter(
            Q(status=TextReading.Status.PENDING) | _abandoned(now), pk=evidence_id
        ).update(
            status=TextReading.Status.PROCESSING,
            attempts=F("attempts") + 1,
            status_changed_at=now,
            heartbeat_at=now,
        )
        if not taken:
            return None
        return TextReading.objects.values_list("attempts", flat=True).get(pk=evidence_id)


def _owned(evidence_id: int, attempt: int):
    return TextReading.objects.filter(
        pk=evidence_id, status=TextReading.Status.PROCESSING, attempts=attempt
    )


def _renew(evidence_id: int, attempt: int) -> bool:
    return bool(_owned(evidence_id, attempt).update(heartbeat_at=dj_timezone.now()))


def text_read(*, evidence_id: int, keep_lease: bool = False) -> str:
    """Read the text of one item (see the module docstring); returns its status afterwards.
    Raises a database or storage error for the task to retry."""
    attempt = _claim(evidence_id)
    if attempt is None:
        status = TextReading.objects.filter(pk=evidence_id).values_list("status", flat=True)
        return status.first() or "missing"
    if not keep_lease:
        return _read(evidence_id, attempt)
    with lease_kept(lambda: _renew(evidence_id, attempt), what=f"text of {evidence_id}"):
        return _read(evidence_id, attempt)


def _read(evidence_id: int, attempt: int) -> str:
    reading = TextReading.objects.select_related("evidence__case").get(pk=evidence_id)
    evidence = reading.evidence
    if attempt > MAX_ATTEMPTS:
        return _end(
            reading,
            attempt,
            TextReading.Status.FAILED,
            note=f"Reading the text was interrupted {attempt - 1} times (the worker stopped "
            "each time); it will not be tried again automatically.",
        )
    languages = evidence.case.reading_languages
    try:
        parse_languages(languages)
        data = _original_bytes(evidence)
        if evidence.kind == Evidence.Kind.PHOTO:
            found = _photo_text(data, languages)
        else:
            found = _document_text(data, languages)
    except OcrUnavailable as absent:
        return _end(reading, attempt, TextReading.Status.SKIPPED, note=absent.reason)
    except (OcrFailed, PdfUnreadable, PhotoRejected) as failed:
        return _end(reading, attempt, TextReading.Status.FAILED, note=failed.reason)
    except ValueError as bad:
        return _end(
            reading, attempt, TextReading.Status.SKIPPED, note=f"The case's languages: {bad}"
        )
    except Exception as exc:
        if _is_time_limit(exc):
            return _end(
                reading,
                attempt,
                TextReading.Status.FAILED,
                note="Reading the text took longer than the time limit and was stopped.",
            )
        _release(evidence_id, attempt)
        raise
    return _end(reading, attempt, TextReading.Status.DONE, **found)


def _is_time_limit(exc: Exception) -> bool:
    return isinstance(exc, SoftTimeLimitExceeded)


def _original_bytes(evidence: Evidence) -> bytes:
    """The stored original, checked against the hash taken at ingest."""
    try:
        with default_storage.open(evidence.original.name, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise PhotoRejected("The original file is missing from storage.") from None
    if hashlib.sha256(data).hexdigest() != evidence.sha256:
        raise PhotoRejected(
            "The stored original no longer matches the SHA-256 taken at upload: its text was "
            "not read."
        )
    return data


def _photo_text(data: bytes, languages: str) -> dict:
    file = io.BytesIO(data)
    try:
        image = open_image(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS)
        edge = settings.CASEFILE_OCR_MAX_EDGE
        if image.format == "JPEG":
            image.draft("RGB", (edge, edge))  # libjpeg's reduced decoding, as the pipeline's
        image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoRejected(f"The photo could not be decoded to read its text: {exc}") from exc
    result = read_text(image, languages)
    return {
        "method": TextReading.Method.OCR,
        "ocr_text": result.text,
        "ocr_language": result.language,
        "words": [w.as_dict() for w in result.words],
        "confidence": result.confidence,
        "pages": None,
        "languages": "+".join(result.languages),
        "note": _missing_note(result.missing_languages),
        "software": software(),
    }


def _document_text(data: bytes, languages: str) -> dict:
    result = pdf_text(data, languages=languages)
    notes = list(result.notes)
    missing = _missing_note(result.missing_languages)
    if missing:
        notes.append(missing)
    return {
        "method": result.method,
        "ocr_text": result.text,
        "ocr_language": result.language,
        "words": result.words,
        "confidence": result.confidence,
        "pages": result.pages_total,
        "languages": "+".join(result.languages) if result.pages_ocr else "",
        "note": " ".join(notes),
        "software": (f"pypdf {_pypdf_version()}" + (f"; {software()}" if result.pages_ocr else "")),
    }


def _pypdf_version() -> str:
    return pypdf.__version__


def _missing_note(missing: list[str]) -> str:
    if not missing:
        return ""
    return f"Not installed for Tesseract here, so not read in: {', '.join(missing)}."


def _end(reading: TextReading, attempt: int, status: str, *, note: str = "", **values) -> str:
    evidence = reading.evidence
    with transaction.atomic():
        done = _owned(reading.pk, attempt).update(
            status=status,
            note=note[:500],
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
            heartbeat_at=None,
            **values,
        )
        if not done:  # another attempt took over
            return TextReading.Status.PROCESSING
        text = values.get("ocr_text", "")
        activity_record(
            case=evidence.case,
            actor=None,
            verb=Verb.TEXT_READ,
            target=evidence,
            data={
                "status": status,
                "note": note[:500],
                "method": values.get("method", ""),
                "languages": values.get("languages", ""),
                "characters": len(text),
                "words": len(values.get("words") or []),
                # Custody: what was read from which bytes, with what; the text by its hash.
                "derived_from": evidence.sha256,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest() if text else "",
                "software": _software_map(values.get("software", "")),
            },
        )
        search_index_evidence(evidence)  # the text read is searchable (evidence.search)
    return status


def _software_map(text: str) -> dict[str, str]:
    """ "tesseract 5.3.0; pytesseract 0.3.13" → {"tesseract": "5.3.0", "pytesseract": …}, as
    the custody record names the software that derived something."""
    named = (part.strip().split(" ", 1) for part in text.split(";") if part.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in named}


def _release(evidence_id: int, attempt: int) -> None:
    for _ in range(2):
        try:
            _owned(evidence_id, attempt).update(
                status=TextReading.Status.PENDING,
                status_changed_at=dj_timezone.now(),
                heartbeat_at=None,
                attempts=F("attempts") - 1,
            )
            return
        except DatabaseError:
            connection.close()
    logger.warning("Could not release the text job of %s after a transient error", evidence_id)


# --- Recovery -----------------------------------------------------------------------------------


def texts_requeue_stale(*, older_than: timedelta | None = None, limit: int = 1000) -> list[int]:
    """Queue again the text jobs whose work was lost: processing by an attempt whose lease ran
    out, or pending for longer than CASEFILE_STALE_AFTER_SECONDS (the task was lost). Part of
    every worker's recovery (evidence.services.recovery), as photos_requeue_stale is."""
    now = dj_timezone.now()
    cutoff = now - (
        older_than
        if older_than is not None
        else timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)
    )
    rows = list(
        TextReading.objects.filter(
            Q(status=TextReading.Status.PENDING, status_changed_at__lt=cutoff) | _abandoned(now)
        )
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = []
    for evidence_id in rows:
        if not enqueue.task_send(enqueue.TEXT_READ, evidence_id):
            break
        sent.append(evidence_id)
    TextReading.objects.filter(_abandoned(now), pk__in=sent).update(
        status=TextReading.Status.PENDING, heartbeat_at=None, status_changed_at=now
    )
    TextReading.objects.filter(pk__in=sent, status=TextReading.Status.PENDING).update(
        status_changed_at=now
    )
    return sent
