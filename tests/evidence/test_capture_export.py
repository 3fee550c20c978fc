"""A web link's captures travel in the case bundle (issue #16): every file under
captures/<evidence>/<capture>/, listed with the SHA-256 the capture recorded, and
`verify_export` catches a changed file or a manifest that lies about its hash."""

import io
import json

import pytest
from django.core.management import call_command

from evidence.bundle.verify import bundle_verify
from evidence.models import Capture
from tests.evidence import test_export
from tests.web.test_capture_pages import HTML, store

_custody_snapshot = test_export._custody_snapshot
_custody_world = test_export._custody_world
personas = test_export.personas
things = test_export.things

WARC = b"WARC/1.1\r\nWARC-Type: warcinfo\r\n\r\n"


@pytest.fixture
def captured(personas, things):
    capture = Capture.objects.create(
        evidence=things.link,
        requested_by=personas.reporter,
        status="ready",
        final_url=things.link.url,
        http_status=200,
        title="April report",
    )
    capture.media.set([things.public_photo])
    store(capture, "html", "page.html", HTML, "text/html; charset=utf-8")
    store(capture, "archive", "archive.warc.gz", WARC, "application/warc")
    return capture


def _bundle(personas, capture_callbacks, tmp_path):
    export = test_export._export(personas.owner, personas.case, capture_callbacks, originals=True)
    assert export.status == "ready", export.error
    return test_export._bundle(export, tmp_path)


def test_bundle_carries_the_capture_files_with_their_hashes_and_verifies(
    personas, things, captured, django_capture_on_commit_callbacks, tmp_path
):
    path = _bundle(personas, django_capture_on_commit_callbacks, tmp_path)
    members = test_export._members(path)
    manifest = json.loads(members["manifest.json"])
    item = next(e for e in manifest["evidence"] if e["id"] == things.link.pk)
    # Every capture, the link's first (whose host was not found: nothing to carry) included.
    assert [c["id"] for c in item["captures"]] == list(
        things.link.captures.order_by("id").values_list("pk", flat=True)
    )
    capture = item["captures"][-1]
    assert capture["id"] == captured.pk and capture["status"] == "ready"
    assert capture["media"] == [things.public_photo.pk]
    files = {f["name"]: f for f in capture["files"]}
    prefix = f"captures/{things.link.pk}/{captured.pk}/"
    assert files["page.html"]["file"] == prefix + "page.html"
    assert members[prefix + "page.html"] == HTML
    assert members[prefix + "archive.warc.gz"] == WARC
    for row in captured.files.all():
        assert files[row.name]["sha256"] == row.sha256
        assert manifest["files"][prefix + row.name]["sha256"] == row.sha256
    assert bundle_verify(path).intact
    call_command("verify_export", str(path), stdout=io.StringIO())


def test_verify_export_names_a_changed_capture_file(
    personas, things, captured, django_capture_on_commit_callbacks, tmp_path
):
    path = _bundle(personas, django_capture_on_commit_callbacks, tmp_path)
    target = f"captures/{things.link.pk}/{captured.pk}/page.html"
    tampered = test_export._rewrite(path, target, lambda data: data.replace(b"Train", b"Truck"))
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_export", str(tampered), stdout=out, stderr=io.StringIO())
    assert target in out.getvalue()


def test_verify_export_catches_a_manifest_that_lies_about_a_capture_hash(
    personas, things, captured, django_capture_on_commit_callbacks, tmp_path
):
    path = _bundle(personas, django_capture_on_commit_callbacks, tmp_path)

    def lie(manifest):
        item = next(e for e in manifest["evidence"] if e["id"] == things.link.pk)
        item["captures"][-1]["files"][0]["sha256"] = "0" * 64

    problems = bundle_verify(test_export._resigned(path, lie)).problems
    assert any(
        f"of capture {captured.pk} does not match its recorded SHA-256 {'0' * 64}" in p
        for p in problems
    ), problems
