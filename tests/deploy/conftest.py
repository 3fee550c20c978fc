"""Helpers for the deployment tests: free ports, real servers in subprocesses, production env."""

import base64
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.needs import unavailable

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# This suite's own Redis database on the shared server (the others use their own numbers).
REDIS_DB = 4


def require_program(name: str) -> str:
    """The path of a program a test needs: missing fails in CI and skips (saying so) elsewhere."""
    path = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        unavailable(
            f"{name} is not installed (`make install` / apt-get install) but this test needs it"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def strong_secret_key() -> str:
    return secrets.token_urlsafe(50)


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A production-like environment: DEBUG off, a real key, named hosts, nothing inherited
    from the developer's shell that could change the outcome."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME") or str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": strong_secret_key(),
        "ALLOWED_HOSTS": "casefile.example.org,127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": "https://casefile.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        # The newsroom's signing key (cases/signing.py): base64 of a raw Ed25519 private key.
        "CASEFILE_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def moto_server():
    """A real S3-compatible server (moto in server mode) on a free loopback port."""
    program = require_program("moto_server")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [program, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
def redis_server():
    """A throwaway redis-server on a free port (never the shared one on 6379): a test may stop
    it. Yields (url, process)."""
    program = require_program("redis-server")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        stop(process)


@pytest.fixture
def shared_redis_url():
    """This suite's database on the shared Redis (the broker CI starts)."""
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        unavailable("Redis is not running on 127.0.0.1:6379 (.ci/run starts it)")
    return url
