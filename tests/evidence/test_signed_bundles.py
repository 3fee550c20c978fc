"""Signed bundles: every forgery a sender could try — an edited manifest with fixed sums, empty
sums, a deleted tail row, a reordered pair, a replaced signature, a bundle re-signed by another
key, a signature stripped — fails `verify_export` naming what failed, and an outsider checks a
bundle with nothing but openssl and sha256sum. (A forged row marked redacted:
tests/evidence/test_export.py.)"""

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from cases import signing
from cases.activity import checkpoint_statement, checkpoint_write
from cases.models import Activity, ActivityCheckpoint, Case
from evidence.bundle.manifest import KEY_FILE, SIGNATURE_FILE, SUMS_SIGNATURE_FILE
from tests.custody_case import custody_fixtures
from tests.evidence.test_export import _bundle, _export, _members
from tests.needs import unavailable
from tests.tamper import append_only_lifted

_custody_snapshot, _custody_world, personas, things = custody_fixtures()


@pytest.fixture
def bundle(personas, things, django_capture_on_commit_callbacks, tmp_path):
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    return _bundle(export, tmp_path)


def _verify(path, *args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_export", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def _write(path, members: dict, name="forged.zip"):
    target = path.with_name(name)
    with zipfile.ZipFile(target, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return target


def _sums(members: dict, names) -> bytes:
    return "".join(f"{hashlib.sha256(members[n]).hexdigest()}  {n}\n" for n in names).encode()


def _forge(path, change, *, key: Ed25519PrivateKey | None = None):
    """The bundle with its manifest changed, every hash fixed, and — with `key` — the key file,
    fingerprint and both signatures made by that key, as a forger with a key of their own would."""
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    if key is not None:
        members[KEY_FILE] = signing.public_pem(key.public_key())
        manifest["files"][KEY_FILE] = {
            "sha256": hashlib.sha256(members[KEY_FILE]).hexdigest(),
            "size": len(members[KEY_FILE]),
        }
        manifest["signing"]["key_fingerprint"] = signing.fingerprint(key.public_key())
        for checkpoint in manifest["activity"]["checkpoints"]:
            checkpoint["key"] = signing.fingerprint(key.public_key())
            statement = checkpoint_statement(checkpoint)
            checkpoint["signature"] = base64.b64encode(key.sign(statement)).decode()
    members["manifest.json"] = json.dumps(manifest).encode()
    if key is not None:
        members[SIGNATURE_FILE] = key.sign(members["manifest.json"])
    listed = [*manifest["files"], "manifest.json", SIGNATURE_FILE]
    members["SHA256SUMS"] = _sums(members, listed)
    if key is not None:
        members[SUMS_SIGNATURE_FILE] = key.sign(members["SHA256SUMS"])
    return _write(path, members)


def test_a_bundle_verifies_and_says_what_it_proved(bundle):
    code, out = _verify(bundle, "--fingerprint", signing.fingerprint(_our_key()))
    assert code == 0, out
    manifest = json.loads(_members(bundle)["manifest.json"])
    rows = len(manifest["activity"]["chain"])
    assert (
        f"Bundle verified: signed by key {signing.fingerprint(_our_key())} (the key given), "
        f"{len(_members(bundle))} files, chain of {rows} rows intact, "
    ) in out
    assert "redacted rows verified by commitment" in out
    assert "signed checkpoint(s) match the chain" in out
    assert manifest["version"] == 3
    assert manifest["signing"]["key_fingerprint"] == signing.fingerprint(_our_key())
    assert manifest["activity"]["checkpoints"][-1]["reason"] == "export"
    assert manifest["activity"]["checkpoints"][-1]["timestamp"] is None


def _our_key():
    return signing.signing_key().public_key()


def test_an_edited_manifest_with_fixed_sums_fails_on_its_signature(bundle):
    def decide(manifest):
        claim = next(c for c in manifest["claims"] if c["status"] == "supported")
        claim["status"] = "contradicted"

    code, out = _verify(_forge(bundle, decide))
    assert code == 1
    assert f"BROKEN {SIGNATURE_FILE}: not a signature of manifest.json" in out
    assert f"BROKEN {SUMS_SIGNATURE_FILE}: not a signature of SHA256SUMS" in out


def test_empty_sums_do_not_skip_the_manifest_check(bundle):
    members = _members(bundle)
    members["SHA256SUMS"] = b""
    code, out = _verify(_write(bundle, members))
    assert code == 1
    assert "BROKEN manifest.json: does not match its SHA-256 in SHA256SUMS" in out
    assert f"BROKEN {SUMS_SIGNATURE_FILE}: not a signature of SHA256SUMS" in out


def test_a_deleted_tail_row_fails(bundle):
    def drop_tail(manifest):
        activity = manifest["activity"]
        activity["chain"].pop()
        activity["rows"], activity["head"] = len(activity["chain"]), activity["chain"][-1]["hash"]

    code, out = _verify(_forge(bundle, drop_tail))
    assert code == 1
    assert "the chain's tail was deleted" in out
    assert f"BROKEN {SIGNATURE_FILE}" in out


def test_a_tail_deleted_in_the_database_before_the_export_is_named_in_the_bundle(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    checkpoint_write(case=personas.case, reason="schedule")
    last = Activity.objects.filter(case=personas.case).order_by("id").last()
    with append_only_lifted():
        Activity.objects.filter(pk=last.pk).delete()
    export = _export(personas.owner, personas.case, django_capture_on_commit_callbacks)
    code, out = _verify(_bundle(export, tmp_path))
    assert code == 1
    # Rows were written after the deletion (the export's own): the checkpoint's row is gone.
    assert f"is not the row it signed (activity {last.pk}): a row at or before it was" in out


def test_a_reordered_pair_fails_and_is_named(bundle):
    ids = {}

    def swap(manifest):
        chain = manifest["activity"]["chain"]
        chain[2], chain[3] = chain[3], chain[2]
        ids.update(a=chain[2]["id"], b=chain[3]["id"])

    code, out = _verify(_forge(bundle, swap))
    assert code == 1
    assert f"activity {ids['a']} and activity {ids['b']}: reordered" in out


def test_a_replaced_signature_fails(bundle):
    members = _members(bundle)
    members[SIGNATURE_FILE] = Ed25519PrivateKey.generate().sign(members["manifest.json"])
    code, out = _verify(_write(bundle, members))
    assert code == 1
    assert f"BROKEN {SIGNATURE_FILE}: not a signature of manifest.json" in out


def test_a_bundle_re_signed_by_another_key_fails_against_ours(bundle, tmp_path):
    theirs = Ed25519PrivateKey.generate()

    def decide(manifest):
        manifest["claims"][0]["status"] = "contradicted"

    forged = _forge(bundle, decide, key=theirs)
    other = signing.fingerprint(theirs.public_key())
    # Self-consistent: without a key to trust, it says whose it is, for the reader to compare.
    code, out = _verify(forged)
    assert code == 0 and f"signed by key {other} (the key it carries)" in out
    assert "Compare that fingerprint with the newsroom's published one" in out
    code, out = _verify(forged, "--fingerprint", signing.fingerprint(_our_key()))
    assert code == 1 and f"signed by key {other}, not by the key" in out
    (ours := tmp_path / "ours.pem").write_bytes(signing.public_pem(_our_key()))
    code, out = _verify(forged, "--key", str(ours))
    assert code == 1 and f"{KEY_FILE} is key {other}, not the key given" in out
    refusal = _import_refused(forged, "--key", str(ours))
    assert refusal.startswith("BROKEN: the bundle does not verify")


def _import_refused(bundle, *args: str) -> str:
    """What `import_case` says refusing `bundle` (one line on stderr, exit status 1)."""
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command(
            "import_case", str(bundle), "--owner", "charlie", *args,
            stdout=io.StringIO(), stderr=err,
        )  # fmt: skip
    assert exited.value.code == 1
    return err.getvalue()


def _unsigned(bundle):
    """The bundle as format 2 wrote it: no signature, key or checkpoints."""
    members = _members(bundle)
    manifest = json.loads(members["manifest.json"])
    manifest["version"] = 2
    del manifest["signing"], manifest["activity"]["checkpoints"], manifest["files"][KEY_FILE]
    for name in (KEY_FILE, SIGNATURE_FILE, SUMS_SIGNATURE_FILE):
        del members[name]
    members["manifest.json"] = json.dumps(manifest).encode()
    members["SHA256SUMS"] = _sums(members, [*manifest["files"], "manifest.json"])
    return _write(bundle, members, "unsigned.zip")


def test_an_unsigned_bundle_is_reported_unsigned_never_intact(bundle):
    unsigned = _unsigned(bundle)
    code, out = _verify(unsigned)
    assert code == 1
    assert "UNSIGNED: the bundle is not signed (format version 2" in out
    assert "Bundle verified" not in out and "intact:" not in out
    code, out = _verify(unsigned, "--accept-unsigned")
    assert code == 0 and "UNSIGNED" in out


def test_a_stripped_signature_of_a_signed_format_is_tampering(bundle):
    members = _members(bundle)
    del members[SIGNATURE_FILE]
    code, out = _verify(_write(bundle, members))
    assert code == 1 and f"BROKEN {SIGNATURE_FILE} is missing: the bundle's signature" in out


def test_import_refuses_an_unsigned_bundle_unless_asked_and_records_which(
    bundle, personas, django_capture_on_commit_callbacks
):
    unsigned = _unsigned(bundle)
    cases = Case.objects.count()
    assert _import_refused(unsigned).startswith("BROKEN: the bundle is not signed")
    assert Case.objects.count() == cases
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "import_case", str(unsigned), "--owner", "charlie", "--accept-unsigned", stdout=out
        )
    assert "UNSIGNED (accepted)" in out.getvalue()
    row = Activity.objects.filter(verb="case.imported").latest("id")
    assert row.data["signature"] == {
        "state": "unsigned",
        "reason": "format version 2, from before bundles were signed",
        "accepted_unsigned": True,
    }
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_case", str(bundle), "--owner", "charlie", stdout=io.StringIO())
    row = Activity.objects.filter(verb="case.imported").latest("id")
    assert row.data["signature"] == {
        "state": "signed",
        "key_fingerprint": signing.fingerprint(_our_key()),
    }


def test_an_outsider_verifies_with_only_openssl_and_sha256sum(bundle, tmp_path):
    if not (shutil.which("openssl") and shutil.which("sha256sum")):
        unavailable("needs openssl and sha256sum")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)

    def run(*command):
        return subprocess.run(command, cwd=folder, capture_output=True, text=True)  # noqa: S603

    for document in ("manifest.json", "SHA256SUMS"):
        result = run(
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin",
            "-in", document, "-sigfile", f"{document}.sig",
        )  # fmt: skip
        assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS").returncode == 0
    # The fingerprint the README tells outsiders to compare.
    der = subprocess.run(  # noqa: S603
        ["openssl", "pkey", "-pubin", "-in", folder / "signing-key.pem", "-outform", "DER"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == signing.fingerprint(_our_key())
    # One changed byte of the manifest, and openssl says so.
    (folder / "manifest.json").write_bytes((folder / "manifest.json").read_bytes() + b" ")
    result = run(
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signing-key.pem", "-rawin",
        "-in", "manifest.json", "-sigfile", "manifest.json.sig",
    )  # fmt: skip
    assert result.returncode != 0


def test_the_custody_record_shows_the_checkpoints_and_the_key(bundle, personas, things, client):
    """To any member, through both doors (a checkpoint holds counts and hashes only)."""
    client.force_login(personas.viewer)
    body = client.get(f"/api/v1/evidence/{things.public_photo.pk}/custody/").json()
    latest = ActivityCheckpoint.objects.filter(case=personas.case).latest("id")
    fingerprint = signing.fingerprint(_our_key())
    assert body["signing"] == {
        "algorithm": "Ed25519",
        "key_fingerprint": fingerprint,
        "public_key_url": "http://testserver/.well-known/casefile-signing-key",
    }
    assert body["checkpoints"][0] == {
        "id": latest.pk,
        "case": personas.case.pk,
        "rows": latest.rows,
        "head": latest.head,
        "head_id": latest.head_id,
        "at": latest.created_at.isoformat(),
        "reason": "export",
        "key": fingerprint,
        "signature": latest.signature,
        "timestamp": None,
        "trusted_timestamp": None,  # no TSA configured
        "covers_latest_event": False,  # the export's own row came after its checkpoint
    }
    assert body["trusted_timestamp"] == {"timestamp": None, "text": "no trusted timestamp"}
    page = client.get(f"/evidence/{things.public_photo.pk}/custody/").content.decode()
    assert "Signed checkpoints" in page and fingerprint in page
    assert "no trusted timestamp" in page and latest.signature[:16] in page
