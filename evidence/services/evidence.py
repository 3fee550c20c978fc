"""Writes to evidence items and their files: creation and edits, one ingest for both doors
(the kind told from the bytes), and the original's storage. Each leaves an activity row, in
one transaction."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.activity import Verb, activity_record
from cases.models import Case
from cases.policy import can, require
from config.uploads import megabytes, upload_limit
from evidence.imaging.decode import PhotoRejected, open_image
from evidence.imaging.sniff import IMAGE_TYPES, file_kind
from evidence.imaging.video import VideoRejected, video_probe
from evidence.models import Evidence, Photo, Provenance, Source, Video
from evidence.search import search_index_evidence
from evidence.services.capture_requests import capture_queue
from evidence.services.photos import photo_queue
from evidence.services.signals import STATED_FIELDS, camera_statement, evidence_signals_refresh
from evidence.services.sources import full_clean
from evidence.services.texts import text_read_queue
from evidence.services.timestamps import evidence_timestamp_queue
from evidence.services.videos import video_queue

# --- Evidence -------------------------------------------------------------------------------

EVIDENCE_FIELDS = (
    "title",
    "description",
    "source",
    "observed_at",
    "place_name",
    "latitude",
    "longitude",
    "url",
    "text",
    "stated_on",
    "sensitive",
)


def _new_evidence(*, case: Case, actor, title: str, place_name: str, **fields) -> Evidence:
    """An unsaved item of `case` collected by `actor`, its title and place trimmed: what both
    ways of adding evidence (`evidence_create`, `evidence_ingest`) make."""
    return Evidence(
        case=case, collected_by=actor, title=title.strip(), place_name=place_name.strip(), **fields
    )


def _check_source(case: Case, source: Source | None) -> None:
    if source is not None and source.case_id != case.pk:
        raise ValidationError({"source": "That source belongs to another case."})


@transaction.atomic
def evidence_create(
    *,
    actor,
    case: Case,
    kind: str,
    title: str = "",
    description: str = "",
    source: Source | None = None,
    observed_at: datetime | None = None,
    place_name: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    url: str = "",
    text: str = "",
    stated_on: date | None = None,
    sensitive: bool = False,
) -> Evidence:
    """Record a web link or a source's testimony (reporters and above); a link's page is
    captured once the transaction commits. Files (photos and documents) come in through
    `evidence_ingest`."""
    require(actor, case, "evidence.add")
    if kind not in (Evidence.Kind.LINK, Evidence.Kind.TESTIMONY):
        raise ValidationError({"kind": "Only links and testimony are recorded without a file."})
    if kind == Evidence.Kind.LINK and not url:
        raise ValidationError({"url": "A web link needs its URL."})
    if kind == Evidence.Kind.TESTIMONY:
        if source is None:
            raise ValidationError({"source": "Testimony needs the source who gave it."})
        if not text.strip():
            raise ValidationError({"text": "Testimony needs what the source said."})
    _check_source(case, source)
    evidence = _new_evidence(
        case=case,
        actor=actor,
        kind=kind,
        title=title,
        description=description,
        source=source,
        observed_at=observed_at,
        place_name=place_name,
        latitude=latitude,
        longitude=longitude,
        url=url.strip() if kind == Evidence.Kind.LINK else "",
        text=text.strip() if kind == Evidence.Kind.TESTIMONY else "",
        stated_on=stated_on,
        sensitive=sensitive,
    )
    full_clean(evidence).save()
    _provenance_add(evidence=evidence, actor=actor, source=source, original_name="")
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.EVIDENCE_ADDED,
        target=evidence,
        data={"kind": kind, "source": source.pk if source else None},
    )
    search_index_evidence(evidence)
    if kind == Evidence.Kind.LINK:
        # Links rot: the page is captured as soon as it is recorded (evidence.services.captures).
        capture_queue(evidence=evidence, actor=actor)
    return evidence


@transaction.atomic
def evidence_update(*, actor, evidence: Evidence, batch: str | None = None, **changes) -> Evidence:
    """Edit what the reporter says about a piece of evidence (never its file or hashes). A
    change to the stated date or place runs the date and place checks again
    (`evidence.services.signals`). `batch`: the bulk edit this change is part of (its
    activity rows say so, and the feed shows them as one line)."""
    case = evidence.case
    require(actor, case, "evidence.edit")
    unknown = set(changes) - set(EVIDENCE_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    if "url" in changes and evidence.kind != Evidence.Kind.LINK:
        raise ValidationError({"url": "Only a web link has a URL."})
    if "text" in changes and evidence.kind != Evidence.Kind.TESTIMONY:
        raise ValidationError({"text": "Only testimony has a text."})
    changed = {k: v for k, v in changes.items() if getattr(evidence, k) != v}
    if not changed:
        return evidence
    _check_source(case, changed.get("source"))
    if "source" in changed and evidence.source_id is not None and evidence.source.protected:
        # Moved to an open source, its hidden place would show to the reporter who moved it.
        require(actor, case, "evidence.move_protected")
    for field, value in changed.items():
        setattr(evidence, field, value)
    full_clean(evidence, exclude=["original"]).save()
    data = {k: (v.pk if isinstance(v, Source) else v) for k, v in changed.items() if k != "text"}
    if evidence.source is not None and evidence.source.protected:
        # The place of a protected source's evidence (coordinates and stated place) is for
        # editors and owners: the record, which every member reads, names the fields only.
        data = {k: v for k, v in data.items() if k not in ("latitude", "longitude", "place_name")}
    record = {"fields": sorted(changed), "values": data}
    if STATED_FIELDS & set(changed):
        flags = evidence_signals_refresh(evidence=evidence)
        if flags is not None:
            record["stated_flags"] = sorted(flags)
    if batch:
        record["batch"] = batch
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.EVIDENCE_UPDATED,
        target=evidence,
        data=record,
    )
    search_index_evidence(evidence)
    return evidence


@transaction.atomic
def evidence_stated_from_camera(*, actor, evidence: Evidence) -> Evidence:
    """State the item's date and place as its camera recorded them ("use camera date and
    GPS", reporters and above): its EXIF date and GPS position, where the file has them."""
    require(actor, evidence.case, "evidence.edit")
    return evidence_update(actor=actor, evidence=evidence, **camera_statement(evidence))


