"""Worker scaling: 200 photos processed by one Celery worker process, then by two, on Redis.

Each run ingests 200 new photos (3-megapixel camera JPEGs with EXIF, GPS and a unique comment,
made with tests/images.py) through `photo_ingest`, with their processing tasks parked in a queue
nobody consumes; then the tasks are sent to the queue of the configuration being measured and
the clock runs until every photo is ready. One worker: one `celery worker -c 1` process; two
workers: two such processes on one queue. Every photo must end ready, claimed once
(`attempts == 1`) and recorded processed once. Target: two workers at least 1.7x one.

Uses its own Redis database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/6) and queues.
Run: `make bench`, or `.venv/bin/python benchmarks/worker_scaling.py`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from _common import REDIS_URL, ROOT, RUNS, database_drop, django_setup, median, record, table

DATABASE = "casefile_bench_workers"
PHOTOS = int(os.environ.get("BENCH_WORKER_PHOTOS", "200"))
SIZE = (2000, 1500)
TAG = f"bench{os.getpid()}"
PARKED = f"{TAG}_parked"
QUEUES = {1: f"{TAG}_one", 2: f"{TAG}_two"}


def _photos(count: int) -> list[bytes]:
    from tests.images import jpeg_bytes

    return [
        jpeg_bytes(
            seed=n,
            size=SIZE,
            taken_at="2026:05:25 09:14:03",
            offset="+08:00",
            make="NIKON CORPORATION",
            model="NIKON D850",
            gps=(40.1201, 124.3842),
        )
        for n in range(count)
    ]


def _unique(jpeg: bytes, label: str) -> bytes:
    """The same picture with a comment segment after SOI: different bytes, same pixels."""
    comment = label.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def _worker(name: str, queue: str, environ: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
    )


def _cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """User + system CPU time of the worker processes and their pool children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in processes:
        pids = [process.pid]
        try:
            children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
        except OSError:
            children = []
        pids += [int(child) for child in children]
        for pid in pids:
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def main() -> int:
    media = tempfile.mkdtemp(prefix="casefile-bench-workers-")
    shared = {
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": media,
        "CELERY_QUEUE": f"{TAG}_default",
        "CELERY_EXPORT_QUEUE": f"{TAG}_exports",
        "CELERY_OCR_QUEUE": f"{TAG}_ocr",
        # The photo pipeline's throughput: reading text is benchmarks/ocr.py's.
        "CASEFILE_OCR": "0",
        "LOG_LEVEL": "WARNING",
    }
    # This process parks the tasks that ingest queues; the workers consume only their queue.
    database_url = django_setup(DATABASE, **shared, CELERY_INGEST_QUEUE=PARKED)
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.models import Activity
    from cases.services import case_create
    from config.celery import app
    from evidence.models import Photo
    from evidence.services.evidence import photo_ingest
    from evidence.tasks import photo_process_task

    worker_env = {
        **os.environ,
        **shared,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "localhost",
    }
    user = get_user_model().objects.create_user(username="olivia")
    print(f"Making {PHOTOS} photos …", flush=True)
    originals = _photos(PHOTOS)
    host = socket.gethostname()
    workers = {
        1: [_worker(f"{TAG}-one", QUEUES[1], {**worker_env, "CELERY_INGEST_QUEUE": QUEUES[1]})],
        2: [
            _worker(f"{TAG}-two-{i}", QUEUES[2], {**worker_env, "CELERY_INGEST_QUEUE": QUEUES[2]})
            for i in (1, 2)
        ],
    }
    names = [f"{TAG}-one@{host}", f"{TAG}-two-1@{host}", f"{TAG}-two-2@{host}"]

    def purge(queue: str) -> None:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)

    def batch(run: int, workers_count: int, count: int) -> tuple[float, list[int]]:
        case = case_create(actor=user, title=f"Run {run} with {workers_count} workers")
        ids = []
        for n, original in enumerate(originals[:count]):
            data = _unique(original, f"{TAG} run {run} workers {workers_count} photo {n}")
            evidence, _ = photo_ingest(
                actor=user, case=case, file=SimpleUploadedFile(f"p{n}.jpg", data)
            )
            ids.append(evidence.pk)
        purge(PARKED)
        cpu_before = _cpu_seconds(workers[workers_count])
        start = time.perf_counter()
        for pk in ids:
            photo_process_task.apply_async(args=[pk], queue=QUEUES[workers_count])
        pending = Photo.objects.filter(pk__in=ids).exclude(
            status__in=[Photo.Status.READY, Photo.Status.FAILED]
        )
        deadline = start + 1800
        while pending.exists():
            if time.perf_counter() > deadline:
                raise RuntimeError("photos still processing after 30 minutes")
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        cpu[workers_count].append(_cpu_seconds(workers[workers_count]) - cpu_before)
        return seconds, ids

    results: dict[int, list[float]] = {1: [], 2: []}
    # CPU seconds the measured workers used per batch, and per timed run (cores they got).
    cpu: dict[int, list[float]] = {1: [], 2: []}
    cores: dict[int, list[float]] = {1: [], 2: []}
    try:
        for _ in range(600):
            replies = app.control.ping(destination=names, timeout=1.0)
            if len(replies) == len(names):
                break
        else:
            raise RuntimeError("the Celery workers did not answer")
        for workers_count in (1, 2):  # warm every worker process up
            batch(0, workers_count, 4 * workers_count)
        for run in range(1, RUNS + 1):
            for workers_count in (1, 2):
                seconds, ids = batch(run, workers_count, PHOTOS)
                photos = list(Photo.objects.filter(pk__in=ids).values_list("status", "attempts"))
                assert all(status == Photo.Status.READY for status, _ in photos), photos
                assert all(attempts == 1 for _, attempts in photos), photos
                processed = Activity.objects.filter(verb="photo.processed", target_id__in=ids)
                assert processed.count() == len(ids), processed.count()
                results[workers_count].append(PHOTOS / seconds)
                cores[workers_count].append(cpu[workers_count][-1] / seconds)
                print(
                    f"run {run}, {workers_count} worker(s): {seconds:.1f} s, "
                    f"{PHOTOS / seconds:.1f} photos/s, {cpu[workers_count][-1]:.1f} CPU s, "
                    f"{cores[workers_count][-1]:.2f} cores",
                    flush=True,
                )
    finally:
        for group in workers.values():
            for process in group:
                process.send_signal(signal.SIGTERM)
        for group in workers.values():
            for process in group:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
        for queue in (PARKED, *QUEUES.values()):
            purge(queue)
        shutil.rmtree(media, ignore_errors=True)
    one, two = median(results[1]), median(results[2])
    ratio = two / one
    pairs = sorted(b / a for a, b in zip(results[1], results[2], strict=True))
    cpu_per_photo = {n: median(cpu[n][-RUNS:]) / PHOTOS for n in (1, 2)}
    body = (
        f"{PHOTOS} photos ({SIZE[0]}×{SIZE[1]} camera JPEGs with EXIF and GPS) per run, "
        "ingested first with their tasks parked, then sent to the measured workers' own Redis "
        "queue; timed until every photo is ready. Each worker is a `celery worker -c 1` "
        f"process (acks late, prefetch 1). Medians of {RUNS} runs, the two configurations "
        "alternating. Every photo was claimed once (attempts = 1) and recorded processed once.\n\n"
        + table(
            [
                "workers",
                "photos/s",
                f"seconds per {PHOTOS}",
                "ratio",
                "CPU s per photo",
                "cores the workers got",
            ],
            [
                (
                    "1",
                    f"{one:.1f}",
                    f"{PHOTOS / one:.1f}",
                    "1.00×",
                    f"{cpu_per_photo[1]:.3f}",
                    f"{median(cores[1]):.2f}",
                ),
                (
                    "2",
                    f"{two:.1f}",
                    f"{PHOTOS / two:.1f}",
                    f"**{ratio:.2f}×**",
                    f"{cpu_per_photo[2]:.3f}",
                    f"{median(cores[2]):.2f}",
                ),
            ],
        )
        + "\n\nRatios of the runs, pair by pair: "
        + ", ".join(f"{r:.2f}×" for r in pairs)
        + ". *Cores the workers got*: the CPU time of the worker processes (PostgreSQL's and "
        "Redis's not included) over the wall time (the machine is shared; when two workers "
        "get less than two cores between them, "
        "the wall-clock ratio measures the machine, and CPU s per photo shows whether the "
        "work itself grew with a second worker)."
        + f"\n\nTarget (2 workers ≥ 1.7× one): {'met' if ratio >= 1.7 else 'NOT met'}."
    )
    record("Worker scaling (benchmarks/worker_scaling.py)", body)
    database_drop(DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
