"""Fault injection against the real services: workers SIGKILLed mid-photo and mid-export, a
Redis the test owns (its own port and data dir) restarted mid-upload and mid-export, the
worker's PostgreSQL connections terminated mid-task. After each, within 60 s of the recovery
point (the new worker up, Redis back, the connections cut): every item ends ready or failed
with a reason, with no duplicate row or derivative, no export stuck, no temporary file left.

The workers are plain `celery -A config worker` processes (no -Q: every declared queue) with a
short lease and recovery interval, and no beat: recovery is their own. PostgreSQL is needed
(`pg_terminate_backend`); in CI a missing service fails these tests.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/casefile_x \
.venv/bin/pytest tests/evidence/test_faults.py
"""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.urls import reverse

from cases.models import Activity
from evidence.bundle.verify import bundle_verify
from evidence.models import Export, OutboxTask, Photo
from evidence.selectors import EXPORT_VERB
from evidence.services.evidence import photo_ingest
from evidence.services.exports import export_request
from tests.api.conftest import token_client
from tests.deploy.conftest import free_port, require_program, wait_for_port
from tests.evidence.test_worker import ROOT, Worker, _reset_connections, database_url
from tests.images import jpeg_bytes, upload
from tests.needs import unavailable

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Recovery is promised within this long of its starting point.
RECOVERY = 60
LEASE = 3
# What a request may take with the broker away.
PROMPT = 2.0


class OwnRedis:
    """A redis-server of the test's own, persisting to its own folder (append-only, synced at
    every write, as the compose file's Redis keeps its queue across a restart)."""

    def __init__(self, folder: Path):
        self.program = require_program("redis-server")
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always"]
            + ["--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = OwnRedis(tmp_path_factory.mktemp("redis-data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workers(own_redis, transactional_db, settings, tmp_path):
    """Start workers on the test's own Redis; this process publishes there too. Yields
    `start(**env)`. Every worker shares one temporary folder, the one watched for leftovers."""
    from config.celery import app

    if connection.vendor != "postgresql":
        unavailable("the fault-injection suite needs PostgreSQL: run with DATABASE_URL=postgres://")
    database = database_url()
    if own_redis.process.poll() is not None:  # a test that failed with it stopped
        own_redis.start()
    redis.Redis.from_url(own_redis.url).flushall()
    app.conf.broker_url = own_redis.url
    _reset_connections(app)
    temp = tmp_path / "worker-tmp"
    temp.mkdir()
    name = f"casefile-fault-{uuid.uuid4().hex[:8]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "CASEFILE_", "DATABASE_TEST"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database,
            "REDIS_URL": own_redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(temp),
            "CASEFILE_LEASE_SECONDS": str(LEASE),
            "CASEFILE_RECOVERY_INTERVAL_SECONDS": "1",
            # Reading text (OCR) is tested on a real worker in test_worker.py.
            "CASEFILE_OCR": "0",
            # Every connection the workers open carries this name (libpq), for the test that
            # terminates them.
            "PGAPPNAME": name,
        }
    )
    started: list[Worker] = []

    def start(concurrency: int = 1, **extra) -> Worker:
        worker = Worker(
            env={**env, **{k: str(v) for k, v in extra.items()}},
            queue=None,
            log=tmp_path / f"worker-{len(started)}.log",
            concurrency=concurrency,
        )
        started.append(worker)
        return worker

    start.temp = temp
    start.appname = name
    start.logs = lambda: "\n---\n".join(w.output() for w in started)
    yield start
    for worker in started:
        worker.stop()
    if own_redis.process.poll() is not None:
        own_redis.start()
    _reset_connections(app)


