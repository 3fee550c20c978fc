"""Queueing work with the broker down: requests answer at once and normally, the work stays
recorded and is sent again by the sweeps (or the case's next export request) once it is back.

The broker is a Redis URL on a port nothing listens on, with in-process tasks switched off, so
that every send really tries to connect and is refused. "The broker is back" switches
in-process tasks on again: a sent task then runs here. These tests commit for real
(`transaction=True`): work is sent on commit.
"""

import io
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cases.models import Activity, Case
from evidence import enqueue
from evidence.models import Evidence, Export, Photo
from evidence.services.evidence import photo_ingest
from evidence.services.exports import (
    RESEND_AFTER,
    START_WITHIN,
    export_request,
    exports_requeue_stale,
)
from evidence.services.photos import photos_requeue_stale
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

REFUSING_BROKER = "redis://127.0.0.1:1/0"
# An answer that waited for the broker would take many seconds (it took 19 before).
PROMPT = 2.0


def _reset_connections(app) -> None:
    # The app caches its broker connections and routes: make it pick up the new URL.
    app._pool = None
    app.amqp._producer_pool = None
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


class Broker:
    def __init__(self, app):
        self.app = app

    def down(self) -> None:
        self.app.conf.broker_url = REFUSING_BROKER
        self.app.conf.task_always_eager = False
        _reset_connections(self.app)

    def back(self) -> None:
        # In-process tasks: whatever is sent from now on runs here, at once.
        self.app.conf.task_always_eager = True


@pytest.fixture
def broker():
    """The broker, down; `broker.back()` brings it back. The test settings are restored by
    the autouse fixture of tests/conftest.py."""
    from config.celery import app

    broker = Broker(app)
    broker.down()
    yield broker
    _reset_connections(app)


def _age(model, pk: int, *, by: timedelta, field: str) -> None:
    model.objects.filter(pk=pk).update(**{field: timezone.now() - by})


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


# --- The sending itself -----------------------------------------------------------------------


def test_a_send_to_a_refusing_broker_fails_quickly_and_says_so(broker, caplog):
    sent, took = _timed(lambda: enqueue.task_send(enqueue.PHOTO_PROCESS, 12345))
    assert sent is False and took < PROMPT
    assert "Could not queue evidence.tasks.photo_process_task(12345,)" in caplog.text


def test_a_send_on_commit_records_whether_it_was_sent(personas, broker):
    from django.db import transaction

    with transaction.atomic():
        dispatch = enqueue.task_on_commit(enqueue.PHOTO_PROCESS, 12345)
        assert dispatch.sent is None  # not before the commit
    assert dispatch.sent is False
    broker.back()
    with transaction.atomic():
        dispatch = enqueue.task_on_commit(enqueue.PHOTO_PROCESS, 12345)
    assert dispatch.sent is True


# --- Photos -----------------------------------------------------------------------------------


def test_an_upload_answers_at_once_and_the_photo_is_processed_when_the_broker_is_back(
    personas, broker
):
    response, took = _timed(
        lambda: token_client(personas.reporter).post(
            reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}),
            {"kind": "photo", "file": SimpleUploadedFile("train.jpg", jpeg_bytes(seed=3))},
            format="multipart",
        )
    )
    assert response.status_code == 201, response.content
    assert took < PROMPT
    photo = Photo.objects.get(evidence_id=response.json()["id"])
    assert photo.status == Photo.Status.PENDING

    # The reconciler, with the broker still down: nothing sent, nothing raised, and the
    # photo's clock not reset (it is still due for the next run).
    stale = timedelta(hours=1)
    _age(Photo, photo.pk, by=stale, field="status_changed_at")
    assert photos_requeue_stale() == []
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PENDING
    assert photo.status_changed_at < timezone.now() - stale + timedelta(minutes=1)

    broker.back()
    assert photos_requeue_stale() == [photo.pk]
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY, photo.failure_reason


# --- Exports ----------------------------------------------------------------------------------


def test_an_api_export_request_answers_202_and_the_sweep_sends_it_when_the_broker_is_back(
    personas, broker
):
    url = reverse("api:case-exports", kwargs={"case_id": personas.case.pk})
    response, took = _timed(lambda: token_client(personas.editor).post(url, {}, format="json"))
    assert response.status_code == 202, response.content
    assert took < PROMPT
    assert response.json()["status"] == "queued"
    export = Export.objects.get(pk=response.json()["id"])

    # Down: the sweep tries, fails, and leaves it queued.
    _age(Export, export.pk, by=RESEND_AFTER + timedelta(seconds=1), field="created_at")
    assert exports_requeue_stale() == []
    assert Export.objects.get(pk=export.pk).status == Export.Status.QUEUED

    broker.back()
    assert exports_requeue_stale() == [export.pk]
    export.refresh_from_db()
    assert export.status == Export.Status.READY and default_storage.exists(export.file.name)
    # Sent again, it does nothing more: the export is finished.
    assert exports_requeue_stale() == []


def test_the_sweep_leaves_a_fresh_queued_export_to_its_own_task(personas, broker):
    export = export_request(
        actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
    )
    broker.back()
    assert exports_requeue_stale() == []
    assert Export.objects.get(pk=export.pk).status == Export.Status.QUEUED


