"""Link captures are recovered like photos and exports (evidence.services.recovery): a capture
whose worker died (its lease ran out) or whose task was lost is sent again; one that is
running under a live lease, or was sent a moment ago, is left alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evidence import enqueue
from evidence.models import Capture
from evidence.services.captures import link_capture
from evidence.services.recovery import jobs_recover
from tests.factories import LinkEvidenceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def record(name, *args):
        calls.append((name, *args))
        return True

    monkeypatch.setattr(enqueue, "task_send", record)
    return calls


def capture(personas, **fields) -> Capture:
    link = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    return Capture.objects.create(evidence=link, requested_by=personas.reporter, **fields)


def test_abandoned_and_lost_captures_are_sent_again_live_ones_are_not(personas, settings, sent):
    now = timezone.now()
    long_ago = now - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS + 60)
    dead = capture(personas, status="running", attempts=1, heartbeat_at=now - timedelta(minutes=10))
    lost = capture(personas, status="pending", dispatched_at=long_ago)
    live = capture(personas, status="running", attempts=1, heartbeat_at=now)
    fresh = capture(personas, status="pending", dispatched_at=now)
    done = capture(personas, status="ready")

    recovered = jobs_recover()

    assert sorted(recovered.captures) == sorted([dead.pk, lost.pk])
    assert sorted(sent) == sorted(
        [(enqueue.LINK_CAPTURE, dead.pk), (enqueue.LINK_CAPTURE, lost.pk)]
    )
    dead.refresh_from_db()
    assert (dead.status, dead.heartbeat_at) == ("pending", None)
    for row in (live, fresh, done):
        before = row.status
        row.refresh_from_db()
        assert row.status == before
    # Sent again, the lost one is not sent once more by the next recovery.
    assert jobs_recover().captures == []


def test_a_capture_interrupted_too_often_fails_with_a_reason(personas):
    row = capture(personas, status="pending", attempts=3)
    assert link_capture(capture_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.failure_kind == "interrupted"
    assert row.failure_reason == (
        "The capture was interrupted 3 times (its worker stopped each time); capture it again."
    )


def test_a_capture_taken_by_another_attempt_is_not_run_twice(personas):
    row = capture(personas, status="running", attempts=1, heartbeat_at=timezone.now())
    assert link_capture(capture_id=row.pk) == "running"
    row.refresh_from_db()
    assert row.attempts == 1
