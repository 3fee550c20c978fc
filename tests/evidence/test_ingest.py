"""Photo and document ingest: who may upload, what is refused (with nothing stored), where the
original goes, what is recorded, the duplicate rule, and when processing is queued."""

import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import Http404

from cases.models import Activity
from evidence.models import Evidence, Photo
from evidence.services.evidence import document_ingest, original_storage_name, photo_ingest
from evidence.services.photos import photo_reprocess
from tests.api.conftest import token_client
from tests.factories import CaseFactory, MembershipFactory, SourceFactory
from tests.images import (
    heic_bytes,
    image_bytes,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
    png_declaring,
    random_bytes,
    svg_bytes,
    truncated,
    upload,
)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def error_code(exc: ValidationError) -> str:
    return exc.value.error_dict["file"][0].code


# --- Accepted -------------------------------------------------------------------------------


def test_reporter_uploads_a_photo_stored_once_under_its_hash(personas, settings):
    data = jpeg_bytes(make="Canon")
    source = SourceFactory(case=personas.case)
    taken = datetime(2026, 5, 25, 2, 40, tzinfo=UTC)
    evidence, created = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(data, "IMG_0525.JPG", "application/octet-stream"),
        source=source,
        title="Train at Dandong station, 25 May",
        description="Every car empty.",
        observed_at=taken,
        place_name="Dandong station",
        latitude=40.1186,
        longitude=124.394,
    )
    sha256 = hashlib.sha256(data).hexdigest()
    assert created
    assert evidence.kind == Evidence.Kind.PHOTO
    assert (evidence.sha256, evidence.size, evidence.content_type) == (
        sha256,
        len(data),
        "image/jpeg",
    )
    assert evidence.original_name == "IMG_0525.JPG"
    assert evidence.original.name == original_storage_name(sha256)
    assert "IMG_0525" not in evidence.original.name  # never the client's file name
    assert (evidence.collected_by, evidence.source) == (personas.reporter, source)
    assert (evidence.observed_at, evidence.place_name) == (taken, "Dandong station")
    assert Path(settings.MEDIA_ROOT, evidence.original.name).read_bytes() == data
    assert evidence.photo.status == Photo.Status.PENDING
    row = Activity.objects.get(verb="evidence.received")
    assert row.actor == personas.reporter
    assert row.data["sha256"] == sha256
    assert row.data["original_name"] == "IMG_0525.JPG"
    assert row.data["source"] == source.pk


def test_processing_is_queued_only_after_the_transaction_commits(
    personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        evidence, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes())
        )
    assert len(callbacks) == 1
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.PENDING
    callbacks[0]()  # the commit: the task runs (in-process here)
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.READY


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (lambda: png_bytes(), "image/png"),
        (lambda: image_bytes(format="WEBP"), "image/webp"),
        (lambda: image_bytes(format="GIF"), "image/gif"),
        (lambda: image_bytes(format="TIFF"), "image/tiff"),
        (lambda: heic_bytes(), "image/heif"),
    ],
    ids=["png", "webp", "gif", "tiff", "heic"],
)
def test_every_allowed_image_type_is_accepted_and_processed(
    personas, django_capture_on_commit_callbacks, data, content_type
):
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(data(), "upload.bin")
        )
    assert evidence.content_type == content_type
    photo = Photo.objects.get(pk=evidence.pk)
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert photo.thumbnail and photo.preview


def test_type_comes_from_the_bytes_not_the_name_or_declared_type(personas):
    evidence, _ = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(png_bytes(), "holiday.jpg", "image/jpeg"),
    )
    assert evidence.content_type == "image/png"


def test_a_large_upload_streamed_to_a_temporary_file_is_hashed_in_chunks(personas, settings):
    data = jpeg_bytes(size=(2400, 1600), quality=95)
    file = TemporaryUploadedFile("big.jpg", "image/jpeg", len(data), None)
    file.write(data)
    file.seek(0)
    evidence, _ = photo_ingest(actor=personas.reporter, case=personas.case, file=file)
    assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(settings.MEDIA_ROOT, evidence.original.name).read_bytes() == data


