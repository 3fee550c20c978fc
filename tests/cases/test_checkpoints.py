"""Signed checkpoints of a case's chain head: written by Celery beat and at every export, and
what `verify_custody` says when the chain no longer matches one — a deleted tail, a rewritten
row (even with every later hash recomputed), a reordered pair — or when a checkpoint is forged.
The attacker owns the database: the append-only triggers are lifted for the tampering."""

import base64
import io

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from cases import signing
from cases.activity import activity_digest, activity_record, checkpoint_write
from cases.models import Activity, ActivityCheckpoint
from evidence.tasks import checkpoints_write_task
from tests.tamper import append_only_lifted


def _rows(case, count=4):
    for i in range(count):
        activity_record(case=case, actor=None, verb="case.updated", data={"step": i})
    return list(Activity.objects.filter(case=case).order_by("id"))


def _verify(case) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_custody", case=case.pk, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_a_checkpoint_signs_the_head_with_the_newsroom_key(personas):
    rows = _rows(personas.case)
    checkpoint = checkpoint_write(case=personas.case, reason="schedule")
    key = signing.signing_key().public_key()
    assert (checkpoint.rows, checkpoint.head, checkpoint.head_id) == (
        len(rows),
        rows[-1].hash,
        rows[-1].pk,
    )
    assert checkpoint.key_fingerprint == signing.fingerprint(key)
    # No TSA configured: no trusted timestamp, and nothing fails for it.
    assert not checkpoint.case.timestamps.exists()
    code, out = _verify(personas.case)
    assert code == 0
    assert f"1 signed checkpoint(s) match the chain (latest: {len(rows)} rows at" in out


def test_the_beat_task_checkpoints_only_cases_whose_chain_grew(personas):
    other = personas.outsider.cases.get()
    _rows(personas.case)
    _rows(other, count=1)
    assert checkpoints_write_task.apply().get() == 2  # both cases have rows, none a checkpoint
    assert checkpoints_write_task.apply().get() == 0  # nothing new
    activity_record(case=personas.case, actor=None, verb="case.updated")
    assert checkpoints_write_task.apply().get() == 1
    assert ActivityCheckpoint.objects.filter(case=other).count() == 1


def test_a_deleted_tail_is_named(personas):
    rows = _rows(personas.case)
    checkpoint_write(case=personas.case, reason="schedule")
    with append_only_lifted():
        Activity.objects.filter(pk=rows[-1].pk).delete()
    code, out = _verify(personas.case)
    assert code == 1
    assert (
        f"the chain's tail was deleted: the checkpoint signed {len(rows)} rows ending with "
        f"activity {rows[-1].pk}, the chain has {len(rows) - 1}"
    ) in out


def test_a_rewritten_row_is_named_even_with_every_later_hash_recomputed(personas):
    rows = _rows(personas.case)
    checkpoint_write(case=personas.case, reason="schedule")
    prev = rows[0].prev_hash
    with append_only_lifted():
        # The unkeyed chain recomputed from the forged row on: chain_problems sees nothing.
        for i, row in enumerate(rows):
            if i == 1:
                row.data = {"step": "forged"}
            row.prev_hash = prev
            row.hash = activity_digest(
                case_id=row.case_id,
                actor_id=row.actor_id,
                verb=row.verb,
                target_type=row.target_type,
                target_id=row.target_id,
                target_label=row.target_label,
                data=row.data,
                created_at=row.created_at,
                prev_hash=prev,
            )
            prev = row.hash
            Activity.objects.filter(pk=row.pk).update(data=row.data, prev_hash="", hash=row.pk)
        for row in rows:
            Activity.objects.filter(pk=row.pk).update(prev_hash=row.prev_hash, hash=row.hash)
    code, out = _verify(personas.case)
    assert code == 1
    assert (
        f"row {len(rows)} of the chain (activity {rows[-1].pk}) is not the row it signed "
        f"(activity {rows[-1].pk}): a row at or before it was rewritten"
    ) in out


def test_a_reordered_pair_is_named(personas):
    rows = _rows(personas.case)
    checkpoint_write(case=personas.case, reason="schedule")
    a, b = rows[1], rows[2]
    fields = ("verb", "data", "created_at", "prev_hash", "hash", "target_label")
    with append_only_lifted():
        Activity.objects.filter(pk=a.pk).update(hash="swap")
        Activity.objects.filter(pk=b.pk).update(**{f: getattr(a, f) for f in fields})
        Activity.objects.filter(pk=a.pk).update(**{f: getattr(b, f) for f in fields})
    code, out = _verify(personas.case)
    assert code == 1
    assert f"activity {a.pk} and activity {b.pk}: reordered" in out


def test_a_forged_checkpoint_and_one_by_another_key_are_named(personas, settings, tmp_path):
    _rows(personas.case)
    forged = checkpoint_write(case=personas.case, reason="schedule")
    with append_only_lifted():
        ActivityCheckpoint.objects.filter(pk=forged.pk).update(rows=1)
    settings.CASEFILE_SIGNING_KEY_FILE = str(tmp_path / "other.pem")
    other = checkpoint_write(case=personas.case, reason="schedule")
    settings.CASEFILE_SIGNING_KEY_FILE = ""
    code, out = _verify(personas.case)
    assert code == 1
    assert "its signature does not verify (the checkpoint was altered)" in out
    assert f"signed by key {other.key_fingerprint}, not by key " in out


def test_casefile_key_generates_once_and_shows_the_fingerprint(settings, tmp_path):
    settings.CASEFILE_SIGNING_KEY_FILE = str(path := tmp_path / "key.pem")
    out = io.StringIO()
    call_command("casefile_key", "generate", stdout=out)
    key = signing.signing_key().public_key()
    assert f"fingerprint {signing.fingerprint(key)}" in out.getvalue()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    shown = io.StringIO()
    call_command("casefile_key", "show", stdout=shown)
    assert signing.public_pem(key).decode() in shown.getvalue()
    with pytest.raises(Exception, match="never overwritten"):
        call_command("casefile_key", "generate", stdout=io.StringIO())


def test_the_key_may_come_from_the_environment_as_base64(settings):
    raw = bytes([7]) * 32  # a fixed test key, as base64 of its raw private bytes
    settings.CASEFILE_SIGNING_KEY = base64.b64encode(raw).decode()
    expected = Ed25519PrivateKey.from_private_bytes(raw).public_key()
    assert signing.fingerprint(signing.signing_key().public_key()) == signing.fingerprint(expected)


def test_without_a_key_in_production_signing_refuses_to_start(settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.CASEFILE_SIGNING_KEY_FILE = str(tmp_path / "missing.pem")
    settings.CASEFILE_SIGNING_KEY_GENERATE = False
    with pytest.raises(ImproperlyConfigured, match="casefile_key generate"):
        signing.signing_key()


def test_the_public_key_is_published_to_anyone(client, db):
    response = client.get("/.well-known/casefile-signing-key")
    key = signing.signing_key().public_key()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == signing.public_pem(key)
    assert response["X-Casefile-Key-Fingerprint"] == signing.fingerprint(key)
