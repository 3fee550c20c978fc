"""docker-compose.yml describes a deployment that scales: checked by docker-compose itself and
by reading the file (no containers are started here)."""

import http.server
import re
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
import yaml

from tests.deploy.conftest import ROOT, free_port, require_program, stop, wait_for_port
from tests.nginx import TEMPLATE as NGINX_TEMPLATE
from tests.nginx import nginx_config

LONG_RUNNING = (
    "db",
    "redis",
    "minio",
    "proxy",
    "web",
    "worker",
    "export-worker",
    "capture-worker",
    "ocr-worker",
    "video-worker",
    "beat",
)


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


def test_videos_have_their_own_worker(compose):
    command = " ".join(compose["video-worker"]["command"])
    assert '-Q "$${CELERY_VIDEO_QUEUE}"' in command
    assert "CELERY_INGEST_QUEUE" not in command
    assert (
        "ports" not in compose["video-worker"] and "container_name" not in compose["video-worker"]
    )


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
    assert env["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"  # nginx appends the client
    assert compose["web"]["depends_on"]["bucket"]["condition"] == "service_completed_successfully"


def test_only_the_proxy_is_published_and_it_is_a_maintained_nginx(compose):
    proxy = compose["proxy"]
    assert re.fullmatch(r"nginx:1\.\d+-alpine", proxy["image"])  # the official image, pinned
    assert proxy["ports"] == ["${WEB_PORT:-8000}:8080"]
    assert proxy["volumes"] == [
        "./config/nginx/casefile.conf.template:/etc/nginx/templates/default.conf.template:ro"
    ]
    # The largest upload, a video's (2 GB), plus the form's other fields.
    assert proxy["environment"]["PROXY_MAX_BODY_SIZE"] == "${PROXY_MAX_BODY_SIZE:-2049m}"
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    published = [name for name, service in compose.items() if "ports" in service]
    assert published == ["proxy"]  # gunicorn is reached through the proxy only
    assert compose["web"]["expose"] == ["8000"]


def test_gunicorn_runs_threads_that_a_slow_client_cannot_pin(compose):
    command = " ".join(compose["web"]["command"])
    assert "--worker-class gthread" in command and "--threads $${WEB_THREADS:-4}" in command
    assert "--timeout 120" in command


def test_the_proxy_buffers_limits_and_times_out(compose):
    conf = NGINX_TEMPLATE.read_text()
    directives = dict(re.findall(r"^\s*([a-z_]+)\s+([^;\n]+);", conf, re.M))
    assert directives["client_max_body_size"] == "${PROXY_MAX_BODY_SIZE}"
    assert directives["proxy_request_buffering"] == "on"
    assert directives["proxy_buffering"] == "on"
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert int(directives[timeout].rstrip("s")) <= 60, timeout
    # nginx waits for gunicorn exactly as long as gunicorn lets a request run.
    assert directives["proxy_read_timeout"] == "120s"
    assert "server web:8000;" in conf


class _Backend(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def nginx_in_front(tmp_path):
    """The compose proxy's own configuration, filled in as the image does, run by a real nginx
    in front of a small backend standing in for gunicorn."""
    program = require_program("nginx")
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    _Backend.seen = []
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    config = nginx_config(
        tmp_path, port=port, upstream_port=backend.server_address[1], max_body_size="1m"
    )
    check = subprocess.run(  # noqa: S603
        [program, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(  # noqa: S603
        [program, "-p", str(tmp_path), "-c", str(config)],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        backend.shutdown()


def test_the_proxy_refuses_a_body_over_its_limit_and_passes_the_client_on(nginx_in_front):
    url = nginx_in_front + "/login/"
    too_big = urllib.request.Request(url, data=b"x" * (2 * 1024 * 1024))  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(too_big, timeout=10)  # noqa: S310 - our own local nginx
    assert refused.value.code == 413
    assert _Backend.seen == []  # gunicorn never saw a byte of it

    with urllib.request.urlopen(nginx_in_front + "/cases/", timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    ((method, path, headers),) = _Backend.seen
    assert (method, path) == ("GET", "/cases/")
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])


def test_link_captures_have_their_own_worker_with_chromium(compose):
    worker = compose["capture-worker"]
    assert "CELERY_CAPTURE_QUEUE" in " ".join(worker["command"])
    assert "CELERY_INGEST_QUEUE" not in " ".join(worker["command"])
    assert worker["build"] == {"context": ".", "target": "capture"}
    assert "ports" not in worker
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM app AS capture" in dockerfile and "chromium" in dockerfile
