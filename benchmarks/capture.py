"""Link capture (issue #16): a local page of 30 images captured by Casefile against Chromium's
own load-plus-screenshot of the same page, in the same run; then captures per minute with one
capture worker (a real `celery worker -c 1` on the capture queue, on Redis).

1. Per page: `evidence.capture.engine.page_capture` (every request fetched by our own checked
   fetch and fulfilled to the browser, scrolled for lazy content, full-page, viewport and phone
   screenshots, DOM, text, PDF, WARC) against the baseline: the same Chromium build, a new
   context, `goto` until `load`, one full-page screenshot, with the browser fetching by itself.
   Both browsers are launched once beforehand (the capture worker keeps its browser between
   captures); the runs alternate. Target: ours within 1.5x.
2. Throughput: CAPTURES links recorded through `evidence_create` (each queued through the outbox
   on the capture queue), one worker process with concurrency 1, timed from the first link to
   the last capture finished, the images turned into evidence included.

Run: `.venv/bin/python benchmarks/capture.py` (BENCH_CAPTURES=20 by default).
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REDIS_URL, ROOT, RUNS, database_drop, django_setup, median, record, table

DATABASE = "casefile_bench_capture"
IMAGES = 30
CAPTURES = int(os.environ.get("BENCH_CAPTURES", "20"))
QUEUE = f"bench{os.getpid()}_capture"


def _site():
    from PIL import Image

    from tests.evidence.capture_sites import Site

    images = {}
    for n in range(IMAGES):
        out = io.BytesIO()
        Image.new("RGB", (480, 320), ((n * 37) % 256, (n * 71) % 256, (n * 113) % 256)).save(
            out, "JPEG", quality=85
        )
        images[f"/img/{n}.jpg"] = out.getvalue()
    body = "".join(
        f'<figure><img src="/img/{n}.jpg" width="480" height="320" alt="Photo {n}">'
        f"<figcaption>Photo {n} of the freight yard</figcaption></figure>"
        for n in range(IMAGES)
    )
    page = (
        "<!doctype html><html><head><title>Thirty photos</title></head><body>"
        f"<h1>The Dandong freight yard</h1>{body}</body></html>"
    ).encode()

    def route(handler):
        path = handler.path.split("?", 1)[0]
        if path == "/page":
            return Site.send(handler, 200, page)
        if path in images:
            return Site.send(handler, 200, images[path], "image/jpeg")
        return Site.send(handler, 404, b"not found")

    return Site(routes=route)


def page_comparison(site) -> tuple[list[float], list[float], int]:
    from evidence.capture.engine import CHROMIUM_ARGS, BrowserHost, Limits, page_capture

    ours_host = BrowserHost()
    # The baseline browser fetches by itself: none of the capture's network lock-down.
    plain = [a for a in CHROMIUM_ARGS if not a.startswith(("--host-resolver", "--proxy"))]
    base_host = BrowserHost(args=plain)
    allowed = frozenset({("127.0.0.1", site.port)})
    limits = Limits(seconds=60, max_bytes=200 * 1024 * 1024, max_requests=500)
    url = f"{site.url}/page"

    def ours(n: int) -> float:
        folder = Path(tempfile.mkdtemp(prefix="bench-capture-"))
        start = time.perf_counter()
        result = page_capture(url, folder=folder, allowed=allowed, limits=limits, host=ours_host)
        elapsed = time.perf_counter() - start
        assert not result.failure, result.failure
        assert len(result.media) == IMAGES, len(result.media)
        shutil.rmtree(folder)
        return elapsed

    async def chromium_own(browser):
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        await page.goto(url, wait_until="load")
        await page.screenshot(full_page=True)
        await context.close()

    def baseline(n: int) -> float:
        start = time.perf_counter()
        base_host.run(chromium_own, timeout=60)
        return time.perf_counter() - start

    ours(0), baseline(0)  # warm both browsers and the page cache of the site
    ours_times, base_times = [], []
    for n in range(RUNS):
        ours_times.append(ours(n))
        base_times.append(baseline(n))
    ours_host.close()
    base_host.close()
    return ours_times, base_times, len(site.requests)


def throughput(site) -> tuple[float, int]:
    database = f"{DATABASE}_{secrets.token_hex(3)}"
    url = django_setup(
        database,
        REDIS_URL=REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="0",
        CELERY_CAPTURE_QUEUE=QUEUE,
        CASEFILE_CAPTURE_ALLOW_HOSTS=f"127.0.0.1:{site.port}",
    )
    media = tempfile.mkdtemp(prefix="bench-capture-media-")
    os.environ["MEDIA_ROOT"] = media
    from config.celery import app

    app.conf.task_routes = {
        "evidence.tasks.link_capture_task": {"queue": QUEUE},
        "evidence.tasks.photo_process_task": {"queue": f"{QUEUE}_parked"},
    }
    app.conf.broker_url = REDIS_URL
    from evidence.models import Capture
    from evidence.services.evidence import evidence_create
    from tests.factories import CaseFactory, MembershipFactory, UserFactory

    environ = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_CAPTURE_QUEUE": QUEUE,
        "CELERY_INGEST_QUEUE": f"{QUEUE}_parked",
        "CASEFILE_CAPTURE_ALLOW_HOSTS": f"127.0.0.1:{site.port}",
        "MEDIA_ROOT": media,
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(  # noqa: S603 - our own virtualenv's celery
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "-Q",
            QUEUE,
            "--concurrency=1",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{QUEUE}@%h",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=environ,
        start_new_session=True,
    )
    try:
        owner = UserFactory(username=f"bench{secrets.token_hex(3)}")
        case = CaseFactory(created_by=owner)
        MembershipFactory(case=case, user=owner, role="owner")
        # The first capture starts the worker's browser: not counted.
        evidence_create(actor=owner, case=case, kind="link", url=f"{site.url}/page?warm")
        _wait(lambda: Capture.objects.filter(status__in=["ready", "failed"]).count() == 1, 120)
        start = time.perf_counter()
        for n in range(CAPTURES):
            evidence_create(actor=owner, case=case, kind="link", url=f"{site.url}/page?{n}")
        _wait(
            lambda: Capture.objects.filter(status__in=["ready", "failed"]).count() == CAPTURES + 1,
            60 * CAPTURES,
        )
        elapsed = time.perf_counter() - start
        failed = list(Capture.objects.filter(status="failed").values_list("failure_reason"))
        assert not failed, failed
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        with app.connection_for_write() as conn:
            for name in (QUEUE, f"{QUEUE}_parked"):
                conn.default_channel.queue_purge(name)
        database_drop(database)
        shutil.rmtree(media, ignore_errors=True)
    return elapsed, CAPTURES


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError("the captures did not finish in time")


def main() -> None:
    site = _site()
    try:
        ours, base, requests = page_comparison(site)
        elapsed, count = throughput(site)
    finally:
        site.close()
    ratio = median(ours) / median(base)
    per_minute = count / elapsed * 60
    body = (
        f"Medians of {len(ours)} runs, alternating; a local page of {IMAGES} JPEG images "
        "(480x320), browsers launched beforehand.\n\n"
        + table(
            ["measure", "ours", "baseline (same run)", "ratio", "target"],
            [
                [
                    f"capture of a page of {IMAGES} images",
                    f"`page_capture` {median(ours) * 1000:.0f} ms (3 screenshots, PDF, DOM, WARC)",
                    f"Chromium load + full-page screenshot {median(base) * 1000:.0f} ms",
                    f"**{ratio:.2f}x**",
                    f"<= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}",
                ],
                [
                    "captures per minute, one capture worker (-c 1)",
                    f"{per_minute:.1f} ({count} captures in {elapsed:.1f} s, images ingested)",
                    "",
                    "",
                    "",
                ],
            ],
        )
    )
    record("Link capture (benchmarks/capture.py)", body)


if __name__ == "__main__":
    main()
