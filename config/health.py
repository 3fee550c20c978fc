"""Probes for the load balancer and the orchestrator.

`/healthz` answers as long as the process can serve a request (a liveness probe: restart me if
this fails). `/readyz` is a readiness probe (send me no traffic until this passes): 503 with the
names of what is down when a dependency without which no request can be accepted (the database,
the shared cache, the storage) is unreachable; 200 "degraded", naming it, when only the broker
is: requests are still accepted, their tasks wait in the outbox until it is back. Neither needs a
login nor touches a session; the reasons for a failure go to the log, not to the anonymous
caller.
"""

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger("casefile.health")

# Each check may take this long before it counts as down: a probe must answer quickly.
CHECK_TIMEOUT_SECONDS = 3


def database_check() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        retry_on_timeout=False,
    )
    try:
        client.ping()
    finally:
        client.close()


def broker_check() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return  # no broker: tasks run in the web process
    if url.startswith(("redis://", "rediss://", "unix://")):
        redis_ping(url)
        return
    from kombu import Connection

    with Connection(url, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1)


def cache_check() -> None:
    location = settings.CACHES["default"].get("LOCATION", "")
    if isinstance(location, str) and location.startswith(("redis://", "rediss://")):
        redis_ping(location)


def storage_check() -> None:
    from django.core.files.storage import default_storage

    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:  # S3-compatible: the bucket itself must answer, not just the endpoint
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
        return
    location = getattr(default_storage, "location", None)
    if location:
        # The storage creates its folder on the first upload: what must hold is that it exists
        # and is writable, or that the nearest existing folder above it is.
        path = Path(location)
        while not path.exists() and path != path.parent:
            path = path.parent
        if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
            raise OSError(f"{location} is not a writable folder")


CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "broker": broker_check,
    "cache": cache_check,
    "storage": storage_check,
}
# Down, these leave the app ready but degraded (see the module docstring).
OPTIONAL = {"broker"}
RETRY_AFTER_SECONDS = 30


def run_checks() -> dict[str, str]:
    """Run every check; returns {name: "ok" | "down"} and logs why each failure happened."""
    results = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            results[name] = "down"
            log.warning(
                "readiness check %s failed: %s: %s",
                name,
                type(exc).__name__,
                exc,
                extra={"check": name, "elapsed_ms": round((time.monotonic() - started) * 1000)},
            )
        else:
            results[name] = "ok"
    return results


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    results = run_checks()
    down = [name for name, result in results.items() if result != "ok"]
    if set(down) - OPTIONAL:
        response = JsonResponse(
            {
                "status": "not ready",
                "down": down,
                "message": "Not ready: " + ", ".join(down) + " unreachable.",
                "checks": results,
            },
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if down:
        return JsonResponse(
            {
                "status": "degraded",
                "down": down,
                "message": "Ready, but "
                + ", ".join(down)
                + " unreachable: work is recorded and its tasks are sent once it is back.",
                "checks": results,
            }
        )
    return JsonResponse({"status": "ready", "checks": results})


class ProbeMiddleware:
    """Answers the probes before the host check, sessions and logins run.

    Load balancers and orchestrators call the probes by the container's address, not by a name
    in ALLOWED_HOSTS, and over plain HTTP inside the private network; a probe also must not
    write a session row every few seconds. Placed right after SecurityMiddleware, so the
    answers still carry its headers.
    """

    PROBES = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
