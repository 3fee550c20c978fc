"""A web link's page shows its capture (issue #16): screenshots, facts, media found, files with
their hashes, the archived HTML in a sandboxed frame served under a CSP `sandbox` policy of
its own, "Capture again"; outsiders get 404, and a protected source's name never shows."""

import hashlib
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from evidence.models import Capture, CaptureFile, Evidence
from evidence.services.captures import capture_storage_name
from evidence.services.custody import custody_verify
from tests.evidence.capture_sites import IMAGES
from tests.factories import ProtectedSourceFactory

pytestmark = pytest.mark.django_db

HTML = b"<html><head><title>April report</title></head><body><h1>Train arrived</h1></body></html>"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def store(capture: Capture, role: str, name: str, data: bytes, content_type: str) -> CaptureFile:
    sha256 = hashlib.sha256(data).hexdigest()
    stored = default_storage.save(capture_storage_name(sha256), ContentFile(data))
    return CaptureFile.objects.create(
        capture=capture,
        role=role,
        name=name,
        file=stored,
        sha256=sha256,
        size=len(data),
        content_type=content_type,
    )


@pytest.fixture
def link(personas):
    source = ProtectedSourceFactory(case=personas.case, pseudonym="Witness A", name="Li Wei")
    evidence = Evidence.objects.create(
        case=personas.case,
        kind="link",
        url="https://news.example.org/april-report",
        source=source,
        collected_by=personas.reporter,
    )
    capture = Capture.objects.create(
        evidence=evidence,
        requested_by=personas.reporter,
        status="ready",
        final_url="https://news.example.org/2024/april-report",
        http_status=200,
        title="April report",
        redirects=["https://news.example.org/april-report"],
        tls={"subject": "commonName=news.example.org", "issuer": "commonName=Example CA"},
        requests=3,
        bytes=4096,
    )
    store(capture, "screenshot", "screenshot.png", IMAGES["/red.png"], "image/png")
    store(capture, "screenshot_phone", "screenshot-phone.png", IMAGES["/blue.png"], "image/png")
    store(capture, "html", "page.html", HTML, "text/html; charset=utf-8")
    store(capture, "archive", "archive.warc.gz", b"WARC/1.1 pretend", "application/warc")
    return evidence


def test_link_page_shows_the_capture_its_facts_files_and_sandboxed_html(personas, link):
    response = client_for(personas.viewer).get(reverse("web:evidence_detail", args=[link.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    capture = link.captures.get()
    assert "Capture of the page" in html
    assert "https://news.example.org/2024/april-report" in html
    assert "commonName=Example CA" in html
    for row in capture.files.all():
        assert row.sha256 in html
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert " sandbox " in frame
    assert reverse("web:capture_html", args=[link.pk, capture.pk]) in frame
    assert reverse("web:capture_file", args=[link.pk, capture.pk, "screenshot-phone.png"]) in html
    # A viewer cannot ask for another capture; the protected source is its pseudonym.
    assert "Capture again" not in html
    assert "Li Wei" not in html and "Witness A" in html
    assert " style=" not in html and "<script>" not in html  # CSP-clean


def test_archived_html_is_served_under_a_sandbox_policy_of_its_own(personas, link):
    capture = link.captures.get()
    response = client_for(personas.viewer).get(
        reverse("web:capture_html", args=[link.pk, capture.pk])
    )
    assert response.status_code == 200
    assert response.content == HTML
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox;")
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["X-Content-SHA256"] == hashlib.sha256(HTML).hexdigest()


def test_capture_files_are_served_exactly_with_their_hash(personas, link):
    capture = link.captures.get()
    client = client_for(personas.viewer)
    shot = client.get(reverse("web:capture_file", args=[link.pk, capture.pk, "screenshot.png"]))
    assert shot.status_code == 200
    assert b"".join(shot.streaming_content) == IMAGES["/red.png"]
    assert "attachment" not in shot.get("Content-Disposition", "")
    archive = client.get(reverse("web:capture_file", args=[link.pk, capture.pk, "archive.warc.gz"]))
    assert archive["Content-Disposition"].startswith("attachment")
    assert archive["X-Content-SHA256"] == hashlib.sha256(b"WARC/1.1 pretend").hexdigest()
    missing = client.get(reverse("web:capture_file", args=[link.pk, capture.pk, "nothing.png"]))
    assert missing.status_code == 404


def test_outsiders_get_404_for_the_capture_pages(personas, link):
    capture = link.captures.get()
    client = client_for(personas.outsider)
    for url in (
        reverse("web:evidence_detail", args=[link.pk]),
        reverse("web:capture_html", args=[link.pk, capture.pk]),
        reverse("web:capture_file", args=[link.pk, capture.pk, "screenshot.png"]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("web:capture_again", args=[link.pk])).status_code == 404


def test_reporter_captures_again_and_the_panel_polls_until_done(personas, link):
    client = client_for(personas.reporter)
    page = client.get(reverse("web:evidence_detail", args=[link.pk])).content.decode()
    assert "Capture again" in page and "hx-trigger" not in page.split('id="capture"')[1][:400]
    response = client.post(reverse("web:capture_again", args=[link.pk]))
    assert response.status_code == 302
    assert [c.status for c in link.captures.order_by("id")] == ["ready", "pending"]
    page = client.get(reverse("web:evidence_detail", args=[link.pk])).content.decode()
    panel = page.split('id="capture"')[1][:600]
    assert 'hx-trigger="every 3s"' in panel and "Waiting for the capture worker" in page
    # The earlier capture is still there, one click away.
    earlier = link.captures.order_by("id").first()
    assert f"?capture={earlier.pk}#capture" in page
    shown = client.get(reverse("web:evidence_detail", args=[link.pk]) + f"?capture={earlier.pk}")
    assert "https://news.example.org/2024/april-report" in shown.content.decode()


def test_viewer_cannot_capture_again(personas, link):
    response = client_for(personas.viewer).post(reverse("web:capture_again", args=[link.pk]))
    assert response.status_code == 403
    assert link.captures.count() == 1


def test_custody_check_recomputes_capture_files_and_names_an_altered_one(personas, link):
    item = next(i for i in custody_verify(case=personas.case).items if i.evidence_id == link.pk)
    assert (item.state, item.problems) == ("no file", [])
    row = link.captures.get().files.get(name="page.html")
    with open(default_storage.path(row.file.name), "wb") as handle:
        handle.write(HTML.replace(b"Train", b"Truck"))
    item = next(i for i in custody_verify(case=personas.case).items if i.evidence_id == link.pk)
    assert item.state == "broken"
    assert item.problems == [
        f"capture {row.capture_id}'s page.html was altered: SHA-256 recorded {row.sha256}, "
        f"stored file {hashlib.sha256(HTML.replace(b'Train', b'Truck')).hexdigest()}"
    ]
