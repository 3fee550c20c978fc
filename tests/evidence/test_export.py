"""The case file export: the bundle, its verification without the database, its import, and
source protection in it."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from cases import signing
from cases.activity import activity_chain_problems
from cases.models import Activity, Case
from cases.services import case_update, claim_create
from evidence.bundle.verify import bundle_verify
from evidence.custody import custody_entries
from evidence.models import Evidence, Export
from evidence.reader import Reader
from evidence.selectors import custody_of
from evidence.services.custody import custody_verify, evidence_delete
from evidence.services.exports import export_open, export_request, exports_expire
from evidence.services.imports import case_import
from tests.custody_case import PROTECTED_NAME, PSEUDONYM, custody_fixtures, leaks
from tests.needs import unavailable
from tests.tamper import append_only_lifted

# The custody case, made once and restored into each test (tests/custody_case.py).
_custody_snapshot, _custody_world, personas, things = custody_fixtures()


def _export(actor, case, capture, *, originals=False, reveal=False) -> Export:
    with capture(execute=True):
        export = export_request(
            actor=actor, case=case, originals=originals, reveal_protected=reveal
        )
    export.refresh_from_db()
    return export


def _bundle(export: Export, tmp_path) -> "pathlib.Path":  # noqa: F821
    path = tmp_path / f"bundle-{export.pk}.zip"
    with default_storage.open(export.file.name, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- Requesting -------------------------------------------------------------------------------


def test_owner_export_runs_to_ready_with_file_hash_and_progress(
    personas, things, django_capture_on_commit_callbacks
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    assert export.status == Export.Status.READY
    assert export.progress == 100
    assert export.file.name.endswith(".zip") and len(export.sha256) == 64
    assert export.size == default_storage.size(export.file.name)
    verbs = list(Activity.objects.filter(case=personas.case).values_list("verb", flat=True))
    assert "export.requested" in verbs and "case.exported" in verbs


def test_editor_may_export_but_not_reveal_protected_identities(personas, things):
    export_request(
        actor=personas.editor, case=personas.case, originals=True, reveal_protected=False
    )
    with pytest.raises(PermissionDenied, match="owner"):
        export_request(
            actor=personas.editor, case=personas.case, originals=True, reveal_protected=True
        )


@pytest.mark.parametrize("role", ["reporter", "viewer"])
def test_reporters_and_viewers_cannot_export(personas, things, role):
    with pytest.raises(PermissionDenied, match="editor"):
        export_request(
            actor=personas.by_role(role),
            case=personas.case,
            originals=False,
            reveal_protected=False,
        )


def test_outsider_cannot_export(personas, things):
    from django.http import Http404

    with pytest.raises(Http404):
        export_request(
            actor=personas.outsider, case=personas.case, originals=False, reveal_protected=False
        )


def test_a_case_has_at_most_three_exports_in_progress(personas, things):
    for _ in range(3):
        export_request(
            actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
        )
    with pytest.raises(ValidationError, match="in progress"):
        export_request(
            actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
        )


def test_running_the_export_task_twice_builds_the_bundle_once(
    personas, things, django_capture_on_commit_callbacks
):
    from evidence.tasks import case_export_task

    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    first = (export.sha256, export.file.name)
    assert case_export_task.apply(args=[export.pk]).get() == Export.Status.READY
    export.refresh_from_db()
    assert (export.sha256, export.file.name) == first
    assert Activity.objects.filter(case=personas.case, verb="case.exported").count() == 1


def test_the_bundle_is_streamed_from_a_temporary_file_not_built_in_memory(
    personas, things, django_capture_on_commit_callbacks, monkeypatch
):
    # The writer must never ask for a BytesIO of the whole bundle: it writes to a real file.
    import evidence.services.exports as export_module

    opened = []
    real = export_module.tempfile.NamedTemporaryFile

    def spy(*args, **kwargs):
        handle = real(*args, **kwargs)
        opened.append(handle.name)
        return handle

    monkeypatch.setattr(export_module.tempfile, "NamedTemporaryFile", spy)
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    assert export.status == Export.Status.READY
    assert len(opened) == 1 and opened[0].endswith(".zip")


def _photos(personas, count: int, thumbnail: str) -> None:
    """`count` processed photos, made straight in the database (the pipeline would take
    minutes): each with its own hash and the same stored thumbnail and preview."""
    from evidence.models import Photo

    rows = Evidence.objects.bulk_create(
        Evidence(
            case=personas.case,
            kind=Evidence.Kind.PHOTO,
            title=f"Dandong station, car {i}",
            collected_by=personas.reporter,
            place_name="Dandong station",
            original_name=f"car-{i}.jpg",
            sha256=f"{i:064x}",
            size=100_000,
            content_type="image/jpeg",
        )
        for i in range(count)
    )
    Photo.objects.bulk_create(
        Photo(evidence=row, status=Photo.Status.READY, thumbnail=thumbnail, preview=thumbnail)
        for row in rows
    )


def _export_peak(personas, count: int, thumbnail: str) -> int:
    """Peak Python memory (tracemalloc) of building an export of a case of `count` photos."""
    import tracemalloc

    from evidence.services.exports import export_build

    Evidence.objects.filter(case=personas.case).delete()
    _photos(personas, count, thumbnail)
    export = Export.objects.create(case=personas.case, requested_by=personas.owner)
    tracemalloc.start()
    try:
        assert export_build(export_id=export.pk) == Export.Status.READY
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_export_memory_does_not_grow_with_the_number_of_photos(personas, things):
    # The report embeds each thumbnail up to three times (claims, register, custody): rendered
    # whole, it took about 60 MB for 1,000 photos. It is written one part at a time instead.
    from tests.images import jpeg_bytes

    thumbnail = default_storage.save(
        "derivatives/test/thumbnail.jpg", io.BytesIO(jpeg_bytes(size=(400, 300)))
    )
    _export_peak(personas, 1, thumbnail)  # what the first export loads once (templates, modules)
    small = _export_peak(personas, 50, thumbnail)
    large = _export_peak(personas, 200, thumbnail)
    # What still grows is the manifest and the rows it is made from (about 7 KB a photo here;
    # the report rendered whole grew by some 320 KB a photo).
    assert large - small < 2_000_000, f"{small:,} bytes for 50 photos, {large:,} for 200"


# --- What the bundle holds --------------------------------------------------------------------


def test_manifest_lists_case_members_sources_evidence_with_custody_and_claims(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    files = _members(_bundle(export, tmp_path))
    manifest = json.loads(files["manifest.json"])
    assert manifest["case"]["title"] == personas.case.title
    assert {m["username"]: m["role"] for m in manifest["members"]} == {
        "alice": "owner",
        "erin": "editor",
        "bob": "reporter",
        "victor": "viewer",
    }
    items = {e["id"]: e for e in manifest["evidence"]}
    public = items[things.public_photo.pk]
    assert public["sha256"] == things.public_photo.sha256
    assert public["file"] and files[public["file"]]  # the original is in the bundle
    assert public["photo"]["camera_make"] == "Nikon"
    verbs = [c["verb"] for c in public["custody"]]
    assert verbs[0] == "evidence.received" and "photo.processed" in verbs
    claims = {c["id"]: c for c in manifest["claims"]}
    never_left = claims[things.never_left.pk]
    assert never_left["status"] == "supported"
    assert [(h["from"], h["to"]) for h in never_left["history"]] == [
        ("draft", "in_review"),
        ("in_review", "supported"),
    ]
    assert {(link["evidence"], link["stance"]) for link in never_left["links"]} == {
        (things.secret_photo.pk, "supports"),
        (things.public_photo.pk, "context"),
    }
    assert manifest["activity"]["intact_when_exported"] is True
    # The report's embedded thumbnails stay in the report.
    assert b"thumbnail_data" not in files["manifest.json"]
    assert b"base64" not in files["manifest.json"]
    assert "report.html" in manifest["files"]
    # The manifest and its signature are listed beside the files the manifest lists.
    assert files["SHA256SUMS"].decode().count("\n") == len(manifest["files"]) + 2


def test_export_without_identities_keeps_protected_sources_out_of_every_file(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    # Originals asked for, identities not: the protected source's original (with its EXIF GPS)
    # is withheld and replaced by its stripped preview.
    export = _export(
        personas.editor, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    files = _members(_bundle(export, tmp_path))
    for name, data in files.items():
        assert leaks(data) == [], name
    manifest = json.loads(files["manifest.json"])
    item = next(e for e in manifest["evidence"] if e["id"] == things.secret_photo.pk)
    assert item["file"] is None and item["original_withheld"] == "protected source"
    assert item["preview"] in files
    source = next(s for s in manifest["sources"] if s["id"] == things.protected.pk)
    assert source["name"] == PSEUDONYM and source["notes"] is None
    assert not Activity.objects.filter(verb="source.revealed").exists()


def test_previews_only_export_has_no_originals_and_no_metadata_anywhere(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    files = _members(_bundle(export, tmp_path))
    assert not [name for name in files if name.startswith("originals/")]
    images = [name for name in files if name.startswith(("previews/", "thumbnails/"))]
    assert len(images) == 4
    for name in images:
        data = files[name]
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif(), name
            assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info), name
        assert b"Exif\x00\x00" not in data and b"http://ns.adobe.com/xap" not in data, name
        assert b"Canon" not in data and b"Nikon" not in data, name
    manifest = json.loads(files["manifest.json"])
    for item in manifest["evidence"]:
        if item["photo"]:
            assert "exif" not in item["photo"] and "gps_latitude" not in item["photo"]


def test_owner_can_include_protected_identities_and_each_is_recorded(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner,
        personas.case,
        django_capture_on_commit_callbacks,
        originals=True,
        reveal=True,
    )
    files = _members(_bundle(export, tmp_path))
    manifest = json.loads(files["manifest.json"])
    source = next(s for s in manifest["sources"] if s["id"] == things.protected.pk)
    assert source["name"] == PROTECTED_NAME and source["identity_included"] is True
    assert PROTECTED_NAME.encode() in files["report.html"]
    reveal = Activity.objects.get(verb="source.revealed", target_id=things.protected.pk)
    assert reveal.actor == personas.owner and reveal.data == {"via": "export"}
    # The reveal is part of the custody of the source's evidence.
    assert reveal in custody_of(evidence=things.secret_photo)
    assert PROTECTED_NAME not in json.dumps(reveal.data) + reveal.target_label


def test_deleted_evidence_is_left_out_of_the_bundle_but_its_tombstone_is_kept(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    evidence_delete(actor=personas.editor, evidence=things.link, reason="Duplicate of a later link")
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    manifest = json.loads(_members(_bundle(export, tmp_path))["manifest.json"])
    assert things.link.pk not in {e["id"] for e in manifest["evidence"]}
    (tombstone,) = manifest["deleted_evidence"]
    assert tombstone["id"] == things.link.pk and tombstone["reason"] == "Duplicate of a later link"


def test_report_is_self_contained_with_claims_thumbnails_timeline_and_custody(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    html = _members(_bundle(export, tmp_path))["report.html"].decode()
    assert "The train never left Dandong" in html
    assert "Evidence for" in html and "Evidence against" in html
    assert html.count("data:image/jpeg;base64,") >= 2
    assert "Timeline" in html and "Chain of custody" in html
    assert things.public_photo.sha256 in html
    # Nothing is fetched from anywhere: no script, no outside URL in src or href.
    assert "<script" not in html
    assert 'src="http' not in html and "<link" not in html


# --- Verifying and importing ------------------------------------------------------------------


def test_bundle_verifies_without_touching_the_database(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    path = _bundle(export, tmp_path)
    out = io.StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("verify_export", str(path), stdout=out)
    assert len(queries) == 0
    assert "Bundle verified: signed by key" in out.getvalue()


def _rewrite(path, target, change):
    """A copy of the bundle with one member's bytes changed."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[target] = change(members[target])
    with zipfile.ZipFile(target_path := path.with_name("tampered.zip"), "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target_path


@pytest.mark.parametrize("which", ["original", "preview", "manifest", "report"])
def test_verify_export_names_a_changed_file_and_exits_non_zero(
    personas, things, django_capture_on_commit_callbacks, tmp_path, which
):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    path = _bundle(export, tmp_path)
    manifest = json.loads(_members(path)["manifest.json"])
    item = next(e for e in manifest["evidence"] if e["id"] == things.public_photo.pk)
    target = {
        "original": item["file"],
        "preview": item["preview"],
        "manifest": "manifest.json",
        "report": "report.html",
    }[which]

    def flip(data: bytes) -> bytes:
        if which == "manifest":
            return data.replace(b'"status": "supported"', b'"status": "contradicted"')
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]

    tampered = _rewrite(path, target, flip)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_export", str(tampered), stdout=out, stderr=io.StringIO())
    assert exit_info.value.code == 1
    assert target in out.getvalue()