# What a bulk edit may set on every selected item.
BULK_FIELDS = (
    "source",
    "sensitive",
    "title_prefix",
    "observed_at",
    "place_name",
    "latitude",
    "longitude",
)
BULK_LIMIT = 1000


@transaction.atomic
def evidence_bulk_update(
    *, actor, case: Case, evidence_ids: list[int], **changes
) -> list[Evidence]:
    """Apply the same changes to many items of `case` at once (reporters and above): source,
    sensitive, a title prefix (put before each title that does not start with it yet), stated
    date and place. All or nothing; each item gets its own activity row (through
    `evidence_update`, which also runs the date and place checks again), marked with one batch
    id. Returns the items changed or not, in the order asked for."""
    require(actor, case, "evidence.edit")
    unknown = set(changes) - set(BULK_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    ids = list(dict.fromkeys(int(pk) for pk in evidence_ids))
    if not ids:
        raise ValidationError({"evidence": "Select at least one item."})
    if len(ids) > BULK_LIMIT:
        raise ValidationError({"evidence": f"At most {BULK_LIMIT} items at once."})
    items = Evidence.objects.select_for_update(of=("self",)).filter(
        case=case, pk__in=ids, deleted_at__isnull=True
    )
    found = {item.pk: item for item in items.select_related("source", "case")}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"evidence": f"Not in this case: {', '.join(map(str, missing))}."})
    if {"place_name", "latitude", "longitude"} & set(changes) and not can(
        actor, case, "identity.see"
    ):
        hidden = [pk for pk in ids if found[pk].source_id and found[pk].source.protected]
        if hidden:
            # Its place is the editors' and owners' (as on the edit page, which does not offer
            # it): a reporter's bulk edit does not overwrite what they cannot see.
            raise ValidationError(
                {
                    "place_name": "The place of a protected source’s evidence is for editors: "
                    f"leave the place empty or unselect {_plural_items(len(hidden))}."
                }
            )
    prefix = (changes.pop("title_prefix", "") or "").strip()
    batch = uuid.uuid4().hex[:12]
    done = []
    for pk in ids:
        item = found[pk]
        fields = dict(changes)
        if prefix and not item.title.startswith(prefix):
            fields["title"] = f"{prefix} {item.title or item.label}".strip()[:300]
        done.append(evidence_update(actor=actor, evidence=item, batch=batch, **fields))
    return done


