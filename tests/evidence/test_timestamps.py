"""RFC 3161 trusted timestamps from a real TSA (OpenSSL's `openssl ts -reply` behind an HTTP
server on 127.0.0.1, `tests/tsa.py`): of checkpoints, of originals at ingest and of exports;
what happens when the TSA is down or not configured; and forged or edited tokens refused by
`verify_custody` and `verify_export`. Nothing is mocked."""

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from django.core.cache import cache
from django.core.management import call_command

from cases.activity import activity_record, checkpoint_write
from cases.models import ActivityCheckpoint, TrustedTimestamp
from cases.services import checkpoint_timestamp
from evidence.bundle.manifest import SIGNATURE_FILE, TIMESTAMP_FILE, TSA_CERTIFICATES_FILE
from evidence.models import Evidence
from evidence.services.evidence import photo_ingest
from evidence.services.recovery import jobs_recover
from evidence.services.timestamps import FILL_THROTTLE_KEY, timestamps_fill_due
from evidence.tasks import checkpoints_write_task
from tests.custody_case import custody_fixtures
from tests.evidence.test_export import _bundle, _export, _members
from tests.evidence.test_signed_bundles import _import_refused, _write
from tests.factories import UserFactory
from tests.images import jpeg_bytes, upload
from tests.needs import unavailable
from tests.tamper import append_only_lifted
from tests.tsa import TSA_NAME, TestTsa, closed_port_url

_custody_snapshot, _custody_world, personas, things = custody_fixtures()


@pytest.fixture(scope="module")
def _tsa(tmp_path_factory):
    with TestTsa(tmp_path_factory.mktemp("tsa")) as tsa:
        yield tsa


@pytest.fixture
def tsa(_tsa, settings):
    settings.CASEFILE_TSA_URL = _tsa.url
    settings.CASEFILE_TSA_CA_FILE = str(_tsa.ca_file)
    settings.CASEFILE_TSA_TIMEOUT = 10
    return _tsa


@pytest.fixture
def tsa_down(settings):
    settings.CASEFILE_TSA_URL = closed_port_url()
    settings.CASEFILE_TSA_CONNECT_TIMEOUT = 1
    settings.CASEFILE_TSA_TIMEOUT = 1


def _command(name, *args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def _ingest(personas, capture, *, seed=1):
    with capture(execute=True):
        evidence, _ = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(seed=seed), f"photo-{seed}.jpg", "image/jpeg"),
        )
    evidence.refresh_from_db()
    return evidence


def _stamp(subject, object_id) -> TrustedTimestamp | None:
    return TrustedTimestamp.objects.filter(subject=subject, object_id=object_id).first()


# --- Taking them ----------------------------------------------------------------------------


def test_a_checkpoint_is_timestamped_over_its_signature(personas, tsa):
    activity_record(case=personas.case, actor=None, verb="case.updated")
    assert checkpoints_write_task() == 1
    checkpoint = ActivityCheckpoint.objects.filter(case=personas.case).latest("id")
    stamp = _stamp("checkpoint", checkpoint.pk)
    assert stamp is not None and stamp.tsa == TSA_NAME
    assert stamp.digest == hashlib.sha256(base64.b64decode(checkpoint.signature)).hexdigest()
    assert abs((stamp.generated_at - checkpoint.created_at).total_seconds()) < 60
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 0, out
    assert f"latest checkpoint: timestamped by {TSA_NAME} at " in out
    assert f"(serial {stamp.serial})" in out


def test_an_original_is_timestamped_at_ingest_by_the_worker(
    personas, tsa, django_capture_on_commit_callbacks, client
):
    before = tsa.replies
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        evidence, _ = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(seed=3), "photo.jpg", "image/jpeg"),
        )
    # Nothing asked of the TSA inside the upload's transaction: only once it commits.
    assert tsa.replies == before and _stamp("evidence", evidence.pk) is None
    for callback in callbacks:
        callback()
    stamp = _stamp("evidence", evidence.pk)
    assert stamp is not None and stamp.digest == evidence.sha256 and stamp.tsa == TSA_NAME
    # Shown in the custody record, through both doors (TSA, time, serial).
    client.force_login(personas.viewer)
    body = client.get(f"/api/v1/evidence/{evidence.pk}/custody/").json()
    assert body["trusted_timestamp"] == {
        "timestamp": {
            "tsa": TSA_NAME,
            "at": stamp.generated_at.isoformat(),
            "serial": stamp.serial,
        },
        "text": f"timestamped by {TSA_NAME} at {stamp.generated_at.isoformat()} "
        f"(serial {stamp.serial})",
    }
    page = client.get(f"/evidence/{evidence.pk}/custody/").content.decode()
    assert f"timestamped by <strong>{TSA_NAME}</strong>" in page and stamp.serial in page
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 0, out
    assert f"evidence {evidence.pk} “{evidence.label}”: intact sha256 {evidence.sha256}; " in out
    assert f"timestamped by {TSA_NAME}" in out