@pytest.mark.parametrize("role", ["reporter", "editor", "owner"])
def test_reporters_and_above_may_upload(personas, role):
    _, created = photo_ingest(
        actor=personas.by_role(role), case=personas.case, file=upload(jpeg_bytes())
    )
    assert created


# --- Duplicates -----------------------------------------------------------------------------


def test_same_bytes_again_return_the_existing_evidence_and_are_recorded(personas, settings):
    data = jpeg_bytes(make="Canon")
    first, created = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(data, "a.jpg")
    )
    files = stored_files(settings)
    again, created_again = photo_ingest(
        actor=personas.editor, case=personas.case, file=upload(data, "copy of a.jpg")
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Evidence.objects.filter(case=personas.case).count() == 1
    assert Photo.objects.count() == 1
    assert stored_files(settings) == files
    row = Activity.objects.get(verb="evidence.uploaded_again")
    assert (row.actor, row.target_id) == (personas.editor, first.pk)
    assert row.data["original_name"] == "copy of a.jpg"


def test_same_bytes_in_another_case_are_new_evidence_sharing_one_original(personas, settings):
    data = jpeg_bytes()
    other = CaseFactory(created_by=personas.reporter)
    MembershipFactory(case=other, user=personas.reporter, role="reporter")
    a, _ = photo_ingest(actor=personas.reporter, case=personas.case, file=upload(data))
    b, created = photo_ingest(actor=personas.reporter, case=other, file=upload(data))
    assert created and a.pk != b.pk
    assert a.original.name == b.original.name
    assert len([p for p in stored_files(settings) if "originals" in p.parts]) == 1


# --- Refused, with nothing stored -----------------------------------------------------------


def test_viewer_cannot_upload_and_nothing_is_stored(personas, settings):
    with pytest.raises(PermissionDenied):
        photo_ingest(actor=personas.viewer, case=personas.case, file=upload(jpeg_bytes()))
    assert stored_files(settings) == []
    assert not Evidence.objects.exists()


def test_outsider_cannot_upload_and_nothing_is_stored(personas, settings):
    with pytest.raises(Http404):
        photo_ingest(actor=personas.outsider, case=personas.case, file=upload(jpeg_bytes()))
    assert stored_files(settings) == []


def test_a_file_over_the_size_limit_is_refused_as_too_large(personas, settings):
    data = jpeg_bytes()
    settings.CASEFILE_MAX_UPLOAD_BYTES = len(data) - 1
    with pytest.raises(ValidationError) as exc:
        photo_ingest(actor=personas.reporter, case=personas.case, file=upload(data))
    assert error_code(exc) == "file_too_large"
    assert "upload limit" in exc.value.message_dict["file"][0]
    assert stored_files(settings) == []
    assert not Evidence.objects.exists()


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(personas, settings):
    settings.CASEFILE_MAX_IMAGE_PIXELS = 200_000
    with pytest.raises(ValidationError) as exc:
        photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(size=(600, 400))),
        )
    assert exc.value.message_dict["file"] == [
        "The image is 600×400 pixels, above the 0.2-megapixel limit."
    ]
    assert stored_files(settings) == []


def test_a_source_of_another_case_is_refused_and_nothing_is_stored(personas, settings):
    foreign = SourceFactory()
    with pytest.raises(ValidationError) as exc:
        photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes()),
            source=foreign,
        )
    assert "source" in exc.value.message_dict
    assert stored_files(settings) == []


def test_invalid_details_are_refused_before_anything_is_stored(personas, settings):
    with pytest.raises(ValidationError):
        photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes()),
            latitude=95.0,
            longitude=10.0,
        )
    assert stored_files(settings) == []


