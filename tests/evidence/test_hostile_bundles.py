"""Bundles are untrusted input (issue 13): `verify_export` and `import_case` refuse a malformed
or hostile bundle with one line, "BROKEN: <what>", and exit status 1, never a traceback; limits
hold before anything is read, files are streamed, and a refused import leaves nothing behind.
The zip bombs' peak memory is measured (a child process's peak resident memory for
`verify_export`, tracemalloc for `import_case`)."""

import copy
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from jsonschema import Draft202012Validator
from PIL import Image
from rest_framework.test import APIClient

from cases.activity import Verb, activity_record
from cases.models import Activity, Case
from evidence.bundle.manifest import BundleError
from evidence.bundle.reading import MAX_DEPTH, _fast_validator, manifest_check, manifest_parse
from evidence.bundle.schema import MANIFEST_SCHEMA
from evidence.models import Evidence, Photo
from tests.bundles import (
    MIB,
    bundle_write,
    custody_entry,
    item,
    minimal_manifest,
    photo_item,
    zeros_bundle,
)
from tests.factories import LinkEvidenceFactory
from tests.images import jpeg_bytes, pdf_bytes, png_declaring, truncated

ROOT = Path(__file__).resolve().parents[2]
# What a refusal may cost, whatever the bundle (issue 13's "done means").
PEAK_LIMIT_MB = 200