def test_verify_export_catches_a_changed_activity_row_in_the_manifest(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    row = next(r for r in manifest["activity"]["chain"] if r["verb"] == "claim.reviewed")
    row["data"]["note"] = "Nobody checked."
    # A forger who also fixes the manifest's line in SHA256SUMS is still caught by the chain.
    data = json.dumps(manifest).encode()
    import hashlib

    sums = members["SHA256SUMS"].decode().splitlines()
    sums = [
        f"{hashlib.sha256(data).hexdigest()}  manifest.json"
        if line.endswith("manifest.json")
        else line
        for line in sums
    ]
    with zipfile.ZipFile(forged := tmp_path / "forged.zip", "w") as archive:
        for name, content in members.items():
            archive.writestr(
                name,
                data
                if name == "manifest.json"
                else ("\n".join(sums) + "\n").encode()
                if name == "SHA256SUMS"
                else content,
            )
    check = bundle_verify(forged)
    assert any(f"activity {row['id']} (claim.reviewed)" in p for p in check.problems)


def test_export_round_trips_through_verify_and_import_with_identical_hashes(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner,
        personas.case,
        django_capture_on_commit_callbacks,
        originals=True,
        reveal=True,
    )
    path = _bundle(export, tmp_path)
    call_command("verify_export", str(path), stdout=io.StringIO())
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_case", str(path), "--owner", personas.outsider.username, stdout=out)
    imported = Case.objects.exclude(pk=personas.case.pk).get(title=personas.case.title)
    assert "Imported case" in out.getvalue()
    old = {e.sha256: e for e in Evidence.objects.filter(case=personas.case).exclude(sha256="")}
    new = {e.sha256: e for e in Evidence.objects.filter(case=imported).exclude(sha256="")}
    assert set(new) == set(old) and len(new) == 2
    assert not set(e.pk for e in new.values()) & set(e.pk for e in old.values())
    # The originals came along byte for byte, and the imported case's custody checks out.
    check = custody_verify(case=imported)
    assert check.intact and {i.state for i in check.items if i.sha256} == {"intact"}
    assert activity_chain_problems(case=imported) == []
    # The custody record is carried over, then the import and the new processing are recorded.
    photo = new[things.secret_photo.sha256]
    verbs = [
        (e["verb"], e["carried_over"])
        for e in custody_entries(
            evidence=photo,
            reader=Reader(actor=personas.outsider, case=imported, via="page"),
        )
    ]
    assert verbs[0] == ("evidence.received", True)
    assert ("evidence.imported", False) in verbs
    assert ("photo.processed", False) in verbs  # processed again from the imported original
    assert Activity.objects.filter(case=imported, verb="case.imported").count() == 1
    # Claims, their status and links came along too; the importer owns the case.
    claim = imported.claims.get(statement__startswith="The train never left")
    assert claim.status == "supported" and claim.links.count() == 2
    assert claim.transitions.count() == 2
    assert imported.memberships.get().user == personas.outsider
    # A second export of the imported case verifies too, with the same evidence hashes.
    second = _export(
        personas.outsider, imported, django_capture_on_commit_callbacks, originals=True
    )
    second_path = _bundle(second, tmp_path)
    assert bundle_verify(second_path).intact
    again = json.loads(_members(second_path)["manifest.json"])
    assert {e["sha256"] for e in again["evidence"] if e["sha256"]} == set(old)


def test_import_refuses_a_bundle_that_does_not_verify(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    path = _bundle(export, tmp_path)
    tampered = _rewrite(path, "report.html", lambda data: data + b"<!-- changed -->")
    cases = Case.objects.count()
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_case", str(tampered), "--owner", "charlie", stdout=io.StringIO(), stderr=err
        )
    assert exit_info.value.code == 1
    assert err.getvalue().startswith("BROKEN: the bundle does not verify: report.html: ")
    assert err.getvalue().count("\n") == 1
    assert Case.objects.count() == cases


def test_import_of_a_previews_only_bundle_keeps_hashes_and_previews(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    imported = case_import(path=path, owner=personas.outsider)
    photos = Evidence.objects.filter(case=imported, kind="photo")
    assert {p.sha256 for p in photos} == {things.secret_photo.sha256, things.public_photo.sha256}
    for photo in photos:
        assert not photo.original and photo.photo.preview
    assert {i.state for i in custody_verify(case=imported).items if i.sha256} == {"not held"}


def test_an_archived_case_is_imported_as_an_open_case_and_its_old_status_is_recorded(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    case_update(actor=personas.owner, case=personas.case, status=Case.Status.ARCHIVED)
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    assert json.loads(_members(path)["manifest.json"])["case"]["status"] == "archived"
    imported = case_import(path=path, owner=personas.outsider)
    assert imported.status == Case.Status.OPEN
    row = Activity.objects.get(case=imported, verb="case.imported")
    assert row.actor == personas.outsider
    assert row.data["status_in_bundle"] == "archived"
    assert row.data["from_case"] == personas.case.pk
    # A working case: its new owner can write in it at once.
    claim_create(actor=personas.outsider, case=imported, statement="Checked again")


# --- The report in a browser --------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = __import__("pathlib").Path(__file__).resolve().parents[1] / "artifacts"


@pytest.mark.browser
def test_demo_case_report_renders_in_chromium_as_a_printable_document(
    db, django_capture_on_commit_callbacks, tmp_path
):
    import os

    if not os.path.exists(CHROMIUM):
        unavailable(f"The report test needs Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    from demo.story import CASE_TITLE

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    case = Case.objects.get(title=CASE_TITLE)
    owner = case.memberships.get(role="owner").user
    export = _export(owner, case, django_capture_on_commit_callbacks)
    assert export.status == Export.Status.READY, export.error
    report = tmp_path / "report.html"
    report.write_bytes(_members(_bundle(export, tmp_path))["report.html"])
    ARTIFACTS.mkdir(exist_ok=True)
    errors, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1270})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(report.as_uri())
            # Every embedded thumbnail decoded (data URIs, nothing fetched).
            broken = page.evaluate(
                "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            images = page.evaluate("document.images.length")
            page.screenshot(path=str(ARTIFACTS / "export-report.png"), full_page=True)
            page.emulate_media(media="print")
            page.screenshot(path=str(ARTIFACTS / "export-report-print.png"), full_page=False)
            page.pdf(path=str(ARTIFACTS / "export-report.pdf"), format="A4", print_background=True)
        finally:
            browser.close()
    assert errors == []
    assert images >= 2 and broken == 0
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert (ARTIFACTS / "export-report.pdf").stat().st_size > 10_000


def _resigned(path, change, *, key=None) -> "pathlib.Path":  # noqa: F821
    """A copy of the bundle whose manifest was changed and whose SHA256SUMS was fixed to match
    (what a careless or hostile sender could produce); signed again by `key` when given."""
    import hashlib

    from evidence.bundle.manifest import SIGNATURE_FILE, SUMS_SIGNATURE_FILE

    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    data = json.dumps(manifest).encode()
    sums = [
        f"{hashlib.sha256(data).hexdigest()}  manifest.json"
        if line.endswith("  manifest.json")
        else line
        for line in members["SHA256SUMS"].decode().splitlines()
    ]
    members["manifest.json"] = data
    if key is not None:
        members[SIGNATURE_FILE] = key.sign(data)
        sums = [
            f"{hashlib.sha256(members[SIGNATURE_FILE]).hexdigest()}  {SIGNATURE_FILE}"
            if line.endswith(f"  {SIGNATURE_FILE}")
            else line
            for line in sums
        ]
    members["SHA256SUMS"] = ("\n".join(sums) + "\n").encode()
    if key is not None:
        members[SUMS_SIGNATURE_FILE] = key.sign(members["SHA256SUMS"])
    target = path.with_name("resigned.zip")
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return target


def test_verify_export_names_an_original_the_manifest_points_to_but_the_bundle_lacks(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    path = _bundle(export, tmp_path)

    def point_elsewhere(manifest):
        item = next(e for e in manifest["evidence"] if e["file"])
        item["file"] = "originals/not-there.jpg"

    check = bundle_verify(_resigned(path, point_elsewhere))
    assert any("originals/not-there.jpg is not in the bundle" in p for p in check.problems)


def test_a_manifest_lacking_a_part_is_refused_by_verify_and_import_which_imports_nothing(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    from evidence.bundle.manifest import BundleError

    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    # Signed by the newsroom's own key: every file and signature holds; the content is what is
    # wrong, and the one schema says so to both.
    broken = _resigned(path, lambda manifest: manifest.pop("claims"), key=signing.signing_key())
    assert bundle_verify(broken).problems == ["manifest.json: the manifest lacks 'claims'"]
    cases, evidence = Case.objects.count(), Evidence.objects.count()
    with pytest.raises(BundleError, match="lacks 'claims'"):
        case_import(path=broken, owner=personas.outsider)
    assert (Case.objects.count(), Evidence.objects.count()) == (cases, evidence)


def test_an_altered_original_fails_the_export_with_a_reason_instead_of_exporting_it(
    personas, things, django_capture_on_commit_callbacks
):
    path = default_storage.path(things.public_photo.original.name)
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    assert export.status == Export.Status.FAILED
    assert "verify_custody" in export.error and str(things.public_photo.pk) in export.error
    assert not export.file
    failed = Activity.objects.get(verb="export.failed")
    assert failed.data["reason"] == export.error


# --- Expiry -------------------------------------------------------------------------------------


def _age(export: Export, days: float) -> None:
    Export.objects.filter(pk=export.pk).update(finished_at=timezone.now() - timedelta(days=days))
    export.refresh_from_db()


def test_exports_past_retention_lose_their_bundle_and_keep_their_row_and_record(
    personas, things, django_capture_on_commit_callbacks
):
    old = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    recent = _export(personas.editor, personas.case, django_capture_on_commit_callbacks)
    _age(old, 7.01)
    _age(recent, 6.9)
    old_file, old_sha256 = old.file.name, old.sha256
    assert exports_expire() == [old.pk]
    old.refresh_from_db()
    assert old.status == Export.Status.EXPIRED and not old.file and old.expired_at
    assert not default_storage.exists(old_file)
    # Who exported what, when, with which hash: all still there.
    assert (old.requested_by, old.sha256, old.originals) == (personas.owner, old_sha256, False)
    assert Activity.objects.filter(verb="case.exported", target_id=old.pk).exists()
    row = Activity.objects.get(verb="export.expired")
    assert row.actor is None and row.target_id == old.pk
    assert row.data["sha256"] == old_sha256 and row.data["retention_days"] == 7
    assert activity_chain_problems(case=personas.case) == []
    recent.refresh_from_db()
    assert recent.status == Export.Status.READY and default_storage.exists(recent.file.name)
    # A second run finds nothing to do.
    assert exports_expire() == []
    assert Activity.objects.filter(verb="export.expired").count() == 1


def test_the_retention_comes_from_the_setting(
    personas, things, django_capture_on_commit_callbacks, settings
):
    settings.CASEFILE_EXPORT_RETENTION_DAYS = 30
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    assert export.expires_at == export.finished_at + timedelta(days=30)
    _age(export, 29)
    assert exports_expire() == []
    assert exports_expire(now=timezone.now() + timedelta(days=2)) == [export.pk]
    export.refresh_from_db()
    assert export.expires_at is None


def test_queued_running_and_failed_exports_never_expire(personas, things):
    long_ago = timezone.now() - timedelta(days=100)
    for status, extra in (
        (Export.Status.QUEUED, {}),
        (Export.Status.RUNNING, {}),
        (Export.Status.FAILED, {"error": "It broke."}),
    ):
        Export.objects.create(
            case=personas.case,
            requested_by=personas.owner,
            status=status,
            finished_at=long_ago,
            **extra,
        )
    assert exports_expire() == []


def test_an_expired_export_cannot_be_opened_and_says_why(
    personas, things, django_capture_on_commit_callbacks
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    _age(export, 8)
    exports_expire()
    export.refresh_from_db()
    with pytest.raises(ValidationError, match="expired") as refused:
        export_open(actor=personas.owner, export=export)
    assert refused.value.code == "export_expired"
    assert "Export the case again" in refused.value.messages[0]
    assert not Activity.objects.filter(verb="export.downloaded").exists()


def test_a_bundle_the_storage_will_not_delete_leaves_the_export_ready_for_the_next_run(
    personas, things, django_capture_on_commit_callbacks, monkeypatch
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    _age(export, 8)

    def refuse(name):
        raise OSError("storage unavailable")

    monkeypatch.setattr(default_storage, "delete", refuse)
    assert exports_expire() == []
    export.refresh_from_db()
    assert export.status == Export.Status.READY and default_storage.exists(export.file.name)
    assert not Activity.objects.filter(verb="export.expired").exists()
    monkeypatch.undo()
    assert exports_expire() == [export.pk]


def test_expire_exports_command_lists_with_dry_run_then_expires(
    personas, things, django_capture_on_commit_callbacks
):
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    _age(export, 8)
    out = io.StringIO()
    call_command("expire_exports", "--dry-run", stdout=out)
    assert f"export {export.pk} of case {personas.case.pk}" in out.getvalue()
    assert "1 export(s) older than 7 days; nothing deleted" in out.getvalue()
    export.refresh_from_db()
    assert export.status == Export.Status.READY
    out = io.StringIO()
    call_command("expire_exports", stdout=out)
    assert "Expired 1 export(s)" in out.getvalue()
    export.refresh_from_db()
    assert export.status == Export.Status.EXPIRED


def test_the_beat_task_expires_exports(personas, things, django_capture_on_commit_callbacks):
    from evidence.tasks import exports_expire_task

    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    _age(export, 8)
    assert exports_expire_task.delay().get() == 1
    export.refresh_from_db()
    assert export.status == Export.Status.EXPIRED


# --- A redacted chain verifies, every row of it ---------------------------------------------


def test_a_bundle_without_identities_verifies_every_row_and_shows_what_it_may(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    export = _export(personas.editor, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    manifest = json.loads(_members(path)["manifest.json"])
    chain = manifest["activity"]["chain"]
    assert bundle_verify(path).intact
    assert not any("redacted" in row for row in chain)
    created = {r["target_id"]: r for r in chain if r["verb"] == "source.created"}
    # The open source's name is disclosed beside its commitment; the protected one's is not.
    assert created[things.public.pk]["disclosed"]["label"]["value"] == "Newsroom photographer"
    assert "disclosed" not in created[things.protected.pk]
    assert created[things.protected.pk]["target_label"].startswith("$c:")


@pytest.mark.parametrize(
    "forge",
    [
        # A row marked redacted, its content withheld: the old verifier skipped it.
        lambda row: row.update(data=None, redacted=True),
        lambda row: row.update(verb="claim.reviewed", redacted=True),
        # A disclosed value that is not the one committed.
        lambda row: row["disclosed"]["label"].update(value="Someone else"),
        # A value put in the clear where the row committed to it.
        lambda row: row.update(target_label="Newsroom photographer"),
    ],
    ids=["withheld", "redacted-flag", "disclosed-value", "label-in-clear"],
)
def test_a_forged_row_of_a_redacted_chain_fails_verification(
    personas, things, django_capture_on_commit_callbacks, tmp_path, forge
):
    export = _export(personas.editor, personas.case, django_capture_on_commit_callbacks)
    path = _bundle(export, tmp_path)
    target = {}

    def change(manifest):
        row = next(
            r
            for r in manifest["activity"]["chain"]
            if r["verb"] == "source.created" and r["target_id"] == things.public.pk
        )
        target["id"] = row["id"]
        forge(row)

    check = bundle_verify(_resigned(path, change))
    assert not check.intact
    assert any(p.startswith(f"activity {target['id']} ") for p in check.problems), check.problems


def test_verify_custody_checks_every_secret_against_its_commitment(personas, things):
    from cases.models import ActivitySecret

    assert activity_chain_problems(case=personas.case) == []
    secret = ActivitySecret.objects.filter(
        activity__target_type="source", activity__target_id=things.public.pk
    ).first()
    with append_only_lifted():
        ActivitySecret.objects.filter(pk=secret.pk).update(value="Someone else")
    problems = activity_chain_problems(case=personas.case)
    assert problems == [
        f"activity {secret.activity_id} (source.created): its label is not what it committed"
    ]
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_custody", case=personas.case.pk, stdout=out, stderr=err)
    assert exited.value.code == 1
    assert "its label is not what it committed" in out.getvalue() + err.getvalue()