# --- Documents ------------------------------------------------------------------------------


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (pdf_bytes, "application/pdf"),
        (docx_bytes, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (lambda: b"Notes from the call, 28 May.\nGoods trucked to Longkou.", "text/plain"),
    ],
    ids=["pdf", "docx", "text"],
)
def test_documents_are_told_from_their_bytes_and_stored(personas, settings, data, content_type):
    payload = data()
    evidence, created = document_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(payload, "shipping-manifest.bin", "application/octet-stream"),
        title="Shipping manifest",
    )
    assert created
    assert (evidence.kind, evidence.content_type) == (Evidence.Kind.DOCUMENT, content_type)
    assert Path(settings.MEDIA_ROOT, evidence.original.name).read_bytes() == payload
    assert not Photo.objects.exists()


def test_an_image_is_refused_as_a_document(personas, settings):
    with pytest.raises(ValidationError) as exc:
        document_ingest(actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes()))
    assert error_code(exc) == "unsupported_media_type"
    assert "add it as a photo" in exc.value.message_dict["file"][0]
    assert stored_files(settings) == []


def test_a_zip_archive_is_not_a_document(personas):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secrets.txt", "x")
    with pytest.raises(ValidationError) as exc:
        document_ingest(
            actor=personas.reporter, case=personas.case, file=upload(buffer.getvalue(), "a.docx")
        )
    assert error_code(exc) == "unsupported_media_type"
    assert "ZIP archive" in exc.value.message_dict["file"][0]


def test_viewer_cannot_add_a_document(personas):
    with pytest.raises(PermissionDenied):
        document_ingest(actor=personas.viewer, case=personas.case, file=upload(pdf_bytes()))


# --- Reprocessing ---------------------------------------------------------------------------


def failed_photo(personas) -> Evidence:
    evidence, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes())
    )
    Photo.objects.filter(pk=evidence.pk).update(
        status=Photo.Status.FAILED, failure_reason="The file is truncated."
    )
    return evidence


@pytest.mark.parametrize("role", ["reporter", "editor"])
def test_reporter_or_editor_asks_for_a_failed_photo_to_be_processed_again(
    personas, django_capture_on_commit_callbacks, role
):
    evidence = failed_photo(personas)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        photo_reprocess(actor=personas.by_role(role), evidence=evidence)
    photo = Photo.objects.get(pk=evidence.pk)
    assert (photo.status, photo.failure_reason, photo.attempts) == ("pending", "", 0)
    assert len(callbacks) == 1
    row = Activity.objects.get(verb="photo.reprocess_requested")
    assert row.actor == personas.by_role(role)
    assert row.data["failure_reason"] == "The file is truncated."


def test_viewer_cannot_ask_for_reprocessing(personas):
    evidence = failed_photo(personas)
    with pytest.raises(PermissionDenied):
        photo_reprocess(actor=personas.viewer, evidence=evidence)
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.FAILED


def test_outsider_cannot_ask_for_reprocessing(personas):
    evidence = failed_photo(personas)
    with pytest.raises(Http404):
        photo_reprocess(actor=personas.outsider, evidence=evidence)


def test_a_photo_still_being_processed_cannot_be_queued_again(personas):
    evidence, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes())
    )
    with pytest.raises(ValidationError) as exc:
        photo_reprocess(actor=personas.reporter, evidence=evidence)
    assert "only a photo whose processing failed" in exc.value.messages[0]


def test_a_stuck_photo_can_be_queued_again(personas, settings):
    from datetime import timedelta

    evidence, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes())
    )
    long_ago = datetime.now(UTC) - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS + 1)
    Photo.objects.filter(pk=evidence.pk).update(
        status=Photo.Status.PROCESSING, status_changed_at=long_ago
    )
    photo_reprocess(actor=personas.reporter, evidence=evidence)
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.PENDING


def test_a_document_cannot_be_reprocessed(personas):
    evidence, _ = document_ingest(
        actor=personas.reporter, case=personas.case, file=upload(pdf_bytes())
    )
    with pytest.raises(ValidationError):
        photo_reprocess(actor=personas.reporter, evidence=evidence)


# --- One answer whichever door --------------------------------------------------------------

