"""The pipeline on a real Celery worker process consuming from the real Redis.

The worker is `celery -A config worker`, started as a subprocess on a queue of its own, against
the test database (PostgreSQL, or a file-based SQLite database: the subprocess must see what the
test commits, hence `transactional_db`). With CI=true a missing Redis or an in-memory database
fails these tests; elsewhere they are skipped with the reason.

Run them (or with DATABASE_TEST_NAME=/tmp/casefile-test.sqlite3 alone, on SQLite):
DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
DATABASE_TEST_NAME=test_casefile_pipeline .venv/bin/pytest -m worker tests/evidence/test_worker.py
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from cases.models import Activity
from config.tesseract import tesseract_status
from evidence.models import Photo, TextReading
from evidence.services.evidence import document_ingest, photo_ingest
from tests.images import jpeg_bytes, truncated, upload
from tests.needs import unavailable
from tests.texts import jpeg_of, scanned_pdf, sign_picture

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# The Redis database this suite's workers use (REDIS_URL when set, as in CI).
REDIS_URL = os.environ.get("WORKER_TEST_REDIS_URL") or os.environ.get(
    "REDIS_URL", "redis://127.0.0.1:6379/1"
)


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def database_url() -> str:
    """A URL for the test database that another process can open."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{db['NAME']}"
    name = str(db["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name and name != ":memory:":
        return f"sqlite:///{name}"
    unavailable(
        "the worker process cannot see an in-memory test database: run with "
        "DATABASE_URL=postgres://… DATABASE_TEST_NAME=test_casefile_…, or with "
        "DATABASE_TEST_NAME=/tmp/casefile-test.sqlite3 for a file-based SQLite database"
    )


class Worker:
    """One `celery -A config worker` subprocess in a process group of its own; without a
    queue it consumes every queue the app declares, as a worker started by hand does."""

    def __init__(self, *, env: dict, queue: str | None, log: Path, concurrency: int = 1):
        self.log_path = log
        self.log = log.open("ab")
        if "TMPDIR" not in env:
            # Its temporary files (an export's spool) apart: every worker's recovery removes
            # abandoned ones it finds, and other tests' workers may be running meanwhile.
            temp = log.parent / "worker-tmp"
            temp.mkdir(exist_ok=True)
            env = {**env, "TMPDIR": str(temp)}
        self.process = subprocess.Popen(  # noqa: S603 - our own virtualenv's celery
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                *(["-Q", queue] if queue else []),
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{queue or 'all'}-{uuid.uuid4().hex[:6]}@%h",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: no warm shutdown, nothing acknowledged."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture
def worker_env(redis_url, settings, tmp_path):
    """Publish this test's tasks to Redis on a queue of its own, and give workers the same
    database, media folder and queues."""
    from config.celery import app

    database = database_url()  # before touching the app: this may skip or fail the test
    queue = f"casefile-pipeline-test-{uuid.uuid4().hex[:8]}"
    saved = {
        key: app.conf[key]
        for key in ("broker_url", "task_routes", "task_default_queue", "broker_transport_options")
    }
    app.conf.broker_url = redis_url
    app.conf.task_routes = {"evidence.tasks.photo_process_task": {"queue": queue}}
    app.conf.task_default_queue = queue
    _reset_connections(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_QUEUE": queue,
        "CELERY_INGEST_QUEUE": queue,
        "CELERY_EXPORT_QUEUE": queue,
        "CELERY_OCR_QUEUE": queue,
        # Text is read only by the workers of the tests that ask for it (CASEFILE_OCR=1).
        "CASEFILE_OCR": "0",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_TEST_NAME", None)
    env.pop("CASEFILE_PIPELINE_TEST_DELAY_SECONDS", None)
    workers: list[Worker] = []

    def start(**extra) -> Worker:
        worker = Worker(
            env={**env, **{k: str(v) for k, v in extra.items()}},
            queue=queue,
            log=tmp_path / f"worker-{len(workers)}.log",
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    app.conf.update(saved)
    _reset_connections(app)


def _reset_connections(app) -> None:
    # The app caches its broker connections and routes: make it pick up the new settings (the
    # old pool stays in kombu's registry, open, for the next test that uses the same broker).
    app._pool = None
    app.amqp._producer_pool = None
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


def wait_for(predicate, *, timeout: float, worker: Worker, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.output()}")


def status_of(photo_id: int) -> str:
    return Photo.objects.values_list("status", flat=True).get(pk=photo_id)


def derivatives(media: Path, photo_id: int) -> list[str]:
    folder = media / "derivatives" / str(photo_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_real_worker_processes_uploads_end_to_end_and_survives_a_bad_one(
    personas, worker_env, settings
):
    worker = worker_env()
    good, _ = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(jpeg_bytes(size=(2400, 1600), make="Canon", model="EOS R6", gps=(40.1, 124.4))),
    )
    wait_for(
        lambda: status_of(good.pk) in ("ready", "failed"), timeout=60, worker=worker, what="ready"
    )
    photo = Photo.objects.get(pk=good.pk)
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert (photo.camera_make, photo.width, photo.height) == ("Canon", 2400, 1600)
    assert derivatives(Path(settings.MEDIA_ROOT), good.pk) == ["preview.jpg", "thumbnail.jpg"]

    # A damaged file fails with its reason, and the worker goes on to the next upload.
    bad, _ = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(truncated(jpeg_bytes(size=(1200, 900), seed=5), 0.5)),
    )
    wait_for(lambda: status_of(bad.pk) == "failed", timeout=60, worker=worker, what="failed")
    assert "truncated" in Photo.objects.get(pk=bad.pk).failure_reason
    after, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes(seed=6))
    )
    wait_for(lambda: status_of(after.pk) == "ready", timeout=60, worker=worker, what="ready")
    assert worker.alive


# A worker killed mid-task: tests/evidence/test_faults.py.


# --- Reading text (OCR, issue #15) on a real worker ---------------------------------------------
# A photo becomes ready first, then its text is read by `text_read_task`; a worker SIGKILLed in
# the middle of reading a scan leaves a job that another worker's recovery takes over, and the
# scan ends read once, with one custody row.

OCR_LEASE = 3


@pytest.fixture
def tesseract():
    status = tesseract_status()
    if not status.available or not {"eng", "kor"} <= set(status.languages):
        unavailable(status.problem or "Tesseract's eng and kor languages are missing")


def reading_of(evidence_id: int) -> TextReading | None:
    return TextReading.objects.filter(pk=evidence_id).first()


def test_a_worker_reads_text_after_ready_and_a_killed_reading_is_taken_over(
    personas, worker_env, tesseract, settings
):
    settings.CASEFILE_OCR = True
    options = {
        "CASEFILE_OCR": "1",
        "CASEFILE_OCR_LANGUAGES": "kor+eng",
        "CASEFILE_LEASE_SECONDS": OCR_LEASE,
        "CASEFILE_RECOVERY_INTERVAL_SECONDS": 1,
    }
    worker = worker_env(**options)
    photo, _ = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(jpeg_of(sign_picture((1200, 900))), "sign.jpg"),
    )
    wait_for(
        lambda: (r := reading_of(photo.pk)) and r.status in ("done", "skipped", "failed"),
        timeout=90,
        worker=worker,
        what="the photo's text",
    )
    reading = reading_of(photo.pk)
    assert reading.status == TextReading.Status.DONE, reading.note
    assert "Dandong" in reading.ocr_text and "단동" in reading.ocr_text
    # Ready came first, and was not held up by the reading.
    ready = Photo.objects.get(pk=photo.pk)
    assert ready.status == Photo.Status.READY and ready.processed_at <= reading.processed_at

    # A scan of several pages; the worker is killed while it reads it.
    scan, _ = document_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(scanned_pdf(pages=4), "scan.pdf", "application/pdf"),
    )
    wait_for(
        lambda: (r := reading_of(scan.pk)) and r.status != "pending",
        timeout=60,
        worker=worker,
        what="the scan being read",
    )
    worker.kill()
    assert reading_of(scan.pk).status == TextReading.Status.PROCESSING
    time.sleep(0.5)
    successor = worker_env(**options)
    wait_for(
        lambda: reading_of(scan.pk).status in ("done", "failed", "skipped"),
        timeout=120,
        worker=successor,
        what="the scan's text after the takeover",
    )
    reading = reading_of(scan.pk)
    assert reading.status == TextReading.Status.DONE, reading.note
    assert reading.attempts == 2
    assert [f"Customs declaration {n}" in reading.ocr_text for n in (1, 2, 3, 4)] == [True] * 4
    assert Activity.objects.filter(verb="text.read", target_id=scan.pk).count() == 1
    assert successor.alive
