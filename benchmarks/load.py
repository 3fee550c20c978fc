"""Sustained load: 20 concurrent clients for 10 minutes against the deployment's own shape.

gunicorn as docker-compose.yml runs it (3 gthread workers of 4 threads, the compose file's
timeouts) behind a real nginx with the compose proxy's configuration (config/nginx/…template:
buffering, body limit, timeouts), 2 Celery worker processes consuming the queues of compose's
`worker` service (photos, webhooks, small jobs; text reading, videos, captures and exports have
workers of their own there), PostgreSQL and Redis. Each client is a reporter of the case with
an API token and a browser session and loops: wait (exponential think time, mean
BENCH_LOAD_THINK seconds), then one of

  upload  POST a real camera JPEG to /api/v1/cases/{id}/evidence/ (the four photographs of
          12–24 MP in Debian's lomiri-wallpapers and the camera JPEGs of exiftool's test set,
          tests/fixtures/exiftool; each upload's bytes made unique by a comment segment)
  page    GET a page a reporter reads: dashboard, gallery, a photo's page, claim board, a claim
  list    GET an API list: evidence, claims, activity
  claim   POST a claim, or link an item to a claim

in the proportions of MIX. Measured: requests per second, p50/p95/p99 per kind, errors (any
answer other than the one expected, any connection error), for every uploaded photo the time
from its upload to `ready` (processed_at − created_at, from the database), and the resident
memory of every server process at the start of the measured window (after BENCH_LOAD_WARMUP
seconds of the same load) and at its end. Targets: 0 errors, p95 of an upload under 500 ms,
the median photo ready within 30 s of its upload, no process growing by more than 10 %.

The clients run in this process, on the same 2 cores as the servers: their CPU is part of the
load the machine carries, as said in the report.

Run: `make bench`, or `.venv/bin/python benchmarks/load.py` (BENCH_LOAD_SECONDS=60 for a short
run).
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests
from _common import (
    BACKGROUNDS,
    PHOTOGRAPHS,
    REDIS_URL,
    ROOT,
    database_drop,
    django_setup,
    gunicorn_start,
    median,
    percentile,
    record,
    table,
)

DATABASE = "casefile_bench_load"
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "600"))
WARMUP = int(os.environ.get("BENCH_LOAD_WARMUP", "60"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "20"))
THINK = float(os.environ.get("BENCH_LOAD_THINK", "1.0"))
MIX = {"upload": 0.08, "page": 0.42, "list": 0.35, "claim": 0.15}
CAMERA_JPEGS = ROOT / "tests" / "fixtures" / "exiftool"
TAG = f"load{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port}")


def _camera_jpegs() -> list[tuple[str, bytes]]:
    files = [BACKGROUNDS / name for name in PHOTOGRAPHS if (BACKGROUNDS / name).exists()]
    if len(files) < len(PHOTOGRAPHS):
        sys.exit(
            "The load benchmark uploads the photographs of Debian's lomiri-wallpapers: "
            "`make bench-tools` (apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)."
        )
    files += sorted(CAMERA_JPEGS.glob("*.jpg"))
    return [(path.name, path.read_bytes()) for path in files]


def _unique(jpeg: bytes, label: str) -> bytes:
    """The same picture with a comment segment after SOI: different bytes, same pixels."""
    comment = label.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _process_tree(roots: dict[str, subprocess.Popen]) -> dict[str, int]:
    """name -> pid of each server process and its children (gunicorn's and Celery's workers,
    nginx's worker)."""
    found = {}
    for name, process in roots.items():
        found[name] = process.pid
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        for n, child in enumerate(children, 1):
            found[f"{name} child {n}"] = int(child)
    return found


def _celery_worker(name: str, environ: dict[str, str], queues: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(queues),
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
    )


def _nginx(folder: Path, *, port: int, upstream_port: int) -> subprocess.Popen:
    from tests.nginx import nginx_config

    program = shutil.which("nginx") or "/usr/sbin/nginx"
    config = nginx_config(folder, port=port, upstream_port=upstream_port, max_body_size="51m")
    process = subprocess.Popen(
        [program, "-p", str(folder), "-c", str(config)], stderr=subprocess.DEVNULL
    )
    _wait_for_port(port, process)
    return process


class Client(threading.Thread):
    """One reporter: a token for the API, a session for the pages, a loop of think and act."""

    def __init__(self, n, *, base, token, session_cookie, world, until, results, lock):
        super().__init__(daemon=True)
        self.n, self.base, self.world, self.until = n, base, world, until
        self.results, self.lock = results, lock
        self.random = random.Random(n)  # noqa: S311 - a load pattern, not a secret
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Token {token}"
        self.browser = requests.Session()
        self.browser.cookies.set("sessionid", session_cookie)
        self.uploads = 0

    def run(self):
        kinds, weights = zip(*MIX.items(), strict=True)
        while time.monotonic() < self.until:
            time.sleep(self.random.expovariate(1 / THINK))
            kind = self.random.choices(kinds, weights)[0]
            start = time.monotonic()
            try:
                ok, detail = getattr(self, kind)()
            except requests.RequestException as error:
                ok, detail = False, f"{type(error).__name__}: {error}"
            elapsed = time.monotonic() - start
            with self.lock:
                self.results.append((start, kind, elapsed, ok, detail))

    def _expect(self, response, *statuses):
        return (
            response.status_code in statuses,
            f"{response.request.method} {response.url} answered {response.status_code}",
        )

    def upload(self):
        name, data = self.random.choice(self.world["jpegs"])
        self.uploads += 1
        body = _unique(data, f"{TAG} client {self.n} upload {self.uploads}")
        response = self.api.post(
            f"{self.base}/api/v1/cases/{self.world['case']}/evidence/",
            data={"kind": "photo", "title": f"Load {self.n}-{self.uploads}"},
            files={"file": (name, body, "image/jpeg")},
            timeout=120,
        )
        return self._expect(response, 201, 202)

    def page(self):
        case, world = self.world["case"], self.world
        url = self.random.choice(
            [
                f"/cases/{case}/",
                f"/cases/{case}/evidence/",
                f"/evidence/{self.random.choice(world['photos'])}/",
                f"/cases/{case}/claims/",
                f"/claims/{self.random.choice(world['claims'])}/",
            ]
        )
        return self._expect(self.browser.get(self.base + url, timeout=120), 200)

    def list(self):
        case = self.world["case"]
        url = self.random.choice(
            [
                f"/api/v1/cases/{case}/evidence/?kind=photo",
                f"/api/v1/cases/{case}/claims/",
                f"/api/v1/cases/{case}/activity/",
            ]
        )
        return self._expect(self.api.get(self.base + url, timeout=120), 200)

    def claim(self):
        world = self.world
        if self.random.random() < 0.5:
            response = self.api.post(
                f"{self.base}/api/v1/cases/{world['case']}/claims/",
                json={"statement": f"Load claim by client {self.n} at {time.time():.3f}"},
                timeout=120,
            )
            return self._expect(response, 201)
        response = self.api.post(
            f"{self.base}/api/v1/claims/{self.random.choice(world['claims'])}/links/",
            json={
                "evidence": self.random.choice(world["photos"]),
                "stance": self.random.choice(["supports", "contradicts"]),
                "note": f"client {self.n}",
            },
            timeout=120,
        )
        # A link that exists already is refused with 400 naming it: the expected answer.
        return self._expect(response, 201, 400)


def _seed(jpegs):
    """The case the clients work in: 21 members, 40 processed photos, 30 claims."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client as DjangoClient

    from cases.models import Claim, Role
    from cases.services import case_create, claim_create, membership_add
    from cases.tokens import token_create
    from evidence.services.evidence import photo_ingest

    users = get_user_model().objects
    owner = users.create_user(username="olivia", password=secrets.token_urlsafe())
    case = case_create(actor=owner, title="Dandong rail traffic, May (load)")
    clients = []
    for n in range(CLIENTS):
        user = users.create_user(username=f"reporter{n}", password=secrets.token_urlsafe())
        membership_add(actor=owner, case=case, user=user, role=Role.REPORTER)
        _, token = token_create(user=user, name="load")
        browser = DjangoClient()
        browser.force_login(user)
        clients.append((token, browser.cookies["sessionid"].value))
    photos = []
    for n in range(40):
        name, data = jpegs[n % len(jpegs)]
        evidence, _ = photo_ingest(
            actor=owner,
            case=case,
            file=SimpleUploadedFile(name, _unique(data, f"{TAG} seed {n}")),
        )
        photos.append(evidence.pk)
    claims = [
        claim_create(actor=owner, case=case, statement=f"Seed claim {n}").pk for n in range(30)
    ]
    assert Claim.objects.filter(pk__in=claims).count() == 30
    return case, clients, photos, claims


def main() -> int:
    media = tempfile.mkdtemp(prefix="casefile-bench-load-")
    static = tempfile.mkdtemp(prefix="casefile-bench-static-")
    shared = {
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": media,
        "STATIC_ROOT": static,
        # One key for this process and the servers: the sessions made here are signed with it.
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CASEFILE_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "LOG_LEVEL": "WARNING",
        "API_THROTTLE_USER": "1000/minute",
    }
    database_url = django_setup(DATABASE, **shared)
    # As the image's build does, with the servers' settings (DEBUG off: the manifest storage).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "localhost"},
        check=True,
    )
    from evidence.models import Photo

    jpegs = _camera_jpegs()
    worker_env = {
        **os.environ,
        **shared,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "localhost",
    }
    from django.conf import settings

    # The compose file's `worker` service: photos, webhooks and small jobs. Text reading, videos,
    # captures and exports have workers of their own there, not measured here.
    queues = [
        settings.CELERY_INGEST_QUEUE,
        settings.CELERY_WEBHOOK_QUEUE,
        settings.CELERY_TASK_DEFAULT_QUEUE,
    ]
    workers = [_celery_worker(f"{TAG}-{n}", worker_env, queues) for n in (1, 2)]
    folder = Path(tempfile.mkdtemp(prefix="casefile-bench-nginx-"))
    web_port, proxy_port = _free_port(), _free_port()
    servers: dict[str, subprocess.Popen] = {}
    try:
        case, clients, photos, claims = _seed(jpegs)
        servers["gunicorn"] = gunicorn_start(
            database_url,
            port=web_port,
            workers=3,
            environ={**shared, "TRUSTED_PROXY_COUNT": "1"},
            options=[
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--graceful-timeout",
                "30",
                "--keep-alive",
                "75",
            ],
        )
        servers["nginx"] = _nginx(folder, port=proxy_port, upstream_port=web_port)
        servers.update({f"celery worker {n}": worker for n, worker in enumerate(workers, 1)})
        deadline = time.monotonic() + 300
        while Photo.objects.filter(evidence__case=case, status=Photo.Status.READY).count() < 40:
            if time.monotonic() > deadline:
                raise RuntimeError("the seed photos were not processed within 5 minutes")
            time.sleep(0.5)

        world = {"case": case.pk, "photos": photos, "claims": claims, "jpegs": jpegs}
        results, lock = [], threading.Lock()
        began = time.monotonic()
        until = began + WARMUP + SECONDS
        threads = [
            Client(
                n,
                base=f"http://127.0.0.1:{proxy_port}",
                token=token,
                session_cookie=cookie,
                world=world,
                until=until,
                results=results,
                lock=lock,
            )
            for n, (token, cookie) in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(WARMUP)
        pids = _process_tree(servers)
        rss_start = {name: _rss_kb(pid) for name, pid in pids.items()}
        load_start = os.getloadavg()
        measured_from = time.monotonic()
        print(f"Warm; measuring for {SECONDS} s with {CLIENTS} clients …", flush=True)
        for thread in threads:
            thread.join()
        measured_until = time.monotonic()
        rss_end = {name: _rss_kb(pid) for name, pid in pids.items()}
        load_end = os.getloadavg()

        uploaded = Photo.objects.filter(evidence__case=case).exclude(evidence_id__in=photos)
        deadline = time.monotonic() + 300
        while uploaded.exclude(status__in=[Photo.Status.READY, Photo.Status.FAILED]).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        ready = [
            (row["processed_at"] - row["evidence__created_at"]).total_seconds()
            for row in uploaded.filter(status=Photo.Status.READY).values(
                "processed_at", "evidence__created_at"
            )
        ]
        not_ready = uploaded.exclude(status=Photo.Status.READY).count()
        attempts = sorted(set(uploaded.values_list("attempts", flat=True)))
        uploaded_count = uploaded.count()
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in [*servers.values(), *workers]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        database_drop(DATABASE)
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(static, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)

    measured = [r for r in results if measured_from <= r[0] < measured_until]
    by_kind = defaultdict(list)
    for _, kind, elapsed, ok, detail in measured:
        by_kind[kind].append((elapsed, ok, detail))
    span = measured_until - measured_from
    rows = []
    for kind in MIX:
        samples = by_kind[kind]
        times = [elapsed * 1000 for elapsed, _, _ in samples] or [0.0]
        errors = sum(1 for _, ok, _ in samples if not ok)
        rows.append(
            (
                kind,
                len(samples),
                f"{len(samples) / span:.2f}",
                f"{percentile(times, 0.5):.0f}",
                f"{percentile(times, 0.95):.0f}",
                f"{percentile(times, 0.99):.0f}",
                errors,
            )
        )
    errors_all = [detail for _, _, _, ok, detail in measured if not ok]
    upload_p95 = percentile([e * 1000 for e, _, _ in by_kind["upload"]] or [0.0], 0.95)
    rss_rows = []
    worst_growth = 0.0
    for name in rss_start:
        growth = (rss_end[name] - rss_start[name]) / max(rss_start[name], 1) * 100
        worst_growth = max(worst_growth, growth)
        rss_rows.append(
            (
                name,
                f"{rss_start[name] / 1024:.0f}",
                f"{rss_end[name] / 1024:.0f}",
                f"{growth:+.1f} %",
            )
        )
    ready_median = median(ready) if ready else float("nan")
    verdicts = [
        f"errors: {len(errors_all)} (target 0) — {'met' if not errors_all else 'NOT met'}",
        f"p95 of an upload: {upload_p95:.0f} ms (target under 500 ms) — "
        f"{'met' if upload_p95 < 500 else 'NOT met'}",
        f"upload to ready: median {ready_median:.1f} s, p95 "
        f"{percentile(ready, 0.95) if ready else float('nan'):.1f} s, max "
        f"{max(ready) if ready else float('nan'):.1f} s over {len(ready)} photos; "
        f"{not_ready} not ready (target: median within 30 s) — "
        f"{'met' if ready and ready_median < 30 and not not_ready else 'NOT met'}",
        f"resident memory: the largest growth {worst_growth:+.1f} % (target at most +10 %) — "
        f"{'met' if worst_growth <= 10 else 'NOT met'}",
    ]
    body = (
        f"{CLIENTS} clients for {span:.0f} s (after {WARMUP} s of warm-up), think time mean "
        f"{THINK} s; mix {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}. gunicorn 3 gthread "
        "workers × 4 threads behind nginx with the compose proxy's configuration, 2 Celery "
        f"worker processes (-c 1 each, queues {', '.join(queues)}), PostgreSQL, Redis; the "
        "clients run on the "
        f"same machine. Load average (1, 5, 15 min) at start {load_start}, at end {load_end}. "
        f"{len(measured) / span:.1f} requests per second in all.\n\n"
        + table(("kind", "requests", "per second", "p50 ms", "p95 ms", "p99 ms", "errors"), rows)
        + "\n\nResident memory (MB) at the start and at the end of the measured window:\n\n"
        + table(("process", "start", "end", "growth"), rss_rows)
        + f"\n\n{uploaded_count} photos uploaded; processing attempts per photo: {attempts}.\n\n"
        + "\n".join(f"- {line}" for line in verdicts)
        + (
            "\n\nErrors (first 10):\n" + "\n".join(f"- {e}" for e in errors_all[:10])
            if errors_all
            else ""
        )
    )
    record("Sustained load (benchmarks/load.py)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