NOTES = b"Notes from the call, 28 May.\nGoods trucked to Longkou.\n"
ACCEPTED_IMAGES = "JPEG, PNG, WebP, GIF, TIFF, HEIC"
ACCEPTED_DOCUMENTS = "PDF, Word, Excel, PowerPoint, OpenDocument, RTF or plain text"
ACCEPTED_VIDEOS = "MP4, MOV, M4V, WebM, MKV, 3GP, AVI"


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secrets.txt", "x")
    return buffer.getvalue()


def neither(label: str) -> str:
    return (
        f"Not an image, a video or a document this app accepts: the file is {label}. Accepted: "
        f"photos ({ACCEPTED_IMAGES}), videos ({ACCEPTED_VIDEOS}) and documents "
        f"({ACCEPTED_DOCUMENTS})."
    )


# name, bytes, file name, what both doors answer: ("photo" | "document", content type) for an
# accepted file, (HTTP status, the whole refusal) for a refused one.
THROUGH_BOTH_DOORS = [
    ("jpeg", lambda: jpeg_bytes(seed=3), "train.jpg", ("photo", "image/jpeg")),
    ("png", lambda: png_bytes(seed=3), "map.png", ("photo", "image/png")),
    ("pdf", pdf_bytes, "manifest.pdf", ("document", "application/pdf")),
    ("text", lambda: NOTES, "notes.txt", ("document", "text/plain")),
    ("jpeg named .pdf", lambda: jpeg_bytes(seed=4), "manifest.pdf", ("photo", "image/jpeg")),
    ("pdf named .jpg", pdf_bytes, "train.jpg", ("document", "application/pdf")),
    # Its header is whole: taken in as a photo, whose processing then fails with its reason
    # (tests/evidence/test_bad_input.py follows it there).
    (
        "truncated jpeg",
        lambda: truncated(jpeg_bytes(size=(1200, 900)), 0.6),
        "cut.jpg",
        ("photo", "image/jpeg"),
    ),
    (
        "jpeg cut inside its header",
        lambda: jpeg_bytes()[:300],
        "cut.jpg",
        (400, "The file is truncated: the image data ends early (an interrupted upload or copy?)."),
    ),
    (
        "decompression bomb",
        lambda: png_declaring(100_000, 100_000),
        "bomb.png",
        (413, "The image is 100000×100000 pixels, above the 60-megapixel limit."),
    ),
    ("empty", lambda: b"", "empty.jpg", (400, "The file is empty (0 bytes).")),
    (
        "svg",
        svg_bytes,
        "drawing.jpg",
        (415, neither("an SVG drawing (not accepted: SVG can carry scripts; export it as PNG)")),
    ),
    ("zip", zip_bytes, "report.docx", (415, neither("a ZIP archive"))),
    ("random", lambda: random_bytes(8192), "noise.bin", (415, neither("data of an unknown type"))),
]


def through_the_web(personas, client, data: bytes, name: str) -> tuple:
    client.force_login(personas.reporter)
    response = client.post(
        f"/cases/{personas.case.pk}/evidence/upload/",
        {"file": upload(data, name, "application/octet-stream")},
    )
    body = response.json()
    if response.status_code == 201:
        evidence = Evidence.objects.get(pk=body["id"])
        return evidence.kind, evidence.content_type
    return response.status_code, body["error"]


def through_the_api(reporter, case, data: bytes, name: str, **fields) -> tuple:
    response = token_client(reporter).post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": upload(data, name, "application/octet-stream"), **fields},
        format="multipart",
    )
    body = response.json()
    if response.status_code == 201:
        return body["kind"], body["content_type"]
    assert list(body) == ["file"], body
    return response.status_code, " ".join(body["file"])


@pytest.fixture
def api_case(personas):
    """A second case of the same reporter, for the API's upload: the same bytes in the first
    case would be an upload again."""
    other = CaseFactory(created_by=personas.owner)
    MembershipFactory(case=other, user=personas.reporter, role="reporter")
    return other


