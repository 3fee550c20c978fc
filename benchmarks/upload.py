"""Upload: a 200 MB file through the real upload endpoint (`POST /api/v1/cases/{id}/evidence/`,
multipart, a PDF document) served by gunicorn with the size limit raised, against `cp` of the
same bytes on the same disk in the same run.

Measured: the web worker's peak resident memory growth during the upload (VmHWM from /proc, the
kernel's own high-water mark, so no peak is missed between samples) and the throughput seen by
the client (curl streams the file from disk). Targets: growth under 32 MB, throughput at least
half of `cp`'s.

Run: `make bench`, or `.venv/bin/python benchmarks/upload.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RUNS, database_drop, django_setup, gunicorn_start, median, record, table

DATABASE = "casefile_bench_upload"
SIZE = int(os.environ.get("BENCH_UPLOAD_MB", "200")) * 1024 * 1024
PORT = int(os.environ.get("BENCH_UPLOAD_PORT", "8775"))


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _make_file(path: Path, run: int) -> None:
    """SIZE bytes of a PDF: a header, incompressible bytes, an end marker. Each run's bytes
    differ (the same bytes twice in a case are stored once)."""
    if not path.exists():
        with path.open("wb") as out:
            out.write(b"%PDF-1.7\n")
            remaining = SIZE - 9 - 7
            while remaining:
                chunk = os.urandom(min(remaining, 8 * 1024 * 1024))
                out.write(chunk)
                remaining -= len(chunk)
            out.write(b"\n%%EOF\n")
    with path.open("r+b") as out:
        out.seek(9)
        out.write(f"run {run:08d} {time.time_ns()}\n".encode())


def _warm_cache(path: Path) -> None:
    """Read the file once so that its pages are cached for both curl and cp alike."""
    with path.open("rb") as source:
        while source.read(8 * 1024 * 1024):
            pass


def main() -> int:
    media = Path(tempfile.mkdtemp(prefix="casefile-bench-media-"))
    work = Path(tempfile.mkdtemp(prefix="casefile-bench-upload-"))
    database_url = django_setup(DATABASE, MEDIA_ROOT=str(media))
    from django.contrib.auth import get_user_model

    from cases.services import case_create
    from cases.tokens import token_create
    from evidence.models import Evidence

    user = get_user_model().objects.create_user(username="olivia")
    case = case_create(actor=user, title="Uploads")
    _, key = token_create(user=user, name="benchmark")
    url = f"http://127.0.0.1:{PORT}/api/v1/cases/{case.pk}/evidence/"
    source = work / "scan.pdf"
    server = gunicorn_start(
        database_url,
        port=PORT,
        workers=1,
        environ={
            "MEDIA_ROOT": str(media),
            "CASEFILE_MAX_UPLOAD_BYTES": str(SIZE + 1024 * 1024),
            "API_THROTTLE_USER": "100000000/minute",
        },
    )
    rows, growth_mb, upload_s, cp_s = [], [], [], []
    try:
        worker = _worker_pid(server.pid)
        small = work / "small.pdf"
        small.write_bytes(b"%PDF-1.7\nwarm up\n%%EOF\n")
        for run in range(RUNS + 1):  # run 0 warms the worker up (imports, connections)
            _make_file(source, run)
            _warm_cache(source)
            start = time.perf_counter()
            shutil.copyfile(source, work / "copy.pdf")
            copy_seconds = time.perf_counter() - start
            (work / "copy.pdf").unlink()
            rss_before = _status_kb(worker, "VmRSS")
            hwm_before = _status_kb(worker, "VmHWM")
            start = time.perf_counter()
            answer = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "--fail-with-body",
                    "-H",
                    f"Authorization: Token {key}",
                    "-F",
                    "kind=document",
                    "-F",
                    f"file=@{source if run else small};type=application/pdf",
                    url,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - start
            body = json.loads(answer.stdout)
            hwm_after = _status_kb(worker, "VmHWM")
            if run == 0:
                continue
            assert body["size"] == SIZE, body
            evidence = Evidence.objects.get(pk=body["id"])
            assert (media / evidence.original.name).stat().st_size == SIZE
            # Growth of the peak over what the worker already held (the high-water mark may
            # already sit above the current RSS from an earlier run).
            grown = max(0, hwm_after - max(hwm_before, rss_before)) / 1024
            growth_mb.append(grown)
            upload_s.append(seconds)
            cp_s.append(copy_seconds)
            (media / evidence.original.name).unlink()
            print(
                f"run {run}: upload {seconds:.2f} s, cp {copy_seconds:.2f} s, peak +{grown:.1f} MB"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)
    mb = SIZE / 1024 / 1024
    upload_rate, cp_rate = mb / median(upload_s), mb / median(cp_s)
    ratio = upload_rate / cp_rate
    peak = max(growth_mb)
    rows.append(
        (
            f"{mb:.0f} MB",
            f"{median(upload_s):.2f}",
            f"{upload_rate:.0f}",
            f"{median(cp_s):.2f}",
            f"{cp_rate:.0f}",
            f"**{ratio:.2f}×**",
            f"{median(growth_mb):.1f} (max {peak:.1f})",
        )
    )
    met = peak < 32 and ratio >= 0.5
    body = (
        "A PDF of incompressible bytes uploaded with `curl -F` (streamed from disk) to the API's "
        "evidence endpoint, served by one gunicorn sync worker (DEBUG off, upload limit raised); "
        "the request streams the body to a temporary file, checks type and size, hashes it, "
        "stores the original under its hash and records the evidence. Baseline: copying the same "
        f"file on the same disk (`shutil.copyfile`, as `cp`). Medians of {RUNS} runs, page cache "
        "warm for both.\n\n"
        + table(
            [
                "file",
                "upload s",
                "upload MB/s",
                "cp s",
                "cp MB/s",
                "upload / cp",
                "worker peak RSS growth MB",
            ],
            rows,
        )
        + f"\n\nTargets (growth < 32 MB, ≥ 0.5× cp): {'met' if met else 'NOT met'}."
    )
    record("Upload (benchmarks/upload.py)", body)
    database_drop(DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
