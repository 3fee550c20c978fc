"""Exports on a real Celery worker consuming the exports queue from the real Redis.

Run (PostgreSQL; Redis database 5 unless EXPORT_TEST_REDIS_URL or REDIS_URL says otherwise):
DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres DATABASE_TEST_NAME=test_casefile_custody
.venv/bin/pytest -m worker tests/evidence/test_export_worker.py
"""

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from evidence.bundle.verify import bundle_verify
from evidence.models import Export
from evidence.services.exports import export_request
from tests.evidence.test_worker import Worker, _reset_connections, database_url
from tests.needs import unavailable

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("EXPORT_TEST_REDIS_URL") or os.environ.get(
    "REDIS_URL", "redis://127.0.0.1:6379/5"
)


def test_export_task_is_routed_to_the_exports_queue():
    from config.celery import app
    from evidence.tasks import case_export_task

    route = app.amqp.router.route({}, case_export_task.name, (1,), {})
    assert route["queue"].name == django_settings.CELERY_EXPORT_QUEUE == "exports"


@pytest.fixture
def export_worker(settings, tmp_path):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    from config.celery import app

    queue = f"casefile-exports-test-{uuid.uuid4().hex[:8]}"
    saved = {key: app.conf[key] for key in ("broker_url", "task_routes", "task_default_queue")}
    app.conf.broker_url = REDIS_URL
    app.conf.task_routes = {"*export*": {"queue": queue}, "*": {"queue": f"{queue}-other"}}
    _reset_connections(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_EXPORT_QUEUE": queue,
        "CELERY_INGEST_QUEUE": f"{queue}-other",
        "CELERY_QUEUE": f"{queue}-other",
        "CASEFILE_RECOVERY_INTERVAL_SECONDS": "1",
        "CASEFILE_OCR": "0",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_TEST_NAME", None)
    worker = Worker(env=env, queue=queue, log=tmp_path / "export-worker.log")
    yield worker
    worker.stop()
    app.conf.update(saved)
    _reset_connections(app)


def test_a_real_worker_on_the_exports_queue_writes_a_verifiable_bundle(
    personas, export_worker, settings, tmp_path
):
    import time

    from django.core.files.storage import default_storage

    from tests.custody_case import custody_case

    class _Capture:
        # Photos are processed in-process here (the worker only consumes exports).
        def __call__(self, execute=True):
            from contextlib import nullcontext

            return nullcontext()

    from config.celery import app

    app.conf.task_always_eager = True
    things = custody_case(personas, capture=_Capture())
    app.conf.task_always_eager = False
    export = export_request(
        actor=personas.owner, case=personas.case, originals=True, reveal_protected=False
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status in (Export.Status.READY, Export.Status.FAILED):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the export did not finish; worker log:\n{export_worker.output()}")
    assert export.status == Export.Status.READY, (export.error, export_worker.output())
    path = tmp_path / "bundle.zip"
    with default_storage.open(export.file.name, "rb") as src:
        path.write_bytes(src.read())
    check = bundle_verify(path)
    assert check.intact, check.problems
    assert {e["id"] for e in check.manifest["evidence"]} >= {things.public_photo.pk}
    assert export_worker.alive


def test_an_export_requested_while_the_broker_was_down_is_sent_from_the_outbox_by_the_worker(
    personas, export_worker
):
    import time

    from config.celery import app
    from evidence.models import OutboxTask

    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there: refused
    _reset_connections(app)
    export = export_request(
        actor=personas.editor, case=personas.case, originals=False, reveal_protected=False
    )
    assert export.dispatch.sent is False
    assert list(OutboxTask.objects.values_list("task", "args")) == [
        ("evidence.tasks.case_export_task", [export.pk])
    ]
    # Nobody calls anything: the worker's own recovery sends it from the outbox.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status in (Export.Status.READY, Export.Status.FAILED):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the export did not finish; worker log:\n{export_worker.output()}")
    assert export.status == Export.Status.READY, (export.error, export_worker.output())
    assert export.attempts == 1
    assert OutboxTask.objects.count() == 0