def test_a_tsa_that_is_down_fails_nothing_and_the_recovery_fills_in_later(
    personas, tsa_down, settings, django_capture_on_commit_callbacks, client, _tsa, tmp_path
):
    evidence = _ingest(personas, django_capture_on_commit_callbacks, seed=5)
    assert evidence.photo.status == "ready"
    activity_record(case=personas.case, actor=None, verb="case.updated")
    assert checkpoints_write_task() == 1
    assert not TrustedTimestamp.objects.exists()
    client.force_login(personas.viewer)
    body = client.get(f"/api/v1/evidence/{evidence.pk}/custody/").json()
    assert body["trusted_timestamp"] == {"timestamp": None, "text": "no trusted timestamp"}
    assert body["checkpoints"][0]["trusted_timestamp"] is None
    page = client.get(f"/evidence/{evidence.pk}/custody/").content.decode()
    assert "no trusted timestamp" in page
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 0 and "no trusted timestamp" in out, out
    # An export while the TSA is down: ready, signed, without a trusted time.
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    assert export.status == "ready"
    assert TIMESTAMP_FILE not in _members(_bundle(export, tmp_path))

    # The TSA is back: the workers' recovery sends the task that fills the timestamps in.
    settings.CASEFILE_TSA_URL = _tsa.url
    settings.CASEFILE_TSA_CA_FILE = str(_tsa.ca_file)
    cache.delete(FILL_THROTTLE_KEY)
    assert jobs_recover().timestamps == 1
    assert _stamp("evidence", evidence.pk) is not None
    assert TrustedTimestamp.objects.filter(subject="checkpoint").count() == (
        ActivityCheckpoint.objects.filter(case=personas.case).count()
    )
    # Throttled: the next recovery does not ask again at once.
    assert jobs_recover().timestamps == 0


def test_without_a_tsa_configured_nothing_is_asked_and_nothing_fails(
    personas, settings, django_capture_on_commit_callbacks
):
    settings.CASEFILE_TSA_URL = ""
    evidence = _ingest(personas, django_capture_on_commit_callbacks, seed=7)
    checkpoint_write(case=personas.case, reason="schedule")
    assert timestamps_fill_due() == 0
    assert not TrustedTimestamp.objects.exists()
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 0 and f"sha256 {evidence.sha256}; no trusted timestamp" in out, out


# --- Exports --------------------------------------------------------------------------------


@pytest.fixture
def stamped_bundle(personas, things, tsa, django_capture_on_commit_callbacks, tmp_path):
    """A bundle of the custody case whose originals and checkpoints all have tokens."""
    checkpoint_write(case=personas.case, reason="schedule")
    assert timestamps_fill_due() > 0
    export = _export(
        personas.owner, personas.case, django_capture_on_commit_callbacks, originals=True
    )
    return _bundle(export, tmp_path)