def test_the_export_form_says_the_export_waits_for_the_queue(personas, broker, client):
    client.force_login(personas.editor)
    url = reverse("web:case_exports", kwargs={"case_id": personas.case.pk})
    waiting = "it will start when the queue is back"

    response, took = _timed(lambda: client.post(url, {}, follow=True))
    assert took < PROMPT
    assert response.redirect_chain[0][1] == 302
    assert waiting in response.content.decode()

    # From the panel itself (htmx): the panel comes back with the message in it.
    response = client.post(url, {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert waiting in response.content.decode()
    assert personas.case.exports.filter(status=Export.Status.QUEUED).count() == 2


def test_the_next_export_request_sends_a_lost_export_again(personas, broker):
    lost = export_request(
        actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
    )
    assert lost.dispatch.sent is False
    _age(Export, lost.pk, by=RESEND_AFTER + timedelta(seconds=1), field="created_at")
    broker.back()
    export_request(
        actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
    )
    assert set(personas.case.exports.values_list("status", flat=True)) == {Export.Status.READY}


def test_exports_that_never_started_are_given_up_and_free_their_places(personas, broker):
    def ask():
        return export_request(
            actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
        )

    waiting = [ask() for _ in range(3)]
    with pytest.raises(ValidationError, match="already has 3 exports in progress"):
        ask()

    for export in waiting:
        _age(Export, export.pk, by=START_WITHIN + timedelta(minutes=1), field="created_at")
    # The next request gives them up (no beat needed), and is accepted.
    fourth = ask()
    assert Export.objects.get(pk=fourth.pk).status == Export.Status.QUEUED
    for export in waiting:
        export.refresh_from_db()
        assert export.status == Export.Status.FAILED
        assert export.error == (
            "The export did not start within 24 hours (the task queue was unreachable); "
            "request it again."
        )
    failed = Activity.objects.filter(case=personas.case, verb="export.failed")
    assert sorted(failed.values_list("target_id", flat=True)) == sorted(e.pk for e in waiting)


def test_the_sweep_gives_up_exports_that_never_started(personas, broker):
    export = export_request(
        actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
    )
    _age(Export, export.pk, by=START_WITHIN + timedelta(minutes=1), field="created_at")
    assert exports_requeue_stale() == []
    assert Export.objects.get(pk=export.pk).status == Export.Status.FAILED


# --- Importing a case -------------------------------------------------------------------------


def test_import_case_reports_the_committed_case_with_the_broker_down(personas, broker, tmp_path):
    broker.back()  # the case to export, processed and exported with its original
    photo_ingest(actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes(seed=8)))
    export = export_request(
        actor=personas.owner, case=personas.case, originals=True, reveal_protected=False
    )
    export.refresh_from_db()
    assert export.status == Export.Status.READY, export.error
    path = Path(tmp_path / "bundle.zip")
    with default_storage.open(export.file.name, "rb") as src:
        path.write_bytes(src.read())

    broker.down()
    out = io.StringIO()
    call_command("import_case", str(path), "--owner", personas.outsider.username, stdout=out)
    text = out.getvalue()
    assert "Imported case" in text
    assert (
        "The task queue is unreachable: processing of 1 photo(s) will start once it is back" in text
    )
    imported = Case.objects.exclude(pk=personas.case.pk).get(title=personas.case.title)
    photo = Photo.objects.get(evidence__case=imported)
    assert photo.status == Photo.Status.PENDING
    assert Evidence.objects.filter(case=imported).count() == 1


# --- The outbox -------------------------------------------------------------------------------


def test_a_task_the_broker_refused_waits_in_the_outbox_until_the_recovery_sends_it(
    personas, broker
):
    from evidence.enqueue import outbox_drain
    from evidence.models import OutboxTask
    from evidence.services.recovery import jobs_recover

    evidence, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes(seed=9))
    )
    row = OutboxTask.objects.get()
    assert (row.task, row.args, row.failures) == (enqueue.PHOTO_PROCESS, [evidence.pk], 1)
    # Still down: the drain tries the oldest, stops, keeps it.
    assert outbox_drain(older_than=timedelta(0)) == 0
    assert OutboxTask.objects.get().failures == 2

    broker.back()
    OutboxTask.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    done = jobs_recover()
    assert (done.outbox, done.failed) == (1, [])
    assert OutboxTask.objects.count() == 0
    assert Photo.objects.get(pk=evidence.pk).status == Photo.Status.READY


def test_a_task_sent_on_commit_leaves_no_outbox_row(personas, broker):
    from django.db import transaction

    from evidence.models import OutboxTask

    broker.app.conf.task_always_eager = False
    broker.app.conf.broker_url = "memory://localhost/"
    _reset_connections(broker.app)
    with transaction.atomic():
        dispatch = enqueue.task_on_commit(enqueue.PHOTO_PROCESS, 12345)
        assert OutboxTask.objects.count() == 1  # recorded with the work, before the commit
    assert dispatch.sent is True
    assert OutboxTask.objects.count() == 0


def test_a_rolled_back_transaction_sends_nothing_and_leaves_nothing(personas, broker):
    from django.db import transaction

    from evidence.models import OutboxTask

    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch = enqueue.task_on_commit(enqueue.PHOTO_PROCESS, 12345)
        raise RuntimeError
    assert dispatch.sent is None
    assert OutboxTask.objects.count() == 0