def _preview(edge: int = 1600) -> bytes:
    return jpeg_bytes(size=(edge, edge * 3 // 4))


def _run(command: str, path: Path, *args: str) -> tuple[int, str, str]:
    """The command's exit status and output. These bundles are unsigned on purpose (what is
    checked here is their content; tests/evidence/test_signed_bundles.py checks signatures)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, str(path), *args, "--accept-unsigned", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def _refused(command: str, path: Path, *args: str) -> str:
    """What the command said refusing the bundle: exactly one line, BROKEN, exit status 1."""
    code, out, err = _run(command, path, *args)
    assert (code, out) == (1, "")
    assert err.startswith("BROKEN: ") and err.count("\n") == 1, err
    return err.removeprefix("BROKEN: ").rstrip("\n")


# VmHWM, not getrusage's ru_maxrss: a child's ru_maxrss starts at its parent's size (the
# memory of the process it was forked from counts), VmHWM is the child's own address space.
CHILD = """
import json, sys
import django
django.setup()
from django.core.management import call_command
code = 0
try:
    call_command(*sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak_mb": round(peak / 1024, 1)}))
"""


def _child_peak(*argv: str, **environ: str) -> tuple[dict, str]:
    """Run a management command in a fresh process; its exit status and peak resident memory
    (the kernel's high-water mark, so no peak is missed), and what it wrote to stderr."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
        **environ,
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", CHILD, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """The two zip bombs of the issue, made once: a previews-only bundle whose photo's preview
    is 1 GiB of zeros, and a bundle whose manifest.json is."""
    folder = tmp_path_factory.mktemp("bombs")
    manifest = minimal_manifest(evidence=[photo_item(1, thumbnail=None)])
    return {
        "preview": zeros_bundle(folder / "preview.zip", "previews/1.jpg", manifest=manifest),
        # Refused for its size, whatever it deflates to: made quickly, at level 1.
        "manifest": zeros_bundle(folder / "manifest.zip", "manifest.json", level=1),
    }


# --- Malformed manifests ----------------------------------------------------------------------


def test_the_smallest_manifest_verifies_so_each_refusal_below_is_for_its_own_reason(tmp_path):
    path = bundle_write(tmp_path / "ok.zip", minimal_manifest())
    code, out, err = _run("verify_export", path)
    assert (code, err) == (0, "")
    # Unsigned (accepted here), and otherwise whole: its files and chain are consistent.
    assert "UNSIGNED" in out and "its files and chain are consistent" in out


def _nested(depth: int) -> dict:
    value: object = "deep"
    for _ in range(depth):
        value = {"x": [value]}
    return value


def _deep_manifest() -> bytes:
    # Deep inside a chain row's free-form data, where no schema looks.
    row = {"id": 1, "verb": "case.created", "data": _nested(MAX_DEPTH), "hash": "", "prev_hash": ""}
    manifest = minimal_manifest(activity={"rows": 1, "head": "", "chain": [row]})
    return json.dumps(manifest).encode()


def _sha(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


CASE = minimal_manifest()["case"]
# The smallest manifest, with its list of files, as bytes.
LISTED = json.dumps({**minimal_manifest(), "files": {}}).encode()

MALFORMED = {
    "a list": (b"[1, 2, 3]", "manifest.json is not a Casefile export manifest"),
    "not a Casefile manifest": (b'{"hello": 1}', "manifest.json is not a Casefile export manifest"),
    "files as a list": (
        json.dumps({**minimal_manifest(), "files": []}).encode(),
        "manifest.json: files is a list, not an object",
    ),
    "evidence: 5": (
        json.dumps({**minimal_manifest(evidence=5), "files": {}}).encode(),
        "manifest.json: evidence is a number, not a list",
    ),
    "deep nesting": (
        b"[" * 200_000 + b"]" * 200_000,
        f"manifest.json is nested more than {MAX_DEPTH} levels deep",
    ),
    "deep nesting inside a valid manifest": (
        _deep_manifest(),
        f"manifest.json is nested more than {MAX_DEPTH} levels deep",
    ),
    "nesting hidden in strings is not nesting": (
        json.dumps(
            {
                **minimal_manifest(case={**minimal_manifest()["case"], "title": "[{" * 5000}),
                "files": {},
            }
        ),
        None,
    ),
    "not JSON": (b'{"format": "casefile-export",', "manifest.json is not valid JSON: "),
    "not UTF-8": (b'{"format": "\xff"}', "manifest.json is not valid JSON: 'utf-8' codec"),
    "NaN": (
        json.dumps({**minimal_manifest(), "files": {}}).encode()[:-1] + b', "x": NaN}',
        "manifest.json is not valid JSON: NaN is not a JSON number",
    ),
    "a key twice": (
        json.dumps({**minimal_manifest(), "files": {}}).encode()[:-1]
        + b', "format": "casefile-export"}',
        "manifest.json is not valid JSON: the key 'format' appears twice in one object",
    ),
    "a file's hash not a SHA-256": (
        json.dumps({**minimal_manifest(), "files": {"x": {"sha256": "abc", "size": 1}}}).encode(),
        "manifest.json: files.x.sha256 is not a SHA-256",
    ),
    "an evidence entry not an object": (
        json.dumps({**minimal_manifest(evidence=["photo"]), "files": {}}).encode(),
        "manifest.json: evidence[0] is a string, not an object",
    ),
    "an evidence SHA-256 not a SHA-256": (
        json.dumps({**minimal_manifest(evidence=[item(1, sha256="abc")]), "files": {}}).encode(),
        "manifest.json: evidence[0].sha256 is not a SHA-256",
    ),
    "a custody entry missing fields": (
        json.dumps({**minimal_manifest(evidence=[item(1, custody=[{"verb": "x"}])]), "files": {}}),
        "manifest.json: evidence[0].custody[0] lacks 'id', 'at', 'actor', 'event', 'target', "
        "'data', 'prev_hash', 'hash', 'carried_over'",
    ),
    "a custody entry's data not an object": (
        json.dumps(
            {**minimal_manifest(evidence=[item(1, custody=[custody_entry(data=[1])])]), "files": {}}
        ),
        "manifest.json: evidence[0].custody[0].data is a list, not an object",
    ),
    "a custody record not a list": (
        json.dumps({**minimal_manifest(evidence=[item(1, custody="all fine")]), "files": {}}),
        "manifest.json: evidence[0].custody is a string, not a list",
    ),
    "a tombstone with keys of its own": (
        json.dumps(
            {
                **minimal_manifest(
                    deleted_evidence=[
                        {
                            "id": 2,
                            "kind": "photo",
                            "label": "x",
                            "sha256": "",
                            "size": None,
                            "deleted_at": None,
                            "deleted_by": None,
                            "reason": "",
                            "purged_at": None,
                            "purged_by": None,
                            "custody": [],
                            "evil": "<script>",
                        }
                    ]
                ),
                "files": {},
            }
        ),
        "manifest.json: deleted_evidence[0] has keys no Casefile manifest has: 'evil'",
    ),
    "the chain not a list": (
        json.dumps({**minimal_manifest(activity={"rows": 0, "head": "", "chain": 5}), "files": {}}),
        "manifest.json: activity.chain is a number, not a list",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_verify_export_refuses_a_malformed_manifest_in_one_line(tmp_path, case):
    data, said = MALFORMED[case]
    path = bundle_write(tmp_path / "bundle.zip", data.encode() if isinstance(data, str) else data)
    if said is None:
        assert _run("verify_export", path)[0] == 0
        return
    assert _refused("verify_export", path).startswith(said)


@pytest.mark.parametrize("case", ["a list", "files as a list", "evidence: 5", "deep nesting"])
def test_import_case_refuses_a_malformed_manifest_in_one_line_and_imports_nothing(
    personas, tmp_path, case
):
    data, said = MALFORMED[case]
    path = bundle_write(tmp_path / "bundle.zip", data)
    before = Case.objects.count(), Evidence.objects.count(), Activity.objects.count()
    assert _refused("import_case", path, "--owner", personas.outsider.username).startswith(said)
    assert (Case.objects.count(), Evidence.objects.count(), Activity.objects.count()) == before


def test_the_schema_is_a_valid_json_schema_and_holds_what_an_export_writes():
    Draft202012Validator.check_schema(MANIFEST_SCHEMA)
    manifest_check({**minimal_manifest(evidence=[item(1), photo_item(2)]), "files": {}})


# --- The ZIP itself ---------------------------------------------------------------------------


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    assert _refused("verify_export", path).startswith("not a readable ZIP file")


def test_a_bundle_without_a_manifest_is_refused(tmp_path):
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("report.html", "<p>hello</p>")
    assert _refused("verify_export", path) == "manifest.json is missing"


@pytest.mark.parametrize(
    "name, said",
    [
        ("../../etc/passwd", "holds a file with an unacceptable name: '../../etc/passwd'"),
        ("/etc/passwd", "holds a file with an unacceptable name: '/etc/passwd'"),
        ("previews/1.jpg\nBundle intact", "holds a file with an unacceptable name: "),
        ("originals\\1.jpg", "holds a file with an unacceptable name: 'originals\\\\1.jpg'"),
    ],
)
def test_odd_file_names_are_refused_and_never_printed_as_they_are(tmp_path, name, said):
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(), {name: b"x"})
    refusal = _refused("verify_export", path)
    assert refusal.startswith(said) and "\n" not in refusal


def test_two_files_of_the_same_name_are_refused(tmp_path):
    # zipfile reads the last of two; another tool may read the first.
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(), {"report.html": b"<p>one</p>"})
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(path, "a") as archive,
    ):
        archive.writestr("report.html", b"<p>two</p>")
    assert _refused("verify_export", path) == "holds two files named report.html"


def test_an_encrypted_file_and_a_compression_casefile_never_uses_are_refused(tmp_path):
    path = tmp_path / "bzip2.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("manifest.json", json.dumps(minimal_manifest()))
    assert _refused("verify_export", path) == (
        "manifest.json is compressed with method 12, which Casefile bundles never use"
    )
    path = bundle_write(tmp_path / "encrypted.zip", minimal_manifest())
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))  # manifest.json's entry
    data[central + 8] |= 0x1  # the "encrypted" flag
    path.write_bytes(bytes(data))
    assert _refused("verify_export", path) == "manifest.json is encrypted"


def test_too_many_files_are_refused_before_the_directory_is_read(tmp_path, settings):
    settings.CASEFILE_BUNDLE_MAX_MEMBERS = 3
    members = {f"previews/{i}.jpg": b"x" for i in range(3)}
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(), members)
    assert _refused("verify_export", path) == (
        "holds 5 files, above the limit of 3 (CASEFILE_BUNDLE_MAX_MEMBERS)"
    )
    # A small file may declare more files than it holds: refused on its end record alone,
    # before zipfile reads the directory into memory.
    settings.CASEFILE_BUNDLE_MAX_MEMBERS = 1000
    data = bytearray(bundle_write(tmp_path / "liar.zip", minimal_manifest()).read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 0xFFFE, 0xFFFE)
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    assert _refused("verify_export", tmp_path / "liar.zip") == (
        "holds 65,534 files, above the limit of 1,000 (CASEFILE_BUNDLE_MAX_MEMBERS)"
    )


def test_files_sharing_their_compressed_data_are_refused_as_a_zip_bomb(tmp_path):
    # The "quoted overlap" bomb: two directory entries pointing into the same data.
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(), {"a.txt": b"a" * 1000})
    data = bytearray(path.read_bytes())
    entries = [i for i in range(len(data)) if data[i : i + 4] == b"PK\x01\x02"]
    data[entries[1] + 42 : entries[1] + 46] = data[entries[0] + 42 : entries[0] + 46]
    path.write_bytes(bytes(data))
    assert _refused("verify_export", path).endswith("overlaps the next file: a zip bomb")


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, settings):
    settings.CASEFILE_BUNDLE_MAX_MEMBER_BYTES = 1000
    path = bundle_write(
        tmp_path / "bundle.zip", minimal_manifest(), {"originals/1.jpg": os.urandom(2000)}
    )
    assert _refused("verify_export", path) == (
        "originals/1.jpg is 2.0 KiB, above the 1000 bytes limit (CASEFILE_BUNDLE_MAX_MEMBER_BYTES)"
    )


def test_a_damaged_file_is_named_among_the_problems(tmp_path):
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(), {"report.html": b"<p>" * 1000})
    data = bytearray(path.read_bytes())
    first = data.find(b"PK\x03\x04")
    data[first + 14] ^= 0xFF  # its CRC-32, in the local header and in the directory
    central = data.find(b"PK\x01\x02")
    data[central + 16] ^= 0xFF
    path.write_bytes(bytes(data))
    code, out, err = _run("verify_export", path)
    assert code == 1 and "BROKEN report.html: cannot be read (Bad CRC-32" in out


# --- Zip bombs, with the memory they cost -------------------------------------------------------


def test_verify_export_refuses_a_1_gib_preview_hidden_in_a_small_bundle_within_200_mb(bombs):
    size = bombs["preview"].stat().st_size
    assert size < 2 * MIB  # 1 GiB of zeros deflates ~1,000 times
    peak, err = _child_peak("verify_export", str(bombs["preview"]))
    assert peak["code"] == 1
    assert err.startswith("BROKEN: previews/1.jpg expands 1,02")
    assert err.rstrip("\n").endswith(
        " KiB to 1.0 GiB), above the limit of 100 (CASEFILE_BUNDLE_MAX_RATIO): a zip bomb"
    )
    assert err.count("\n") == 1
    assert peak["peak_mb"] < PEAK_LIMIT_MB, peak
    print(f"verify_export, 1 GiB preview: peak RSS {peak['peak_mb']} MB")


def test_verify_export_refuses_a_1_gib_manifest_within_200_mb(bombs):
    peak, err = _child_peak("verify_export", str(bombs["manifest"]))
    assert peak["code"] == 1
    assert err == (
        "BROKEN: manifest.json is 1.0 GiB, above the 16.0 MiB limit "
        "(CASEFILE_BUNDLE_MAX_MANIFEST_BYTES)\n"
    )
    assert peak["peak_mb"] < PEAK_LIMIT_MB, peak
    print(f"verify_export, 1 GiB manifest: peak RSS {peak['peak_mb']} MB")


def test_with_the_ratio_lifted_verify_export_streams_the_1_gib_file_within_200_mb(bombs):
    # Not refused by the limits now: the whole gigabyte is inflated and hashed, in chunks.
    peak, err = _child_peak(
        "verify_export",
        str(bombs["preview"]),
        "--accept-unsigned",  # unsigned on purpose: what is measured is the reading
        CASEFILE_BUNDLE_MAX_RATIO="100000",
    )
    assert (peak["code"], err) == (0, "")
    assert peak["peak_mb"] < PEAK_LIMIT_MB, peak
    print(f"verify_export, 1 GiB preview streamed: peak RSS {peak['peak_mb']} MB")


def _traced(function) -> float:
    """Peak Python memory (MB) while `function` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def test_import_case_refuses_a_1_gib_preview_within_200_mb_and_stores_nothing(
    personas, bombs, settings
):
    before = Case.objects.count()
    said = []
    peak = _traced(
        lambda: said.append(
            _refused("import_case", bombs["preview"], "--owner", personas.outsider.username)
        )
    )
    assert said[0].startswith("previews/1.jpg expands 1,02")
    assert peak < PEAK_LIMIT_MB
    print(f"import_case, 1 GiB preview refused by the ratio: peak traced {peak:.1f} MB")
    # With the ratio lifted the bundle verifies (the whole gigabyte inflated and hashed), and
    # the preview is refused by its own limit, before a byte of it is stored.
    settings.CASEFILE_BUNDLE_MAX_RATIO = 100_000
    said.clear()
    peak = _traced(
        lambda: said.append(
            _refused("import_case", bombs["preview"], "--owner", personas.outsider.username)
        )
    )
    assert said == ["evidence 1's preview: previews/1.jpg is 1.0 GiB, above the 16.0 MiB limit"]
    assert peak < PEAK_LIMIT_MB
    assert Case.objects.count() == before
    assert not _stored_files()
    print(f"import_case, 1 GiB preview refused by its size: peak traced {peak:.1f} MB")


# --- Previews and thumbnails -----------------------------------------------------------------


def _stored_files() -> list[str]:
    """Every file in storage (MEDIA_ROOT is a fresh folder in each test)."""
    root = Path(default_storage.location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header declares width × height pixels."""
    data = bytearray(jpeg_bytes(size=(16, 16)))
    frame = data.find(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


HOSTILE_PREVIEWS = {
    "a pixel bomb (PNG)": (
        png_declaring(100_000, 100_000),
        "The image is 100000×100000 pixels, above the 60-megapixel limit.",
    ),
    "a pixel bomb (JPEG)": (
        _jpeg_declaring(65_000, 65_000),
        "The image is 65000×65000 pixels, above the 60-megapixel limit.",
    ),
    "a PDF": (pdf_bytes(), "Not an image: the file is a PDF document."),
    "a PNG": (
        (
            lambda: (out := io.BytesIO(), Image.new("RGB", (8, 8)).save(out, "PNG"), out)[2]
        )().getvalue(),
        "is a PNG image, not a JPEG",
    ),
    "larger than a preview": (
        jpeg_bytes(size=(2000, 100)),
        "is 2000×100 pixels: larger than Casefile makes one (1600 pixels on the long edge)",
    ),
    "truncated": (truncated(_preview(), 0.3), ""),
}


@pytest.mark.parametrize("case", list(HOSTILE_PREVIEWS))
def test_a_preview_that_is_not_one_is_refused_and_the_import_leaves_nothing_behind(
    personas, tmp_path, case
):
    data, said = HOSTILE_PREVIEWS[case]
    original = b"%PDF-1.4 the ministry's letter"
    sha = hashlib.sha256(original).hexdigest()
    document = item(
        1,
        kind="document",
        sha256=sha,
        size=len(original),
        content_type="application/pdf",
        file="originals/1.pdf",
    )
    # The first photo imports well (its preview and thumbnail stored), the second does not.
    manifest = minimal_manifest(evidence=[document, photo_item(2), photo_item(3, thumbnail=None)])
    members = {
        "originals/1.pdf": original,
        "previews/2.jpg": _preview(),
        "thumbnails/2.jpg": _preview(400),
        "previews/3.jpg": data,
    }
    path = bundle_write(tmp_path / "bundle.zip", manifest, members)
    before = (
        Case.objects.count(),
        Evidence.objects.count(),
        Photo.objects.count(),
        Activity.objects.count(),
    )
    refusal = _refused("import_case", path, "--owner", personas.outsider.username)
    assert refusal.startswith("evidence 3's preview previews/3.jpg") and said in refusal
    if case == "truncated":
        assert refusal.endswith("the image data is damaged")
    after = (
        Case.objects.count(),
        Evidence.objects.count(),
        Photo.objects.count(),
        Activity.objects.count(),
    )
    assert after == before
    assert _stored_files() == []


def test_a_good_import_stores_the_previews_and_the_original(personas, tmp_path):
    # The same bundle with a good third preview: the refusals above are for the bad one.
    original = b"%PDF-1.4 the ministry's letter"
    sha = hashlib.sha256(original).hexdigest()
    document = item(
        1,
        kind="document",
        sha256=sha,
        size=len(original),
        content_type="application/pdf",
        file="originals/1.pdf",
    )
    manifest = minimal_manifest(evidence=[document, photo_item(2), photo_item(3, thumbnail=None)])
    members = {
        "originals/1.pdf": original,
        "previews/2.jpg": _preview(),
        "thumbnails/2.jpg": _preview(400),
        "previews/3.jpg": _preview(),
    }
    path = bundle_write(tmp_path / "bundle.zip", manifest, members)
    code, out, err = _run("import_case", path, "--owner", personas.outsider.username)
    assert (code, err) == (0, "")
    case = Case.objects.get(title="The Dandong freight train", memberships__user=personas.outsider)
    stored = _stored_files()
    assert f"originals/{sha[:2]}/{sha[2:4]}/{sha}" in stored
    photos = Photo.objects.filter(evidence__case=case).order_by("evidence__title")
    assert [bool(p.preview) for p in photos] == [True, True]
    assert [bool(p.thumbnail) for p in photos] == [True, False]
    assert len(stored) == 4


@pytest.mark.parametrize(
    "change, said",
    [
        ({"kind": "weapon"}, "Value 'weapon' is not a valid choice"),
        ({"title": "x" * 301}, "Ensure this value has at most 300 characters"),
        ({"url": "javascript:alert(1)"}, "Enter a valid URL"),
    ],
)
def test_values_the_models_refuse_are_refused_and_nothing_is_imported(
    personas, tmp_path, change, said
):
    path = bundle_write(tmp_path / "bundle.zip", minimal_manifest(evidence=[item(1, **change)]))
    before = Case.objects.count(), Evidence.objects.count()
    refusal = _refused("import_case", path, "--owner", personas.outsider.username)
    assert refusal.startswith("the bundle's manifest cannot be imported: ") and said in refusal
    assert (Case.objects.count(), Evidence.objects.count()) == before


# --- Custody records carried over -------------------------------------------------------------

ODD_ENTRIES = [
    {"verb": 5},
    "a string",
    None,
    {"at": 17, "actor": ["rita"], "data": "x", "hash": None, "id": "7"},
    {},
    custody_entry(),
]


def test_the_custody_api_and_page_show_odd_stored_entries_instead_of_failing(personas, client):
    # Rows imported before entries were checked may hold anything: they must still be shown.
    evidence = LinkEvidenceFactory(case=personas.case)
    activity_record(
        case=personas.case,
        actor=personas.owner,
        verb=Verb.EVIDENCE_IMPORTED,
        target=evidence,
        data={"custody": ODD_ENTRIES},
    )
    api = APIClient()
    api.force_authenticate(user=personas.owner)
    response = api.get(f"/api/v1/evidence/{evidence.pk}/custody/")
    assert response.status_code == 200, response.content
    carried = [e for e in response.json()["events"] if e["carried_over"]]
    unreadable = {
        "id": None,
        "at": "",
        "actor": None,
        "verb": "",
        "event": "(an unreadable entry)",
        "target": "",
        "data": {},
        "prev_hash": "",
        "hash": "",
        "carried_over": True,
    }
    assert carried == [unreadable] * 5 + [{**custody_entry(), "carried_over": True}]
    client.force_login(personas.owner)
    page = client.get(f"/evidence/{evidence.pk}/custody/")
    assert page.status_code == 200
    assert b"(an unreadable entry)" in page.content


def test_a_custody_record_stored_as_something_else_than_a_list_is_shown_without_it(
    personas, client
):
    evidence = LinkEvidenceFactory(case=personas.case)
    activity_record(
        case=personas.case,
        actor=personas.owner,
        verb=Verb.EVIDENCE_IMPORTED,
        target=evidence,
        data={"custody": {"not": "a list"}},
    )
    api = APIClient()
    api.force_authenticate(user=personas.owner)
    response = api.get(f"/api/v1/evidence/{evidence.pk}/custody/")
    assert response.status_code == 200
    assert [e["verb"] for e in response.json()["events"]] == ["evidence.imported"]


def _mutations(value, path=()):
    """Every place of a manifest with each of a few wrong values put there, one at a time, and
    each object with a key removed or an unknown key added."""
    wrong = [None, 1, 1.0, -1, 1.5, True, "x", "", [], {}, ["x"], {"x": 1}, "0" * 64]
    yield path, "replace", wrong
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, "remove", key
            yield from _mutations(inner, (*path, key))
        yield path, "add", "unheard_of"
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _mutations(inner, (*path, index))


def test_the_compiled_schema_and_jsonschema_agree_on_every_mutation():
    """`manifest_check` lets through what the compiled validator passes (fastjsonschema) and
    asks jsonschema about the rest: the two must agree on what passes."""
    manifest = {
        **minimal_manifest(evidence=[item(1), photo_item(2)]),
        "files": {"originals/1.jpg": {"sha256": "a" * 64, "size": 3}},
    }
    reference = Draft202012Validator(MANIFEST_SCHEMA)
    compiled = _fast_validator()
    tried = 0
    for path, how, what in _mutations(manifest):
        for value in what if how == "replace" else [what]:
            changed = copy.deepcopy(manifest)
            parent = changed
            for part in path[:-1] if how == "replace" else path:
                parent = parent[part]
            if how == "replace":
                if not path:
                    continue
                parent[path[-1]] = value
            elif how == "remove":
                del parent[value]
            else:
                parent[value] = 1
            try:
                compiled(changed)
                fast = True
            except Exception:
                fast = False
            assert fast == reference.is_valid(changed), (path, how, value)
            tried += 1
    assert tried > 1000


@pytest.mark.parametrize(
    "twice",
    [
        b'"case": {"id": 1, "title": "x", "summary": "", "status": "open", "id": 2}',
        # The same key spelled two ways: one escaped.
        b'"case": {"id": 1, "title": "x", "summary": "", "status": "open", "\\u0069d": 2}',
        # Colons inside strings are not keys.
        b'"case": {"id": 1, "title": "a\\":", "summary": ":", "status": "open", "id": 2}',
    ],
)
def test_a_key_twice_anywhere_is_refused_and_named(twice):
    listed = json.loads(LISTED)
    del listed["case"]
    data = json.dumps(listed).encode()[:-1] + b", " + twice + b"}"
    with pytest.raises(BundleError, match="appears twice in one object"):
        manifest_parse(data)
    # Without the second key it is a valid manifest: the refusal is for that key alone.
    manifest_parse(data.replace(b', "id": 2}', b"}").replace(b', "\\u0069d": 2}', b"}"))