@pytest.mark.parametrize(
    ("data", "name", "answer"),
    [row[1:] for row in THROUGH_BOTH_DOORS],
    ids=[row[0] for row in THROUGH_BOTH_DOORS],
)
def test_the_web_and_the_api_give_one_file_the_same_answer(
    personas, api_case, client, settings, data, name, answer
):
    payload = data()
    web = through_the_web(personas, client, payload, name)
    api = through_the_api(personas.reporter, api_case, payload, name)
    assert web == api == answer
    if answer[0] in Evidence.FILE_KINDS:
        # A photo, and only a photo, goes on to be processed.
        photos = Photo.objects.filter(evidence__sha256=hashlib.sha256(payload).hexdigest())
        assert photos.count() == (2 if answer[0] == Evidence.Kind.PHOTO else 0)
    else:
        assert not Evidence.objects.exists()
        assert stored_files(settings) == []


ACCEPTED = [row for row in THROUGH_BOTH_DOORS if row[3][0] in Evidence.FILE_KINDS]
# Refusals that come before the kind matters: stating "photo" changes nothing.
REFUSED_WHATEVER_THE_KIND = [row for row in THROUGH_BOTH_DOORS if row[3][0] in (400, 413)]


@pytest.mark.parametrize(
    ("data", "name", "answer", "kind"),
    [(*row[1:], row[3][0]) for row in ACCEPTED]
    + [(*row[1:], "photo") for row in REFUSED_WHATEVER_THE_KIND],
    ids=[row[0] for row in ACCEPTED + REFUSED_WHATEVER_THE_KIND],
)
def test_an_api_client_stating_the_kind_the_bytes_say_gets_the_same_answer(
    personas, api_case, data, name, answer, kind
):
    assert through_the_api(personas.reporter, api_case, data(), name, kind=kind) == answer


@pytest.mark.parametrize(
    ("kind", "data", "refusal"),
    [
        (
            "photo",
            pdf_bytes,
            "Not an image: the file is a PDF document. Add it as a document instead. "
            f"Accepted: {ACCEPTED_IMAGES}.",
        ),
        (
            "photo",
            lambda: NOTES,
            "Not an image: the file is plain text. Add it as a document instead. "
            f"Accepted: {ACCEPTED_IMAGES}.",
        ),
        (
            "document",
            jpeg_bytes,
            "The file is a JPEG image: add it as a photo, so that it is processed.",
        ),
        (
            "photo",
            zip_bytes,
            f"Not an image: the file is a ZIP archive. Accepted: {ACCEPTED_IMAGES}.",
        ),
        (
            "document",
            zip_bytes,
            "Not a document this app accepts: the file is a ZIP archive. Accepted: "
            f"{ACCEPTED_DOCUMENTS}.",
        ),
    ],
    ids=["pdf as photo", "text as photo", "jpeg as document", "zip as photo", "zip as document"],
)
def test_a_stated_kind_the_bytes_contradict_is_refused_not_changed(
    personas, api_case, settings, kind, data, refusal
):
    answer = through_the_api(personas.reporter, api_case, data(), "upload.bin", kind=kind)
    assert answer == (415, refusal)
    assert not Evidence.objects.exists()
    assert stored_files(settings) == []


def test_a_file_over_the_size_limit_gets_the_same_refusal_at_both_doors(
    personas, api_case, client, settings
):
    data = jpeg_bytes(seed=5)
    settings.CASEFILE_MAX_UPLOAD_BYTES = 1024 * 1024 // 2
    data += b"\0" * (settings.CASEFILE_MAX_UPLOAD_BYTES - len(data) + 1)
    # Stopped while it streamed: the size it would have had is never known.
    refusal = (413, "The file is above the 0.5 MB upload limit: nothing was stored.")
    assert through_the_web(personas, client, data, "big.jpg") == refusal
    assert through_the_api(personas.reporter, api_case, data, "big.jpg") == refusal
    assert not Evidence.objects.exists()


def test_an_api_upload_without_a_kind_needs_a_file(personas):
    response = token_client(personas.reporter).post(
        f"/api/v1/cases/{personas.case.pk}/evidence/", {"title": "No file"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json() == {"kind": ["This field is required."]}
