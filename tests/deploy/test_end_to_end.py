"""The deployment, end to end, as separate processes that share nothing but the database, the
broker and the bucket: gunicorn with production settings, an ingest worker whose local media
folder does not even exist, Redis, and a real S3 server. A photo uploaded over HTTP is processed
by the worker and downloaded again, and the upload's request id shows up in the worker's log."""

import json
import os
import subprocess
import time
import uuid

import pytest
import redis
import requests

from tests.deploy.conftest import (
    ROOT,
    free_port,
    manage,
    production_env,
    require_program,
    stop,
    wait_for_port,
)
from tests.deploy.test_storage import s3_client, s3_env
from tests.images import jpeg_bytes

pytestmark = pytest.mark.worker

SETUP = """
from django.contrib.auth import get_user_model
from cases.services import case_create
from cases.tokens import token_create
user = get_user_model().objects.create_user("rita", password="not-used-here-0451")
case = case_create(actor=user, title="The Dandong freight train")
print(case.pk, token_create(user=user)[1])
"""


@pytest.fixture
def deployment(tmp_path, moto_server, shared_redis_url):
    bucket = f"casefile-{uuid.uuid4().hex[:12]}"
    s3_client(moto_server).create_bucket(Bucket=bucket)
    queue = f"casefile-prod-e2e-{uuid.uuid4().hex[:8]}"
    env = production_env(
        tmp_path,
        USE_X_FORWARDED_PROTO="1",
        REDIS_URL=shared_redis_url,
        CELERY_QUEUE=f"{queue}-default",
        CELERY_INGEST_QUEUE=f"{queue}-ingest",
        CELERY_EXPORT_QUEUE=f"{queue}-exports",
        CELERY_OCR_QUEUE=f"{queue}-ocr",
        LOG_FORMAT="json",
        **s3_env(moto_server, bucket),
    )
    result = manage("migrate", "--noinput", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    result = manage("shell", "-c", SETUP, env=env)
    assert result.returncode == 0, result.stderr
    case_id, token = result.stdout.split()[-2:]

    worker_log = tmp_path / "worker.log"
    # The worker has no media folder of its own: everything it reads and writes is in S3.
    worker_env = {**env, "MEDIA_ROOT": str(tmp_path / "worker-has-no-media")}
    port = free_port()
    with open(worker_log, "w") as log:
        worker = subprocess.Popen(  # noqa: S603
            [
                require_program("celery"), "-A", "config", "worker",
                "-Q", f"{queue}-ingest", "--pool", "solo",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
            ],
            cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    web = subprocess.Popen(  # noqa: S603
        [require_program("gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, web, timeout=60)
        yield {
            "url": f"http://127.0.0.1:{port}",
            "case_id": case_id,
            "token": token,
            "worker": worker,
            "worker_log": worker_log,
            "bucket": bucket,
            "s3": s3_client(moto_server),
        }
    finally:
        stop(web)
        stop(worker)
        redis.Redis.from_url(shared_redis_url).delete(
            *(f"{queue}-{q}" for q in ("default", "ingest", "exports"))
        )


def test_an_upload_is_processed_by_a_separate_worker_through_s3(deployment):
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Token {deployment['token']}",
            "Host": "casefile.example.org",
            "X-Forwarded-Proto": "https",
        }
    )
    data = jpeg_bytes(seed=11, taken_at="2024:05:25 16:40:00", make="Canon", model="EOS R6")
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = session.post(
        f"{deployment['url']}/api/v1/cases/{deployment['case_id']}/evidence/",
        data={"kind": "photo", "title": "The same cars, empty"},
        files={"file": ("dandong-empty.jpg", data, "image/jpeg")},
        headers={"X-Request-ID": request_id},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    evidence_id = response.json()["id"]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        photo = session.get(f"{deployment['url']}/api/v1/evidence/{evidence_id}/", timeout=30)
        if photo.json()["status"] in ("ready", "failed"):
            break
        assert deployment["worker"].poll() is None, deployment["worker_log"].read_text()
        time.sleep(0.5)
    assert photo.json()["status"] == "ready", (photo.json(), deployment["worker_log"].read_text())
    assert photo.json()["camera_make"] == "Canon"

    # Original and derivatives are in the bucket, not on anyone's disk.
    listing = deployment["s3"].list_objects_v2(Bucket=deployment["bucket"])
    keys = {item["Key"] for item in listing["Contents"]}
    assert any(key.startswith("originals/") for key in keys)
    assert len(keys) >= 3  # the original, a thumbnail and a preview

    original = session.get(
        f"{deployment['url']}/api/v1/evidence/{evidence_id}/original/", timeout=30
    )
    assert original.status_code == 200
    assert original.content == data

    lines = []
    for raw in deployment["worker_log"].read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    processed = [
        line
        for line in lines
        if line.get("task_name") == "evidence.tasks.photo_process_task"
        and line.get("event") == "task.finished"
    ]
    assert processed, deployment["worker_log"].read_text()
    assert processed[0]["request_id"] == request_id
    assert not os.path.exists(deployment["worker_log"].parent / "worker-has-no-media")
