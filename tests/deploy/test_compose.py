"""docker-compose.yml describes a deployment that scales: checked by docker-compose itself and
by reading the file (no containers are started here)."""

import subprocess

import pytest
import yaml

from tests.deploy.conftest import ROOT, require_program

LONG_RUNNING = ("db", "redis", "minio", "web", "worker", "export-worker", "beat")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_docker_compose_accepts_the_file():
    program = require_program("docker-compose")
    result = subprocess.run(  # noqa: S603
        [program, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_every_long_running_service_has_a_healthcheck(compose):
    for name in LONG_RUNNING:
        assert "test" in compose[name]["healthcheck"], name


def test_ingest_workers_can_be_scaled(compose):
    worker = compose["worker"]
    # `--scale worker=4` needs replicas without a fixed name or host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "CELERY_INGEST_QUEUE" in " ".join(worker["command"])


def test_exports_have_their_own_worker_and_beat_runs_once(compose):
    assert "CELERY_EXPORT_QUEUE" in " ".join(compose["export-worker"]["command"])
    assert "CELERY_INGEST_QUEUE" not in " ".join(compose["export-worker"]["command"])
    assert "beat" in compose["beat"]["command"]
    assert "ports" not in compose["beat"] and "ports" not in compose["export-worker"]


def test_redis_needs_a_password_and_never_evicts_queued_tasks(compose):
    command = " ".join(compose["redis"]["command"])
    assert "--requirepass" in command
    assert "--maxmemory-policy noeviction" in command
    assert "REDIS_PASSWORD:-}@redis" in (ROOT / "docker-compose.yml").read_text()


def test_the_app_runs_in_production_mode_on_object_storage(compose):
    env = compose["web"]["environment"]
    assert env["DEBUG"] == "0"
    assert env["STORAGE_ENDPOINT_URL"].endswith("http://minio:9000}")
    assert "gunicorn" in " ".join(compose["web"]["command"])
    assert compose["web"]["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