def wait_until(predicate, *, within: float, what: str, logs) -> float:
    """Wait for predicate; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"not {what} within {within} s; worker logs:\n{logs()}")


def statuses(model, ids) -> dict:
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "status"))


def settled(model, ids, done=("ready", "failed")) -> bool:
    return all(status in done for status in statuses(model, ids).values())


def derivatives(media: Path, photo_id: int) -> list[str]:
    folder = media / "derivatives" / str(photo_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("casefile-export-"))


def assert_photos_ready_once(ids, media: Path) -> None:
    for photo in Photo.objects.filter(pk__in=ids):
        assert photo.status == Photo.Status.READY, photo.failure_reason
        assert derivatives(media, photo.pk) == ["preview.jpg", "thumbnail.jpg"]
        processed = Activity.objects.filter(verb="photo.processed", target_id=photo.pk)
        assert processed.count() == 1
    assert OutboxTask.objects.count() == 0


def assert_exports_ready_once(ids, tmp_path: Path) -> None:
    for export in Export.objects.filter(pk__in=ids):
        assert export.status == Export.Status.READY, export.error
        written = Activity.objects.filter(verb=EXPORT_VERB, target_id=export.pk)
        assert written.count() == 1
        path = tmp_path / f"bundle-{export.pk}.zip"
        with export.file.open("rb") as src:
            path.write_bytes(src.read())
        assert bundle_verify(path).intact
    assert not Export.objects.filter(status__in=["queued", "running"]).exists()


def photos(personas, count: int, seed: int) -> list[int]:
    return [
        photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(size=(1600, 1200), seed=seed + n)),
        )[0].pk
        for n in range(count)
    ]


# --- SIGKILL ----------------------------------------------------------------------------------


def test_photos_of_a_killed_worker_end_ready_once_when_another_starts(personas, workers, settings):
    media = Path(settings.MEDIA_ROOT)
    # The first worker pauses after writing the derivatives, before recording anything.
    first = workers(concurrency=2, CASEFILE_PIPELINE_TEST_DELAY_SECONDS=60)
    ids = photos(personas, 3, seed=40)
    wait_until(
        lambda: sum(len(derivatives(media, pk)) == 2 for pk in ids) == 2,
        within=60,
        what="two photos mid-task",
        logs=workers.logs,
    )
    first.kill()
    assert sorted(statuses(Photo, ids).values()) == ["pending", "processing", "processing"]

    workers()
    took = wait_until(
        lambda: settled(Photo, ids), within=RECOVERY, what="every photo settled", logs=workers.logs
    )
    assert_photos_ready_once(ids, media)
    assert sorted(Photo.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == [1, 2, 2]
    assert took < RECOVERY


def test_an_export_of_a_killed_worker_is_finished_by_a_second_and_leaves_no_temp_file(
    personas, workers, tmp_path
):
    first = workers(CASEFILE_PIPELINE_TEST_DELAY_SECONDS=60)
    export = export_request(
        actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
    )
    wait_until(
        lambda: temp_files(workers.temp) and statuses(Export, [export.pk])[export.pk] == "running",
        within=60,
        what="the export mid-task",
        logs=workers.logs,
    )
    first.kill()
    assert len(temp_files(workers.temp)) == 1  # what the killed worker left behind

    workers()
    wait_until(
        lambda: settled(Export, [export.pk]) and not temp_files(workers.temp),
        within=RECOVERY,
        what="the export finished and its temporary files gone",
        logs=workers.logs,
    )
    assert_exports_ready_once([export.pk], tmp_path)
    assert Export.objects.get(pk=export.pk).attempts == 2


# --- The broker restarted ---------------------------------------------------------------------


def test_uploads_while_redis_restarts_are_answered_at_once_and_processed_once_it_is_back(
    personas, workers, own_redis, settings
):
    workers()
    before = photos(personas, 1, seed=50)
    wait_until(lambda: settled(Photo, before), within=60, what="a first photo", logs=workers.logs)
    own_redis.stop()
    client = token_client(personas.reporter)
    url = reverse("api:case-evidence", kwargs={"case_id": personas.case.pk})
    during = []
    for seed in (51, 52):
        started = time.monotonic()
        response = client.post(
            url, {"file": upload(jpeg_bytes(seed=seed), name=f"{seed}.jpg")}, format="multipart"
        )
        assert response.status_code == 201, response.content
        assert time.monotonic() - started < PROMPT
        during.append(response.json()["id"])
    assert OutboxTask.objects.count() == 2  # recorded, waiting for the broker

    own_redis.start()
    wait_until(
        lambda: settled(Photo, during),
        within=RECOVERY,
        what="the photos settled",
        logs=workers.logs,
    )
    assert_photos_ready_once(before + during, Path(settings.MEDIA_ROOT))


def test_exports_while_redis_restarts_mid_export_end_ready_once(
    personas, workers, own_redis, tmp_path
):
    workers(CASEFILE_PIPELINE_TEST_DELAY_SECONDS=3)
    first = export_request(
        actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
    )
    wait_until(
        lambda: statuses(Export, [first.pk])[first.pk] == "running",
        within=60,
        what="the export running",
        logs=workers.logs,
    )
    own_redis.stop()
    started = time.monotonic()
    response = token_client(personas.editor).post(
        reverse("api:case-exports", kwargs={"case_id": personas.case.pk}), {}, format="json"
    )
    assert response.status_code == 202, response.content
    assert time.monotonic() - started < PROMPT
    second = response.json()["id"]
    time.sleep(1)

    own_redis.start()
    wait_until(
        lambda: settled(Export, [first.pk, second]) and not temp_files(workers.temp),
        within=RECOVERY,
        what="both exports finished and no temporary file left",
        logs=workers.logs,
    )
    assert_exports_ready_once([first.pk, second], tmp_path)


# --- The database connection cut --------------------------------------------------------------


def test_work_whose_database_connections_are_terminated_mid_task_ends_ready_once(
    personas, workers, settings, tmp_path
):
    workers(concurrency=2, CASEFILE_PIPELINE_TEST_DELAY_SECONDS=3)
    ids = photos(personas, 1, seed=60)
    export = export_request(
        actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
    )
    wait_until(
        lambda: (
            statuses(Photo, ids)[ids[0]] == "processing"
            and statuses(Export, [export.pk])[export.pk] == "running"
        ),
        within=60,
        what="the photo and the export mid-task",
        logs=workers.logs,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [workers.appname],
        )
        (terminated,) = cursor.fetchone()
    assert terminated >= 2  # at least the two tasks' own connections

    wait_until(
        lambda: (
            settled(Photo, ids) and settled(Export, [export.pk]) and not temp_files(workers.temp)
        ),
        within=RECOVERY,
        what="the photo and the export settled",
        logs=workers.logs,
    )
    assert_photos_ready_once(ids, Path(settings.MEDIA_ROOT))
    assert_exports_ready_once([export.pk], tmp_path)