def original_storage_name(sha256: str) -> str:
    """Where an original lives: derived from its hash, never from the client's file name."""
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def file_sha256(file) -> tuple[str, int]:
    """Hash a file in chunks, never holding it whole in memory. An upload hashed while it was
    received (config.uploads.HashingUploadHandler) is not read again."""
    streamed = getattr(file, "streamed_sha256", None)
    if streamed is not None:
        return streamed, file.size
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    for chunk in iter(lambda: file.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def original_store(file, *, sha256: str) -> str:
    """Store an original once under its hash name; an existing original is never overwritten."""
    name = original_storage_name(sha256)
    if not default_storage.exists(name):
        file.seek(0)
        saved = default_storage.save(name, file)
        if saved != name:  # another request stored the same bytes a moment before
            default_storage.delete(saved)
    return name


def original_open(evidence: Evidence):
    return default_storage.open(evidence.original.name, "rb")


# --- Files ----------------------------------------------------------------------------------

# How much of a file `file_kind` looks at to tell what it is.
SNIFF_BYTES = 64 * 1024


def _refuse(message: str, code: str) -> ValidationError:
    error = ValidationError({"file": ValidationError(message, code=code)})
    error.code = code  # also on the outer error, for callers that look there
    return error


def _file_size(file) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
        file.seek(0)
    return size


def upload_size_check(file) -> int:
    """Refuse an empty file or one over its limit before reading it: CASEFILE_MAX_UPLOAD_BYTES,
    or CASEFILE_MAX_VIDEO_BYTES for a file whose first bytes are a video's."""
    size = _file_size(file)
    if size == 0:
        raise _refuse("The file is empty (0 bytes).", "empty_file")
    file.seek(0)
    head = file.read(64)
    file.seek(0)
    limit = upload_limit(head)
    if size > limit:
        what = "video" if limit != settings.CASEFILE_MAX_UPLOAD_BYTES else "upload"
        raise _refuse(
            f"The file is {megabytes(size)}, above the {megabytes(limit)} {what} limit.",
            "file_too_large",
        )
    return size


def _sniff(file):
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    return file_kind(head, file)


@transaction.atomic
def evidence_ingest(
    *,
    actor,
    case: Case,
    file,
    kind: str | None = None,
    source: Source | None = None,
    title: str = "",
    description: str = "",
    observed_at: datetime | None = None,
    place_name: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    sensitive: bool = False,
) -> tuple[Evidence, bool]:
    """Take in an uploaded file as evidence (reporters and above); return it and whether it is
    new. Both doors, the web upload and the API, come in here, so that the same file gets the
    same answer whichever door it came through.

    Checks the size (not empty, not over CASEFILE_MAX_UPLOAD_BYTES, or CASEFILE_MAX_VIDEO_BYTES
    for a video), then tells the kind from the bytes, whatever the name or the declared type
    claim (`upload_type`): an allowed image under the pixel limit is a photo, a readable video
    under the duration limit a video, an allowed document a document, anything else is refused.
    `kind`, when the caller states one, must be what the bytes say: a photo that is a PDF is
    refused rather than quietly taken in as a document. Everything is checked before the
    original is stored (once, under its hash), so a refusal stores nothing. The same bytes
    uploaded again to the same case make no second original: the existing evidence is
    returned, created False, and the repeat is recorded. A new photo (a new video) is queued for
    processing once the transaction commits (a photo's text is read after it is ready); a PDF
    document's text is queued to be read (evidence.services.texts).
    """
    require(actor, case, "evidence.add")
    _check_source(case, source)
    upload_size_check(file)
    kind, content_type = upload_type(file, kind=kind)
    sha256, size = file_sha256(file)
    original_name = os.path.basename(getattr(file, "name", "") or "")[-255:]
    # A deleted item's tombstone does not stand in for the same bytes collected again.
    existing = Evidence.objects.filter(case=case, sha256=sha256, deleted_at__isnull=True).first()
    if existing is not None:
        return _uploaded_again(
            actor=actor, evidence=existing, source=source, original_name=original_name
        ), False
    evidence = _new_evidence(
        case=case,
        actor=actor,
        kind=kind,
        title=title,
        description=description,
        source=source,
        observed_at=observed_at,
        place_name=place_name,
        latitude=latitude,
        longitude=longitude,
        original_name=original_name,
        sha256=sha256,
        size=size,
        content_type=content_type,
        sensitive=sensitive,
    )
    # Every check first, so that a refusal leaves nothing in storage.
    evidence.full_clean(exclude=["original"])
    evidence.original.name = original_store(file, sha256=sha256)
    try:
        with transaction.atomic():  # a savepoint: the same bytes may be arriving right now
            evidence.save()
    except IntegrityError:
        existing = Evidence.objects.filter(
            case=case, sha256=sha256, deleted_at__isnull=True
        ).first()
        if existing is None:
            raise
        return _uploaded_again(
            actor=actor, evidence=existing, source=source, original_name=original_name
        ), False
    _provenance_add(evidence=evidence, actor=actor, source=source, original_name=original_name)
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.EVIDENCE_RECEIVED,
        target=evidence,
        data={
            "kind": kind,
            "source": source.pk if source else None,
            "original_name": evidence.original_name,
            "sha256": sha256,
            "size": size,
            "content_type": content_type,
        },
    )
    if kind == Evidence.Kind.PHOTO:
        Photo.objects.create(evidence=evidence)
        photo_queue(evidence.pk)
    elif kind == Evidence.Kind.VIDEO:
        Video.objects.create(evidence=evidence)
        video_queue(evidence.pk)
    else:
        # A PDF's text (its text layer, else OCR of its pages), by a job of its own.
        text_read_queue(evidence=evidence)
    # The original's SHA-256, timestamped by a worker after the commit (never by this request).
    evidence_timestamp_queue(evidence)
    search_index_evidence(evidence)
    return evidence, True


