"""Link capture (issue #16) against local web sites the tests start: what each capture saved
and what the link's custody record says. One Chromium serves the whole module (the capture
worker's own per-process browser, `evidence.capture.engine.browser_host`).

The site the capture may reach is allowed by CASEFILE_CAPTURE_ALLOW_HOSTS for exactly its
host:port; the other site (another port on 127.0.0.1) is not, and must record no request."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from warcio.archiveiterator import ArchiveIterator

from cases.activity import activity_chain_problems
from evidence.capture.engine import CHROMIUM
from evidence.custody import custody_entries
from evidence.models import Capture, Evidence
from evidence.reader import Reader
from evidence.services.capture_requests import capture_request
from evidence.services.evidence import evidence_create
from tests.evidence.capture_sites import IMAGES, NOT_A_VIDEO, TWO_IMAGES, VIDEO, Site
from tests.factories import ProtectedSourceFactory
from tests.needs import unavailable

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sites():
    if not os.path.exists(CHROMIUM):
        unavailable(
            f"Link capture needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    site, other = Site(), Site()
    site.other = other
    yield site, other
    site.close()
    other.close()


@pytest.fixture
def site(sites, settings):
    site, other = sites
    other.requests.clear()
    other.connections = 0
    settings.CASEFILE_CAPTURE_ALLOW_HOSTS = f"127.0.0.1:{site.port}"
    settings.CASEFILE_CAPTURE_SECONDS = 20
    return site


def captured(personas, django_capture_on_commit_callbacks, url: str, **details) -> Evidence:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = evidence_create(
            actor=personas.reporter, case=personas.case, kind="link", url=url, **details
        )
    return evidence


def only_capture(evidence: Evidence) -> Capture:
    (capture,) = evidence.captures.all()
    return capture


def files_of(capture: Capture) -> dict[str, bytes]:
    out = {}
    for row in capture.files.all():
        with default_storage.open(row.file.name, "rb") as handle:
            data = handle.read()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert len(data) == row.size
        out[row.name] = data
    return out


def warc_responses(data: bytes) -> dict[str, tuple[int, bytes]]:
    out = {}
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            uri = record.rec_headers.get_header("WARC-Target-URI")
            status = int(record.http_headers.get_statuscode())
            out.setdefault(uri, (status, record.content_stream().read()))
    return out


def capture_event(personas, evidence: Evidence) -> dict:
    entries = custody_entries(
        evidence=evidence, reader=Reader(actor=personas.reporter, case=personas.case, via="test")
    )
    events = [e for e in entries if e["verb"].startswith("evidence.capture")]
    assert len(events) == 1, entries
    return events[0]


PAGE_FILES = {
    "archive.warc.gz",
    "page.html",
    "page.pdf",
    "page.txt",
    "screenshot-full.png",
    "screenshot-phone.png",
    "screenshot.png",
}


def test_page_with_two_images_is_captured_hashed_and_its_images_become_evidence(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/two")
    capture = only_capture(evidence)
    assert capture.status == "ready", capture.failure_reason
    assert (capture.final_url, capture.http_status) == (f"{site.url}/two", 200)
    assert capture.title == "Train arrived in North Korea"
    assert capture.tls is None  # plain http
    files = files_of(capture)
    assert set(files) == PAGE_FILES
    assert files["screenshot.png"].startswith(b"\x89PNG") and files["page.pdf"][:5] == b"%PDF-"
    assert b"The freight train crossed at Dandong." in files["page.html"]
    assert "The freight train crossed at Dandong." in files["page.txt"].decode()
    archived = warc_responses(files["archive.warc.gz"])
    assert archived[f"{site.url}/two"] == (200, TWO_IMAGES)
    assert archived[f"{site.url}/red.png"] == (200, IMAGES["/red.png"])
    assert archived[f"{site.url}/blue.png"] == (200, IMAGES["/blue.png"])
    gzip.decompress(files["archive.warc.gz"])  # a valid gzip stream, member by member

    # The two images above the minimum size are evidence of their own, through the ingest;
    # the 16-pixel icon is not.
    media = list(capture.media.order_by("id"))
    assert [m.sha256 for m in media] == [
        hashlib.sha256(IMAGES[p]).hexdigest() for p in ("/red.png", "/blue.png")
    ]
    for item in media:
        assert item.kind == "photo" and item.photo.status == "ready"
        assert item.title == f"From the capture of {site.url}/two"
        assert f"{site.url}/" in item.description

    event = capture_event(personas, evidence)
    assert event["event"] == "Page captured"
    assert event["data"]["status"] == "ready"
    assert event["data"]["http_status"] == 200
    assert event["data"]["media"] == [m.pk for m in media]
    assert sorted((f["name"], f["sha256"]) for f in event["data"]["files"]) == sorted(
        (row.name, row.sha256) for row in capture.files.all()
    )
    assert activity_chain_problems(case=personas.case) == []


def test_lazy_content_is_loaded_by_scrolling(personas, site, django_capture_on_commit_callbacks):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/lazy")
    capture = only_capture(evidence)
    assert capture.status == "ready", capture.failure_reason
    files = files_of(capture)
    assert "Loaded when scrolled to" in files["page.txt"].decode()
    assert (
        warc_responses(files["archive.warc.gz"])[f"{site.url}/lazy.png"][1] == IMAGES["/lazy.png"]
    )
    assert [m.sha256 for m in capture.media.all()] == [
        hashlib.sha256(IMAGES["/lazy.png"]).hexdigest()
    ]


def test_redirect_chain_is_followed_and_archived(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/r1")
    capture = only_capture(evidence)
    assert capture.status == "ready", capture.failure_reason
    assert capture.final_url == f"{site.url}/two"
    assert capture.redirects == [f"{site.url}/r1", f"{site.url}/r2", f"{site.url}/r3"]
    archived = warc_responses(files_of(capture)["archive.warc.gz"])
    assert [archived[f"{site.url}/r{i}"][0] for i in (1, 2, 3)] == [302, 301, 302]
    assert capture_event(personas, evidence)["data"]["final_url"] == f"{site.url}/two"


def test_redirect_to_another_port_is_refused_and_never_reached(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/away")
    capture = only_capture(evidence)
    other = site.other
    assert capture.status == "failed"
    assert capture.failure_kind == "address"
    assert capture.failure_reason == (
        "Address not allowed: 127.0.0.1 is 127.0.0.1, which is not on the public internet "
        "(this machine, a private network or a reserved range)."
    )
    assert capture.refused == [{"url": f"{other.url}/stolen", "reason": capture.failure_reason}]
    assert (other.requests, other.connections) == ([], 0)
    # The redirect itself is archived: it is what the site answered.
    archived = warc_responses(files_of(capture)["archive.warc.gz"])
    assert archived[f"{site.url}/away"][0] == 302
    event = capture_event(personas, evidence)
    assert event["event"] == "Page capture fell short"
    assert event["data"]["failure_reason"] == capture.failure_reason
    assert event["data"]["refused"] == [f"{other.url}/stolen"]


def test_subresources_from_metadata_address_and_other_port_are_refused(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/metadata")
    capture = only_capture(evidence)
    other = site.other
    # The page itself is captured; what it tried to load from elsewhere is not.
    assert capture.status == "ready", capture.failure_reason
    refused = {item["url"]: item["reason"] for item in capture.refused}
    assert set(refused) == {"http://169.254.169.254/latest/meta-data/iam", f"{other.url}/pixel.png"}
    assert refused["http://169.254.169.254/latest/meta-data/iam"].startswith(
        "Address not allowed: 169.254.169.254 is 169.254.169.254"
    )
    # Nothing reached the other listener, the preconnect included.
    assert (other.requests, other.connections) == ([], 0)
    archived = warc_responses(files_of(capture)["archive.warc.gz"])
    assert set(archived) == {f"{site.url}/metadata"}
    assert capture_event(personas, evidence)["data"]["refused"] == sorted(
        refused, key=list(refused).index
    )


def test_404_error_page_is_captured_and_the_capture_says_so(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/gone")
    capture = only_capture(evidence)
    assert capture.status == "failed"
    assert capture.http_status == 404
    assert capture.failure_reason == (
        "HTTP 404: the site answered with an error page (captured as it was)."
    )
    files = files_of(capture)
    assert set(files) == PAGE_FILES
    assert b"No such page" in files["page.html"]
    assert capture_event(personas, evidence)["data"]["http_status"] == 404


def test_page_that_never_finishes_loading_stops_at_the_time_limit(
    personas, site, settings, django_capture_on_commit_callbacks
):
    settings.CASEFILE_CAPTURE_SECONDS = 5
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/hang")
    capture = only_capture(evidence)
    assert capture.status == "failed"
    assert capture.failure_kind == "timeout"
    assert capture.failure_reason.startswith("Time limit:")
    assert (capture.finished_at - capture.started_at).total_seconds() < 25
    files = files_of(capture)
    # What had loaded is kept: the page and its picture.
    assert "screenshot.png" in files and b"Loading" in files["page.html"]


def test_huge_response_stops_at_the_size_limit(
    personas, site, settings, django_capture_on_commit_callbacks
):
    settings.CASEFILE_CAPTURE_MAX_BYTES = 5 * 1024 * 1024
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/huge")
    capture = only_capture(evidence)
    assert capture.status == "failed"
    assert capture.failure_kind == "size"
    assert capture.failure_reason == (
        "Size limit: the page is larger than 5 MB; the capture stopped there."
    )
    assert capture.bytes <= 5 * 1024 * 1024 + 64 * 1024
    assert capture.files.count() == 0
    assert capture_event(personas, evidence)["data"]["files"] == []


def test_directly_linked_video_is_kept_and_made_its_own_evidence(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/video")
    capture = only_capture(evidence)
    assert capture.status == "ready", capture.failure_reason
    video = capture.files.get(role="video")
    assert (video.name, video.content_type, video.source_url) == (
        "video-1.mp4",
        "video/mp4",
        f"{site.url}/clip.mp4",
    )
    assert files_of(capture)["video-1.mp4"] == VIDEO
    assert video.sha256 in [f["sha256"] for f in capture_event(personas, evidence)["data"]["files"]]
    # The same bytes, an evidence item of the video kind through the normal ingest.
    (item,) = capture.media.all()
    assert (item.kind, item.sha256, item.source_id) == ("video", video.sha256, evidence.source_id)
    assert item.title == f"From the capture of {evidence.label}"
    assert capture_event(personas, evidence)["data"]["media"] == [item.pk]


def test_a_video_link_that_is_no_video_is_kept_as_a_file_and_says_why_it_is_no_evidence(
    personas, site, django_capture_on_commit_callbacks
):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/not-a-video")
    capture = only_capture(evidence)
    assert capture.status == "ready", capture.failure_reason
    assert files_of(capture)["video-1.mp4"] == NOT_A_VIDEO
    assert capture.media.count() == 0
    (note,) = capture_event(personas, evidence)["data"]["media_skipped"]
    assert note["url"] == f"{site.url}/broken.mp4" and note["reason"]


def test_host_not_found_fails_without_a_browser(
    personas, settings, django_capture_on_commit_callbacks
):
    evidence = captured(
        personas, django_capture_on_commit_callbacks, "https://no-such-host.invalid/post/1"
    )
    capture = only_capture(evidence)
    assert (capture.status, capture.failure_kind) == ("failed", "host")
    assert capture.failure_reason == "Host not found: no-such-host.invalid."


def test_capture_again_keeps_the_earlier_capture_and_protected_source_stays_hidden(
    personas, site, django_capture_on_commit_callbacks
):
    source = ProtectedSourceFactory(case=personas.case, pseudonym="Witness A")
    evidence = captured(
        personas, django_capture_on_commit_callbacks, f"{site.url}/two", source=source
    )
    first = only_capture(evidence)
    with django_capture_on_commit_callbacks(execute=True):
        again = capture_request(actor=personas.reporter, evidence=evidence)
    assert again.pk != first.pk
    assert [c.status for c in evidence.captures.order_by("id")] == ["ready", "ready"]
    # The same images again: the same evidence items, not copies.
    assert list(again.media.values_list("pk", flat=True)) == list(
        first.media.values_list("pk", flat=True)
    )
    for item in first.media.all():
        assert item.source_id == source.pk
    for row in again.files.all():
        with default_storage.open(row.file.name, "rb") as handle:
            assert source.name.encode() not in handle.read()
    entries = custody_entries(
        evidence=evidence, reader=Reader(actor=personas.reporter, case=personas.case, via="test")
    )
    assert [e["verb"] for e in entries] == [
        "evidence.added",
        "evidence.captured",
        "evidence.capture_requested",
        "evidence.captured",
    ]
    assert source.name not in repr(entries)


def test_a_download_is_refused(personas, site, django_capture_on_commit_callbacks):
    evidence = captured(personas, django_capture_on_commit_callbacks, f"{site.url}/download")
    capture = only_capture(evidence)
    assert (capture.status, capture.failure_kind) == ("failed", "download")
    assert capture.failure_reason == (
        "The address is a file download, not a page: downloads are not captured."
    )
    assert [row.name for row in capture.files.all()] == ["archive.warc.gz"]


def test_no_cookie_is_shared_between_captures(personas, site, django_capture_on_commit_callbacks):
    first = only_capture(
        captured(personas, django_capture_on_commit_callbacks, f"{site.url}/set-cookie")
    )
    second = only_capture(
        captured(personas, django_capture_on_commit_callbacks, f"{site.url}/show-cookie")
    )
    assert (first.status, second.status) == ("ready", "ready")
    assert "Cookie: no cookie" in files_of(second)["page.txt"].decode()


def test_the_browser_gets_none_of_the_apps_secrets(monkeypatch):
    from evidence.capture.engine import browser_env

    monkeypatch.setenv("SECRET_KEY", "app-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://casefile:pw@db/casefile")
    monkeypatch.setenv("STORAGE_SECRET_KEY", "bucket-secret")
    env = browser_env()
    assert set(env) <= {"PATH", "LANG", "TZ", "FONTCONFIG_PATH", "XDG_RUNTIME_DIR", "HOME"}
    assert "secret" not in repr(env).lower() and "pw@" not in repr(env)