def test_an_export_is_timestamped_and_verify_export_says_by_whom_and_when(stamped_bundle, tsa):
    members = _members(stamped_bundle)
    assert TIMESTAMP_FILE in members and TSA_CERTIFICATES_FILE in members
    manifest = json.loads(members["manifest.json"])
    assert manifest["timestamps"] == {
        "certificates": TSA_CERTIFICATES_FILE,
        "export_token": TIMESTAMP_FILE,
    }
    assert members[TSA_CERTIFICATES_FILE] == tsa.ca_file.read_bytes()
    assert all(c["timestamp"] for c in manifest["activity"]["checkpoints"])
    originals = [e for e in manifest["evidence"] if e["sha256"]]
    assert originals and all(e["timestamp"] for e in originals)
    code, out = _command("verify_export", str(stamped_bundle), "--tsa-ca", str(tsa.ca_file))
    assert code == 0, out
    assert f"Export timestamped by {TSA_NAME} at " in out
    checkpoints = len(manifest["activity"]["checkpoints"])
    assert (
        f"Trusted timestamps verified: {checkpoints} of {checkpoints} checkpoint(s), "
        f"{len(originals)} of {len(originals)} original(s) at ingest"
    ) in out
    # Without --tsa-ca: the roots the bundle carries, their fingerprint printed to compare.
    code, out = _command("verify_export", str(stamped_bundle))
    assert code == 0 and "roots the bundle carries" in out, out


def test_an_edited_export_token_fails_verify_export_and_is_named(stamped_bundle, tsa):
    members = _members(stamped_bundle)
    token = bytearray(members[TIMESTAMP_FILE])
    token[-20] ^= 0x01
    forged = _write(stamped_bundle, {**members, TIMESTAMP_FILE: bytes(token)})
    code, out = _command("verify_export", str(forged), "--tsa-ca", str(tsa.ca_file))
    assert code == 1
    assert f"BROKEN {TIMESTAMP_FILE}: not a valid trusted timestamp of manifest.json.sig" in out
    # import_case refuses what verify_export refuses.
    UserFactory(username="charlie")
    assert TIMESTAMP_FILE in _import_refused(forged)


def test_an_original_s_token_moved_to_another_item_fails_verify_export(stamped_bundle, tsa):
    """The manifest re-signed is out of a forger's reach; this checks the token check itself:
    with the signature left alone the manifest's edit fails too, and the token is named."""
    members = _members(stamped_bundle)
    manifest = json.loads(members["manifest.json"])
    stamped = [e for e in manifest["evidence"] if e["timestamp"]]
    stamped[0]["timestamp"], stamped[1]["timestamp"] = (
        stamped[1]["timestamp"],
        stamped[0]["timestamp"],
    )
    forged = _write(stamped_bundle, {**members, "manifest.json": json.dumps(manifest).encode()})
    code, out = _command("verify_export", str(forged), "--tsa-ca", str(tsa.ca_file))
    assert code == 1
    label = f"evidence {stamped[0]['id']} ({stamped[0]['label']})"
    assert f"BROKEN {label}: its trusted timestamp from ingest does not hold (it timestamps" in out


def test_a_token_over_another_digest_fails_verify_export(stamped_bundle, tsa):
    """A genuine token of the same TSA, over something else: the export's and an original's."""
    members = _members(stamped_bundle)
    other = tsa.reply_for(hashlib.sha256(b"another manifest's signature").digest())
    forged = _write(stamped_bundle, {**members, TIMESTAMP_FILE: other})
    code, out = _command("verify_export", str(forged), "--tsa-ca", str(tsa.ca_file))
    assert code == 1 and f"BROKEN {TIMESTAMP_FILE}: not a valid trusted timestamp" in out
    assert "it timestamps the digest" in out


def test_a_token_from_another_tsa_fails_against_the_roots_given(stamped_bundle, tsa, tmp_path):
    members = _members(stamped_bundle)
    with TestTsa(tmp_path / "rogue", ca_name="Rogue Root CA") as rogue:
        token = rogue.reply_for(hashlib.sha256(members[SIGNATURE_FILE]).digest())
    forged = _write(stamped_bundle, {**members, TIMESTAMP_FILE: token})
    code, out = _command("verify_export", str(forged), "--tsa-ca", str(tsa.ca_file))
    assert code == 1 and f"BROKEN {TIMESTAMP_FILE}: not a valid trusted timestamp" in out