def _plural_items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _provenance_add(*, evidence: Evidence, actor, source: Source | None, original_name: str):
    return Provenance.objects.create(
        evidence=evidence,
        source=source,
        received_by=actor,
        received_at=timezone.now(),
        original_name=original_name,
    )


def _uploaded_again(
    *, actor, evidence: Evidence, source: Source | None, original_name: str
) -> Evidence:
    """The same bytes again: another provenance of the item (who, when, file name, source),
    never dropped. The item keeps its own source; corroboration counts both sources, and counts
    the item once (`evidence.corroboration`)."""
    provenance = _provenance_add(
        evidence=evidence, actor=actor, source=source, original_name=original_name
    )
    activity_record(
        case=evidence.case,
        actor=actor,
        verb=Verb.EVIDENCE_UPLOADED_AGAIN,
        target=evidence,
        data={
            "original_name": original_name,
            "sha256": evidence.sha256,
            "source": source.pk if source else None,
            "provenance": provenance.pk,
        },
    )
    return evidence


IMAGE_TYPES_LABEL = "JPEG, PNG, WebP, GIF, TIFF, HEIC"
VIDEO_TYPES_LABEL = "MP4, MOV, M4V, WebM, MKV, 3GP, AVI"
DOCUMENT_TYPES_LABEL = "PDF, Word, Excel, PowerPoint, OpenDocument, RTF or plain text"


