"""Bad input never crashes anything: it ends in a clear refusal at upload (nothing stored), or in
a `failed` photo with a reason a reporter understands, the original (when stored) intact.

Two doors are tested for each file: `photo_ingest` (what a reporter's upload meets), and the
pipeline itself on a file already in storage (a file let in by an older check, or damaged in
storage), which must fail with its reason rather than raise."""

import hashlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evidence.models import Evidence, Photo
from evidence.services.evidence import original_storage_name, photo_ingest
from evidence.services.photos import photo_process
from tests.images import (
    jpeg_bytes,
    pdf_bytes,
    png_declaring,
    random_bytes,
    svg_bytes,
    truncated,
    upload,
)

TEXT = b"Meeting notes, 28 May: the goods were trucked to Longkou on 17 May.\n"

# name, bytes, file name, expected refusal code, words the message must contain
REFUSED_AT_UPLOAD = [
    ("text named .jpg", lambda: TEXT, "photo.jpg", "unsupported_media_type", "plain text"),
    ("pdf", pdf_bytes, "scan.pdf", "unsupported_media_type", "PDF document"),
    ("svg", svg_bytes, "map.svg", "unsupported_media_type", "SVG"),
    ("zero bytes", lambda: b"", "empty.jpg", "empty_file", "empty"),
    (
        "png declaring 100000x100000",
        lambda: png_declaring(100_000, 100_000),
        "bomb.png",
        "image_too_large",
        "100000×100000 pixels, above the 60-megapixel limit",
    ),
    ("random bytes", lambda: random_bytes(8192), "noise.jpg", "unsupported_media_type", "unknown"),
]


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("data", "name", "code", "words"),
    [case[1:] for case in REFUSED_AT_UPLOAD],
    ids=[case[0] for case in REFUSED_AT_UPLOAD],
)
def test_refused_at_upload_with_a_clear_message_and_nothing_stored(
    personas, settings, data, name, code, words
):
    with pytest.raises(ValidationError) as exc:
        photo_ingest(actor=personas.reporter, case=personas.case, file=upload(data(), name))
    message = exc.value.message_dict["file"][0]
    assert words in message
    assert exc.value.error_dict["file"][0].code == code
    assert stored_files(settings) == []
    assert not Evidence.objects.exists()


def test_the_pixel_limit_is_a_setting(personas, settings):
    settings.CASEFILE_MAX_IMAGE_PIXELS = 20_000_000_000
    with pytest.raises(ValidationError):
        # Within the limit now, but still not decodable: refused rather than crashing.
        photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(png_declaring(100_000, 100_000)),
        )


def ingest_and_process(personas, data, django_capture_on_commit_callbacks) -> Photo:
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(data, "upload.jpg")
        )
    return Photo.objects.select_related("evidence").get(pk=evidence.pk)


def original_bytes(photo: Photo) -> bytes:
    with default_storage.open(photo.evidence.original.name) as f:
        return f.read()


def test_truncated_jpeg_is_accepted_then_fails_with_its_reason_original_intact(
    personas, django_capture_on_commit_callbacks
):
    data = truncated(jpeg_bytes(size=(1200, 900)), 0.6)
    photo = ingest_and_process(personas, data, django_capture_on_commit_callbacks)
    assert photo.status == Photo.Status.FAILED
    assert "truncated" in photo.failure_reason
    assert not photo.thumbnail and not photo.preview
    assert original_bytes(photo) == data
    assert photo.evidence.sha256 == hashlib.sha256(data).hexdigest()


def test_jpeg_with_garbage_appended_is_processed_and_the_extra_bytes_noted(
    personas, django_capture_on_commit_callbacks
):
    # Phones append data after the end of a JPEG (motion photos carry a video there), so the
    # picture is processed; how many bytes follow it is kept on the record for the reporter.
    data = jpeg_bytes(make="Google", model="Pixel 8") + random_bytes(5000, seed=3)
    photo = ingest_and_process(personas, data, django_capture_on_commit_callbacks)
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert photo.exif["TrailingBytes"] == 5000
    flag = photo.flags.get(code="trailing_data")
    assert "5,000 bytes after the end of the image" in flag.message
    assert original_bytes(photo) == data


