"""Text in pictures (issue #15): photos read with Tesseract after they are ready, PDFs by their
text layer or by OCR of their rendered pages, on the page, in the API, in search and in the
export; skipped with a visible note where Tesseract is absent.

Every picture is made here with known text (tests/texts.py, fonts from fonts-noto-cjk); the
OCR is real (Debian's tesseract-ocr with eng, kor, chi_sim). Without them these tests are
skipped locally and fail under CI=true (tests/needs.py)."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Activity
from config.tesseract import tesseract_status
from evidence.imaging.ocr import read_text
from evidence.models import Evidence, Photo, TextReading
from evidence.services.evidence import document_ingest, photo_ingest
from evidence.services.recovery import jobs_recover
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, random_bytes, upload
from tests.needs import unavailable
from tests.texts import jpeg_of, scanned_pdf, sign_picture, text_layer_pdf

LANGUAGES = "kor+chi_sim+eng"


@pytest.fixture
def ocr(settings):
    """Reading text on, in the languages of the story, with Tesseract and its languages."""
    settings.CASEFILE_OCR = True
    settings.CASEFILE_OCR_LANGUAGES = LANGUAGES
    status = tesseract_status()
    if not status.available:
        unavailable(status.problem)
    missing = {"eng", "kor", "chi_sim"} - set(status.languages)
    if missing:
        unavailable(f"Tesseract languages missing: {sorted(missing)} (make tesseract)")
    return settings


@pytest.fixture
def ingest(django_capture_on_commit_callbacks, personas):
    """Upload as the reporter; the photo's processing and then its text's run in-process as
    their transactions commit."""

    def run(data: bytes, name: str, *, document: bool = False, **details) -> Evidence:
        door = document_ingest if document else photo_ingest
        content_type = "application/pdf" if document else "image/jpeg"
        with django_capture_on_commit_callbacks(execute=True):
            evidence, _ = door(
                actor=personas.reporter,
                case=personas.case,
                file=upload(data, name, content_type),
                **details,
            )
        return Evidence.objects.select_related("text_reading").get(pk=evidence.pk)

    return run


def squeezed(text: str) -> str:
    """Tesseract may set a space between CJK characters (丹东 火车 站)."""
    return "".join(text.split())


def test_a_photo_of_korean_chinese_and_english_signs_is_read_back_and_found(
    ocr, ingest, personas, client
):
    evidence = ingest(jpeg_of(sign_picture()), "dandong-sign.jpg", title="Station sign")
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.READY
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.DONE, reading.note
    assert reading.method == TextReading.Method.OCR
    assert reading.languages == LANGUAGES
    words = {w["text"] for w in reading.words}
    assert {"서포", "단동", "Dandong", "Station"} <= words, reading.ocr_text
    assert "丹东" in squeezed(reading.ocr_text) and "火车站" in squeezed(reading.ocr_text)
    assert reading.ocr_language in {"kor", "chi_sim", "eng"}
    by_text = {w["text"]: w for w in reading.words}
    assert by_text["서포"]["language"] == "kor"
    # Boxes as fractions of the picture, where the sign was drawn (the middle of the photo).
    for word in reading.words:
        left, top, right, bottom = word["box"]
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
        assert 0.1 < left < 0.9 and 0.15 < top < 0.75
    assert by_text["서포"]["box"][1] < by_text["Dandong"]["box"][1]  # Korean above English
    assert reading.confidence > 70
    assert reading.software.startswith("tesseract 5") and "pytesseract" in reading.software

    # The API, to a viewer: the text of a photo is its content, as the preview is.
    api = token_client(personas.viewer)
    body = api.get(reverse("api:evidence-detail", kwargs={"pk": evidence.pk})).json()
    assert body["ocr_status"] == "done"
    assert "단동" in body["ocr_text"] and body["ocr_language"] == reading.ocr_language
    assert {w["text"] for w in body["ocr_words"]} == words
    listed = api.get(
        reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}), {"ocr_text": "단동"}
    ).json()
    assert [item["id"] for item in listed["results"]] == [evidence.pk]
    none = api.get(
        reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}), {"ocr_text": "平壤"}
    ).json()
    assert none["results"] == []

    # The page: the text, selectable, and the word boxes to draw over the preview (static JS).
    client.force_login(personas.viewer)
    page = client.get(reverse("web:evidence_detail", kwargs={"evidence_id": evidence.pk}))
    html = page.content.decode()
    assert '<pre class="ocr-text"' in html and "서포" in html
    assert html.count('class="ocr-word"') == len(reading.words)
    assert 'data-box="' in html and "js/ocr.js" in html
    assert "<script>" not in html.split("</head>", 1)[1]  # nothing inline

    # Today's search (the search page and the gallery filter) finds the photo by its text.
    found = client.get(reverse("web:search"), {"q": "단동"}).content.decode()
    assert "Station sign" in found
    gallery = client.get(
        reverse("web:evidence_gallery", kwargs={"case_id": personas.case.pk}), {"q": "Dandong"}
    ).content.decode()
    assert "Station sign" in gallery

    # Custody: what was read from which bytes, the text by its hash.
    read = Activity.objects.get(verb="text.read", target_id=evidence.pk)
    assert read.data["derived_from"] == evidence.sha256
    assert read.data["status"] == "done" and read.data["characters"] == len(reading.ocr_text)


def test_a_photo_without_text_reads_as_empty_text_without_error(ocr, ingest):
    evidence = ingest(jpeg_bytes(size=(1600, 1200), seed=4), "landscape.jpg")
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.DONE, reading.note
    assert (reading.ocr_text, reading.words, reading.ocr_language) == ("", [], "")
    assert reading.confidence is None


def test_read_text_is_one_function_for_any_picture(ocr):
    # What the video keyframes call: a PIL image in, text, words, language and confidence out.
    result = read_text(sign_picture((800, 600)).convert("L"), ["kor", "eng"])
    assert "Dandong" in result.text and result.languages == ["kor", "eng"]
    assert result.words and all(w.confidence >= 60 for w in result.words)
    assert result.confidence is not None


def test_a_pdf_with_a_text_layer_is_read_from_it_not_by_ocr(ocr, ingest, settings, personas):
    # The text layer needs no Tesseract at all.
    settings.CASEFILE_TESSERACT_CMD = "/nonexistent/tesseract"
    evidence = ingest(text_layer_pdf(), "manifest.pdf", document=True, title="Freight manifest")
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.DONE, reading.note
    assert reading.method == TextReading.Method.TEXT_LAYER
    assert reading.ocr_text.splitlines() == [
        "Freight manifest for train 7021",
        "Departure Sinuiju, arrival Dandong",
    ]
    assert (reading.pages, reading.words, reading.note) == (1, [], "")
    assert reading.software.startswith("pypdf ")

    # A document's text is shown where its original may be opened: editors and owners.
    url = reverse("api:evidence-detail", kwargs={"pk": evidence.pk})
    editor = token_client(personas.editor).get(url).json()
    assert "Sinuiju" in editor["ocr_text"] and editor["ocr_method"] == "text_layer"
    viewer = token_client(personas.viewer).get(url).json()
    assert viewer["ocr_status"] == "done" and viewer["ocr_text"] is None
    evidence_list = reverse("api:case-evidence", kwargs={"case_id": personas.case.pk})
    as_viewer = token_client(personas.viewer).get(evidence_list, {"ocr_text": "Sinuiju"}).json()
    assert as_viewer["results"] == []
    as_editor = token_client(personas.editor).get(evidence_list, {"ocr_text": "Sinuiju"}).json()
    assert [item["id"] for item in as_editor["results"]] == [evidence.pk]


def test_a_scanned_pdf_is_rendered_and_read_page_by_page_within_the_page_limit(
    ocr, ingest, settings
):
    settings.CASEFILE_OCR_MAX_PAGES = 1
    evidence = ingest(scanned_pdf(pages=2), "declaration.pdf", document=True)
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.DONE, reading.note
    assert reading.method == TextReading.Method.OCR
    assert "Customs declaration 1" in reading.ocr_text
    assert "Dandong Trading" in reading.ocr_text and "단동" in reading.ocr_text
    assert "declaration 2" not in reading.ocr_text
    assert reading.pages == 2 and "first 1 of 2 pages" in reading.note
    assert reading.words and {w["page"] for w in reading.words} == {1}


def test_a_damaged_pdf_fails_with_a_reason_and_the_document_stays(ocr, ingest):
    evidence = ingest(b"%PDF-1.7\n" + random_bytes(20_000, seed=3), "broken.pdf", document=True)
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.FAILED
    assert reading.note.startswith("The PDF cannot be read")
    assert Evidence.objects.filter(pk=evidence.pk, deleted_at__isnull=True).exists()


def test_without_tesseract_the_step_is_skipped_with_a_visible_note(
    ocr, ingest, settings, personas, client
):
    settings.CASEFILE_TESSERACT_CMD = "/nonexistent/tesseract"
    photo = ingest(jpeg_of(sign_picture((800, 600))), "sign.jpg", title="Sign")
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.READY  # never held up
    reading = photo.text_reading
    assert reading.status == TextReading.Status.SKIPPED
    assert "Tesseract is not installed here" in reading.note
    assert "/nonexistent/tesseract" in reading.note
    scan = ingest(scanned_pdf(), "scan.pdf", document=True)
    assert scan.text_reading.status == TextReading.Status.SKIPPED
    assert "Tesseract is not installed" in scan.text_reading.note

    client.force_login(personas.viewer)
    html = client.get(reverse("web:evidence_detail", kwargs={"evidence_id": photo.pk})).content
    assert b"Not read" in html and b"Tesseract is not installed here" in html
    body = token_client(personas.viewer).get(
        reverse("api:evidence-detail", kwargs={"pk": photo.pk})
    )
    assert body.json()["ocr_status"] == "skipped"
    assert "Tesseract" in body.json()["ocr_note"] and body.json()["ocr_text"] is None


def test_the_case_chooses_its_languages_and_a_missing_one_is_named(ocr, ingest, personas, client):
    client.force_login(personas.editor)
    edit = reverse("web:case_edit", kwargs={"case_id": personas.case.pk})
    refused = client.post(edit, {"title": personas.case.title, "ocr_languages": "Korean!"})
    assert refused.status_code == 200 and b"joined by +" in refused.content
    client.post(edit, {"title": personas.case.title, "ocr_languages": "eng+xyz"})
    personas.case.refresh_from_db()
    assert personas.case.ocr_languages == "eng+xyz"
    evidence = ingest(jpeg_of(sign_picture((800, 600))), "sign.jpg")
    reading = evidence.text_reading
    assert reading.status == TextReading.Status.DONE
    assert reading.languages == "eng"
    assert "not read in: xyz" in reading.note
    assert "Dandong" in reading.ocr_text and "단동" not in reading.ocr_text


def test_an_abandoned_reading_is_recovered_like_other_jobs(ocr, ingest, settings):
    settings.CASEFILE_TESSERACT_CMD = "/nonexistent/tesseract"  # the outcome does not matter
    evidence = ingest(jpeg_bytes(seed=9), "photo.jpg")
    # As a worker killed mid-reading leaves it: processing, its lease run out.
    long_ago = timezone.now() - timedelta(seconds=settings.CASEFILE_LEASE_SECONDS * 3)
    TextReading.objects.filter(pk=evidence.pk).update(
        status=TextReading.Status.PROCESSING, heartbeat_at=long_ago, attempts=1
    )
    done = jobs_recover()
    assert done.texts == [evidence.pk]
    reading = TextReading.objects.get(pk=evidence.pk)
    assert reading.status == TextReading.Status.SKIPPED and reading.attempts == 2


def test_the_export_carries_the_text_in_its_manifest_and_report(
    ocr, ingest, personas, django_capture_on_commit_callbacks
):
    photo = ingest(jpeg_of(sign_picture((1200, 900))), "sign.jpg", title="Sign")
    document = ingest(text_layer_pdf(), "manifest.pdf", document=True, title="Manifest")

    def bundle(actor, **options) -> zipfile.ZipFile:
        client = token_client(actor)
        with django_capture_on_commit_callbacks(execute=True):
            made = client.post(
                reverse("api:case-exports", kwargs={"case_id": personas.case.pk}),
                options,
                format="json",
            ).json()
        data = b"".join(
            client.get(reverse("api:export-download", kwargs={"pk": made["id"]})).streaming_content
        )
        return zipfile.ZipFile(io.BytesIO(data))

    with bundle(personas.owner, reveal_protected=True) as full:
        manifest = json.loads(full.read("manifest.json"))
        report = full.read("report.html").decode()
    items = {item["id"]: item for item in manifest["evidence"]}
    assert "Dandong" in items[photo.pk]["ocr"]["ocr_text"]
    assert items[photo.pk]["ocr"]["ocr_status"] == "done" and items[photo.pk]["ocr"]["ocr_words"]
    assert items[document.pk]["ocr"]["ocr_method"] == "text_layer"
    assert "Sinuiju" in items[document.pk]["ocr"]["ocr_text"]
    assert "Dandong Station" in report and "Departure Sinuiju" in report
    with bundle(personas.editor) as previews:
        manifest = json.loads(previews.read("manifest.json"))
    items = {item["id"]: item for item in manifest["evidence"]}
    assert "Dandong" in items[photo.pk]["ocr"]["ocr_text"]
    assert "Sinuiju" not in json.dumps(items[document.pk])  # a document's text: identities