def test_verify_custody_refuses_an_edited_or_misplaced_token(personas, things, tsa):
    checkpoint_write(case=personas.case, reason="schedule")
    checkpoint_write(case=personas.case, reason="schedule")
    assert timestamps_fill_due() > 0
    photo = things.public_photo
    stamp = _stamp("evidence", photo.pk)
    other = _stamp("evidence", things.secret_photo.pk)
    token = bytearray(stamp.token)
    token[-20] ^= 0x01
    with append_only_lifted():
        TrustedTimestamp.objects.filter(pk=stamp.pk).update(token=bytes(token))
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 1
    assert f"evidence {photo.pk} “{photo.label}”: BROKEN" in out
    assert "its trusted timestamp does not hold: its signature does not verify" in out
    # Another item's genuine token, its digest column rewritten to match this item.
    with append_only_lifted():
        TrustedTimestamp.objects.filter(pk=stamp.pk).update(token=other.token, digest=photo.sha256)
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 1 and "its trusted timestamp does not hold: it timestamps the digest" in out
    # And a checkpoint's token swapped for another checkpoint's.
    first, second = TrustedTimestamp.objects.filter(
        case=personas.case, subject="checkpoint"
    ).order_by("id")[:2]
    with append_only_lifted():
        TrustedTimestamp.objects.filter(pk=first.pk).update(token=second.token)
    code, out = _command("verify_custody", "--case", str(personas.case.pk))
    assert code == 1 and "its trusted timestamp does not hold" in out


def test_an_outsider_verifies_the_timestamps_with_only_openssl(stamped_bundle, tsa, tmp_path):
    """The README's commands, as written there."""
    if not (shutil.which("openssl") and shutil.which("sha256sum")):
        unavailable("needs openssl and sha256sum")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(stamped_bundle) as archive:
        archive.extractall(folder)

    def run(command: str):
        return subprocess.run(  # noqa: S602 (the README's shell lines, run as written)
            command, shell=True, cwd=folder, capture_output=True, text=True
        )

    lines = [
        "sha256sum -c --strict SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin "
        "-in manifest.json -sigfile manifest.json.sig",
        "openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin "
        "-in SHA256SUMS -sigfile SHA256SUMS.sig",
        "openssl ts -verify -data manifest.json.sig -in manifest.json.sig.tsr "
        "-CAfile tsa-certificates.pem",
        "openssl ts -reply -in manifest.json.sig.tsr -text",
    ]
    for line in lines:
        result = run(line)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
    assert "Verification: OK" in run(lines[3]).stdout
    assert "Time stamp:" in run(lines[4]).stdout
    # An original's token from ingest, out of the manifest, against the original's SHA-256.
    manifest = json.loads((folder / "manifest.json").read_text())
    item = next(e for e in manifest["evidence"] if e["file"] and e["timestamp"])
    if shutil.which("jq"):
        extract = run(
            f"""jq -r '.evidence[] | select(.file == "{item["file"]}") | .timestamp' """
            "manifest.json | base64 -d > original.tsr"
        )
        assert extract.returncode == 0, extract.stderr
    else:  # the README's jq line, without jq
        (folder / "original.tsr").write_bytes(base64.b64decode(item["timestamp"]))
    result = run(
        f"openssl ts -verify -digest $(sha256sum {item['file']} | cut -d' ' -f1) "
        "-in original.tsr -CAfile tsa-certificates.pem"
    )
    assert result.returncode == 0 and "Verification: OK" in result.stdout, result.stderr
    # A changed signature no longer matches its token.
    (folder / "manifest.json.sig").write_bytes(b"\0" * 64)
    assert run(lines[3]).returncode != 0


def test_a_timestamp_carries_nothing_of_a_source(personas, things, tsa):
    """The TSA is told a SHA-256 and a nonce, and its token says nothing else."""
    timestamps_fill_due()
    secret = things.secret_photo
    stamp = _stamp("evidence", secret.pk)
    text = subprocess.run(  # noqa: S603
        [shutil.which("openssl"), "ts", "-reply", "-in", "/dev/stdin", "-text"],
        input=bytes(stamp.token),
        capture_output=True,
        check=True,
    ).stdout.decode()
    source = secret.source
    for secret_text in filter(None, [source.name, secret.place_name, secret.original_name]):
        assert secret_text not in text
    assert stamp.digest == Evidence.objects.get(pk=secret.pk).sha256
    assert source.name.encode() not in bytes(stamp.token)


def test_a_checkpoint_stamp_is_taken_once(personas, tsa):
    checkpoint = checkpoint_write(case=personas.case, reason="schedule")
    first = checkpoint_timestamp(checkpoint=checkpoint)
    replies = tsa.replies
    assert checkpoint_timestamp(checkpoint=checkpoint) == first
    assert tsa.replies == replies