def test_a_plain_jpeg_has_no_trailing_bytes_even_with_an_exif_thumbnail_inside(
    personas, django_capture_on_commit_callbacks
):
    photo = ingest_and_process(
        personas, jpeg_bytes(make="Canon", progressive=True), django_capture_on_commit_callbacks
    )
    assert "TrailingBytes" not in photo.exif
    assert not photo.flags.filter(code="trailing_data").exists()


# --- The pipeline on files already in storage ------------------------------------------------

STORED_BAD_FILES = [
    ("text named .jpg", lambda: TEXT, "Not an image: the file is plain text."),
    ("pdf", pdf_bytes, "Not an image: the file is a PDF document."),
    ("svg", svg_bytes, "Not an image: the file is an SVG drawing"),
    ("random bytes", lambda: random_bytes(8192), "Not an image: the file is data of an unknown"),
    (
        "png declaring 100000x100000",
        lambda: png_declaring(100_000, 100_000),
        "The image is 100000×100000 pixels, above the 60-megapixel limit.",
    ),
    (
        "truncated jpeg",
        lambda: truncated(jpeg_bytes(size=(1200, 900)), 0.5),
        "The file is truncated",
    ),
    (
        "jpeg header only",
        lambda: jpeg_bytes()[:200],
        "The file is truncated",
    ),
]


def stored_photo(personas, data: bytes) -> Photo:
    """A photo whose original is already in storage, as if it had passed an older check."""
    sha256 = hashlib.sha256(data).hexdigest()
    name = original_storage_name(sha256)
    default_storage.save(name, ContentFile(data))
    evidence = Evidence.objects.create(
        case=personas.case,
        kind=Evidence.Kind.PHOTO,
        collected_by=personas.reporter,
        original=name,
        sha256=sha256,
        size=len(data),
        content_type="image/jpeg",
    )
    return Photo.objects.create(evidence=evidence)


@pytest.mark.parametrize(
    ("data", "reason"),
    [case[1:] for case in STORED_BAD_FILES],
    ids=[case[0] for case in STORED_BAD_FILES],
)
def test_pipeline_fails_a_bad_file_with_its_reason_and_keeps_the_original(personas, data, reason):
    payload = data()
    photo = stored_photo(personas, payload)
    assert photo_process(photo_id=photo.pk).status == Photo.Status.FAILED
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.failure_reason.startswith(reason)
    assert not photo.thumbnail and not photo.preview and photo.phash is None
    assert original_bytes(photo) == payload
    # A failure is final: running the task again changes nothing.
    assert photo_process(photo_id=photo.pk).status == Photo.Status.FAILED


def test_an_original_altered_in_storage_fails_as_a_hash_mismatch(personas):
    data = jpeg_bytes()
    photo = stored_photo(personas, data)
    path = Path(default_storage.path(photo.evidence.original.name))
    path.write_bytes(data[:-10] + b"0123456789")
    photo_process(photo_id=photo.pk)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert "no longer matches the SHA-256 taken at upload" in photo.failure_reason


def test_an_original_missing_from_storage_fails_with_its_reason(personas):
    photo = stored_photo(personas, jpeg_bytes())
    default_storage.delete(photo.evidence.original.name)
    photo_process(photo_id=photo.pk)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert "missing from storage" in photo.failure_reason


def test_a_failure_is_recorded_in_the_activity(personas):
    from cases.models import Activity

    photo = stored_photo(personas, pdf_bytes())
    photo_process(photo_id=photo.pk)
    row = Activity.objects.get(verb="photo.failed")
    assert row.target_id == photo.pk
    assert row.data["reason"] == "Not an image: the file is a PDF document."
