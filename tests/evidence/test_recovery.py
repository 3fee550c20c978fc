"""The recovery every worker runs (evidence.services.recovery): abandoned and lost jobs queued
again once and only once, half-written export files removed, leases renewed while a job runs.
In-process tasks (a sent task runs here); the real workers are in test_faults.py."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from evidence.leases import lease_kept
from evidence.models import Export
from evidence.services import exports as export_service
from evidence.services.exports import RESEND_AFTER, export_request, export_temp_files_remove
from evidence.services.recovery import jobs_recover

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The exports the recovery sends (not run: what matters here is what is sent, and when)."""
    calls = []

    def send(name, *args):
        calls.append(args[0])
        return True

    monkeypatch.setattr(export_service.enqueue, "task_send", send)
    return calls


def _export(personas, **state) -> Export:
    export = Export.objects.create(case=personas.case, requested_by=personas.owner)
    Export.objects.filter(pk=export.pk).update(**state)
    return export


def test_an_abandoned_export_is_queued_again_once_and_a_live_one_left_alone(
    personas, sent, settings
):
    now = timezone.now()
    lease = timedelta(seconds=settings.CASEFILE_LEASE_SECONDS)
    dead = _export(personas, status="running", attempts=1, heartbeat_at=now - lease * 2)
    live = _export(personas, status="running", attempts=1, heartbeat_at=now)
    fresh = _export(personas)  # queued a moment ago: its own task is on its way

    jobs_recover()
    assert sent == [dead.pk]
    dead.refresh_from_db()
    assert (dead.status, dead.started_at, dead.attempts) == ("queued", None, 1)
    assert Export.objects.get(pk=live.pk).status == Export.Status.RUNNING
    assert Export.objects.get(pk=fresh.pk).status == Export.Status.QUEUED
    # The next run (seconds later, in another worker) does not send it again.
    jobs_recover()
    assert sent == [dead.pk]


def test_a_queued_export_whose_task_was_lost_is_sent_again_every_resend_period(personas, sent):
    lost = _export(personas)
    Export.objects.filter(pk=lost.pk).update(created_at=timezone.now() - RESEND_AFTER * 2)
    jobs_recover()
    jobs_recover()
    assert sent == [lost.pk]
    Export.objects.filter(pk=lost.pk).update(dispatched_at=timezone.now() - RESEND_AFTER * 1.1)
    jobs_recover()
    assert sent == [lost.pk, lost.pk]


def test_an_abandoned_export_is_taken_over_and_finished(personas, settings):
    export = export_request(
        actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
    )
    lapsed = timezone.now() - timedelta(seconds=settings.CASEFILE_LEASE_SECONDS + 1)
    Export.objects.filter(pk=export.pk).update(
        status="running", attempts=1, heartbeat_at=lapsed, progress=99
    )
    assert jobs_recover().exports == [export.pk]
    export.refresh_from_db()
    assert (export.status, export.attempts) == ("ready", 2)


def test_stale_export_files_are_removed_and_a_live_attempts_file_is_kept(
    personas, settings, tmp_path, monkeypatch
):
    spool = tmp_path / "spool"  # where every test spools (tests/conftest.py)
    host = export_service._host()
    running = _export(personas, status="running", attempts=2, heartbeat_at=timezone.now())
    done = _export(personas)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],  # noqa: S603
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)
    names = {
        "live": f"casefile-export-{running.pk}-a2-p{os.getpid()}-{host}~abc123.zip",
        "superseded": f"casefile-export-{running.pk}-a1-p{os.getpid()}-{host}~abc124.zip",
        "dead writer": f"casefile-export-{running.pk}-a2-p{dead_pid}-{host}~abc125.zip",
        "other host": f"casefile-export-{running.pk}-a2-p{dead_pid}-elsewhere~abc126.zip",
        "not running": f"casefile-export-{done.pk}-a1-p{os.getpid()}-{host}~abc127.zip",
        "not ours": "something-else.zip",
    }
    for name in names.values():
        (spool / name).write_bytes(b"PK")
    removed = export_temp_files_remove()
    assert sorted(removed) == sorted(names[k] for k in ("superseded", "dead writer", "not running"))
    left = {p.name for p in spool.iterdir()}
    assert left == {names["live"], names["other host"], names["not ours"]}


def test_a_lease_is_renewed_while_the_block_runs_and_stops_after(settings):
    settings.CASEFILE_LEASE_SECONDS = 0.3
    beats = []
    with lease_kept(lambda: beats.append(time.monotonic()) or True, what="test"):
        time.sleep(0.5)
    count = len(beats)
    assert count >= 3
    time.sleep(0.3)
    assert len(beats) == count


def test_a_lease_taken_over_stops_being_renewed(settings):
    settings.CASEFILE_LEASE_SECONDS = 0.3
    beats = []
    with lease_kept(lambda: beats.append(1) and False, what="test"):
        time.sleep(0.5)
    assert beats == [1]