def upload_type(file, *, kind: str | None = None) -> tuple[str, str]:
    """What an upload is, told from its bytes whatever its name or declared type claims:
    (kind, MIME type), the kind "photo", "video" or "document". `kind`, when given, is what
    the uploader says it is; bytes that say otherwise are refused. Otherwise a ValidationError
    a reporter can read, on `file`: code "unsupported_media_type" for the wrong kind of file,
    "image_too_large" for too many pixels, "invalid_image" for a damaged image; for a video
    "invalid_video" (damaged, no video stream, too many streams), "video_too_large" (frames
    of too many pixels) or "video_too_long" (over CASEFILE_MAX_VIDEO_SECONDS). Reads only the
    head of the file (an image's header, a video's container header)."""
    if kind not in (None, Evidence.Kind.PHOTO, Evidence.Kind.VIDEO, Evidence.Kind.DOCUMENT):
        raise ValueError(f"Not a kind of file: {kind!r}.")
    found = _sniff(file)
    told = {
        "image": Evidence.Kind.PHOTO,
        "video": Evidence.Kind.VIDEO,
        "document": Evidence.Kind.DOCUMENT,
    }.get(found.category)
    hints = {
        Evidence.Kind.DOCUMENT: " Add it as a document instead.",
        Evidence.Kind.VIDEO: " Add it as a video instead.",
        Evidence.Kind.PHOTO: " Add it as a photo instead.",
    }
    if kind == Evidence.Kind.PHOTO and told != Evidence.Kind.PHOTO:
        raise _refuse(
            f"Not an image: the file is {found.label}.{hints.get(told, '')} Accepted: "
            f"{IMAGE_TYPES_LABEL}.",
            "unsupported_media_type",
        )
    if kind == Evidence.Kind.VIDEO and told != Evidence.Kind.VIDEO:
        raise _refuse(
            f"Not a video: the file is {found.label}.{hints.get(told, '')} Accepted: "
            f"{VIDEO_TYPES_LABEL}.",
            "unsupported_media_type",
        )
    if kind == Evidence.Kind.DOCUMENT and told != Evidence.Kind.DOCUMENT:
        if told in (Evidence.Kind.PHOTO, Evidence.Kind.VIDEO):
            message = f"The file is {found.label}: add it as a {told}, so that it is processed."
        else:
            message = (
                f"Not a document this app accepts: the file is {found.label}. Accepted: "
                f"{DOCUMENT_TYPES_LABEL}."
            )
        raise _refuse(message, "unsupported_media_type")
    if told is None:
        raise _refuse(
            f"Not an image, a video or a document this app accepts: the file is {found.label}. "
            f"Accepted: photos ({IMAGE_TYPES_LABEL}), videos ({VIDEO_TYPES_LABEL}) and "
            f"documents ({DOCUMENT_TYPES_LABEL}).",
            "unsupported_media_type",
        )
    if told == Evidence.Kind.PHOTO:
        return told, _image_type(file, found)
    if told == Evidence.Kind.VIDEO:
        _check_video(file)
    return told, found.content_type


def _check_video(file) -> None:
    """Read a video's container header (no frame is decoded): refused when it cannot be read,
    declares too many streams or pixels per frame, or lasts longer than the limit."""
    try:
        video_probe(
            file,
            max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS,
            max_seconds=settings.CASEFILE_MAX_VIDEO_SECONDS,
        )
    except VideoRejected as rejected:
        reason = rejected.reason
        code = (
            "video_too_long"
            if "limit for videos" in reason
            else "video_too_large"
            if "megapixels" in reason
            else "invalid_video"
        )
        raise _refuse(reason, code) from None
    finally:
        file.seek(0)


def _image_type(file, found) -> str:
    """The MIME type of an image the sniffer recognised, once Pillow has read its header:
    refused when it declares too many pixels or cannot be read."""
    try:
        image = open_image(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS)
    except PhotoRejected as rejected:
        code = "image_too_large" if "limit" in rejected.reason else "invalid_image"
        raise _refuse(rejected.reason, code) from None
    finally:
        file.seek(0)
    content_type = found.content_type
    if image.format != found.image_format:
        content_type = IMAGE_TYPES[image.format]
    image.close()
    file.seek(0)
    return content_type


def photo_ingest(*, actor, case: Case, file, **details) -> tuple[Evidence, bool]:
    """`evidence_ingest` of a file that must be a photo: an allowed image under the pixel
    limit, processed once the transaction commits. `details` are `evidence_ingest`'s: source,
    title, description, observed_at, place_name, latitude, longitude, sensitive."""
    return evidence_ingest(actor=actor, case=case, file=file, kind=Evidence.Kind.PHOTO, **details)


def video_ingest(*, actor, case: Case, file, **details) -> tuple[Evidence, bool]:
    """`evidence_ingest` of a file that must be a video (MP4, MOV, M4V, WebM, MKV, 3GP, AVI,
    told from the bytes), under CASEFILE_MAX_VIDEO_BYTES and CASEFILE_MAX_VIDEO_SECONDS,
    processed on the `video` queue once the transaction commits."""
    return evidence_ingest(actor=actor, case=case, file=file, kind=Evidence.Kind.VIDEO, **details)


def document_ingest(*, actor, case: Case, file, **details) -> tuple[Evidence, bool]:
    """`evidence_ingest` of a file that must be a document: PDF, office documents or plain
    text, told from the bytes, under the same size limit, storage and duplicate rule as
    photos."""
    return evidence_ingest(
        actor=actor, case=case, file=file, kind=Evidence.Kind.DOCUMENT, **details
    )
