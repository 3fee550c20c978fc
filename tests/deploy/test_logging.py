"""Structured logs, and the request id that follows a request into the tasks it queues."""

import json
import logging
import os
import subprocess
import time
import uuid

import pytest
import redis
from django.http import HttpResponse
from django.test import RequestFactory

from config.logs import JsonFormatter, RequestIdFilter, RequestIdMiddleware, current_request_id
from tests.deploy.conftest import ROOT, require_program, stop


def json_line(message="hello", *, extra=None, exc_info=None) -> dict:
    logger = logging.getLogger("casefile.test")
    record = logger.makeRecord(
        "casefile.test", logging.WARNING, __file__, 1, message, (), exc_info, extra=extra
    )
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_is_one_json_object_with_level_logger_and_message():
    line = json_line("photo %s ready", extra={"photo_id": 7})
    assert line["level"] == "WARNING"
    assert line["logger"] == "casefile.test"
    assert line["message"] == "photo %s ready"
    assert line["photo_id"] == 7
    assert line["time"].endswith("+00:00")


def test_an_exception_is_logged_inside_the_json_object():
    try:
        raise ValueError("bad EXIF")
    except ValueError:
        import sys

        line = json_line("failed", exc_info=sys.exc_info())
    assert "ValueError: bad EXIF" in line["exception"]


def test_each_response_carries_a_request_id_and_log_lines_written_during_it_too(client, db):
    seen = {}

    def view(request):
        seen["id"] = current_request_id()
        seen["line"] = json_line("inside the request")
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    response = middleware(RequestFactory().get("/"))
    assert response["X-Request-ID"] == seen["id"]
    assert seen["line"]["request_id"] == seen["id"]
    assert current_request_id() is None  # nothing leaks into the next request

    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first and second and first != second


def test_a_sane_request_id_from_the_proxy_is_kept_and_anything_else_replaced(client, db):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-1234abcd")["X-Request-ID"] == (
        "edge-1234abcd"
    )
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" injected\nline')["X-Request-ID"]
    assert forged != 'x" injected\nline' and len(forged) == 32


def test_a_task_queued_in_process_logs_under_the_request_id(caplog):
    from celery import shared_task

    @shared_task(name="tests.deploy.noop_task")
    def noop_task():
        logging.getLogger("casefile.test").info("inside the task")

    def view(request):
        noop_task.delay()
        return HttpResponse("ok")

    with caplog.at_level(logging.INFO):
        response = RequestIdMiddleware(view)(RequestFactory().get("/"))
    inside = [r for r in caplog.records if r.getMessage() == "inside the task"]
    assert inside
    RequestIdFilter().filter(inside[0])
    assert inside[0].request_id == response["X-Request-ID"]


# A real task of the app that is harmless to run anywhere: it looks for lost jobs.
TASK = "evidence.tasks.jobs_recover_task"


@pytest.mark.worker
def test_the_request_id_follows_a_queued_task_into_the_worker_log(tmp_path, shared_redis_url):
    from config.celery import app

    celery = require_program("celery")
    queue = f"casefile-prod-test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "REDIS_URL": shared_redis_url,
        "CELERY_QUEUE": queue,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        # An empty database: the task below finds nothing to do (and touches no real data).
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    }
    with open(log_path, "w") as log_file:
        worker = subprocess.Popen(  # noqa: S603
            [
                celery, "-A", "config", "worker", "-Q", queue, "--pool", "solo",
                "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        request_id = f"req-{uuid.uuid4().hex}"

        def view(request):
            with app.connection_for_write(shared_redis_url) as connection:
                app.send_task(TASK, queue=queue, connection=connection, ignore_result=True)
            return HttpResponse("ok")

        RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID=request_id))

        deadline = time.monotonic() + 60
        task_lines = []
        while time.monotonic() < deadline and not task_lines:
            time.sleep(0.5)
            for raw in log_path.read_text().splitlines():
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if line.get("task_name") == TASK and line.get("event") == "task.finished":
                    task_lines.append(line)
            assert worker.poll() is None, log_path.read_text()
        assert task_lines, log_path.read_text()
        assert task_lines[0]["request_id"] == request_id
        assert task_lines[0]["task_id"]
    finally:
        stop(worker)
        redis.Redis.from_url(shared_redis_url).delete(queue)


def test_successful_probes_stay_out_of_the_info_log(client, db, caplog):
    with caplog.at_level(logging.INFO, logger="casefile.requests"):
        client.get("/healthz")
        client.get("/login/")
    logged = [r.getMessage() for r in caplog.records if r.name == "casefile.requests"]
    assert logged == ["GET /login/ 200"]
