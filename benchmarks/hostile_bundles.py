"""Hostile bundles: what `verify_export` and `import_case` cost on the bundles of issue 13 —
about 1 MB hiding a 1 GiB preview (1 GiB of zeros, deflated ~1,000 times), and about 1 MB
hiding a 1 GiB manifest.json — against the same commands on a good bundle of the same shape
(the floor: Django, Pillow and numpy loaded), in the same run.

Measured: each command in a fresh process, its peak resident memory (VmHWM from /proc, the
kernel's own high-water mark) and its wall time. Also measured: the 1 GiB preview with
CASEFILE_BUNDLE_MAX_RATIO lifted, so that `verify_export` inflates and hashes the whole
gigabyte and `import_case` meets the preview's own limit: streaming, not refusing early, is
then what keeps the memory flat. Target: every peak under 200 MB.

Run: `make bench`, or `.venv/bin/python benchmarks/hostile_bundles.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, RUNS, database_drop, django_setup, median, record, table

DATABASE = "casefile_bench_hostile"
TARGET_MB = 200

CHILD = """
import json, sys
import django
django.setup()
from django.core.management import call_command
code = 0
try:
    call_command(*sys.argv[1:])
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak_kb": peak}))
"""


def _run(argv: list[str], environ: dict[str, str]) -> tuple[int, float, float, str]:
    """(exit status, peak MB, seconds, what it wrote to stderr) of one command."""
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", CHILD, *argv],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING", **environ},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], result["peak_kb"] / 1024, seconds, done.stderr.strip()


def main() -> int:
    media = Path(tempfile.mkdtemp(prefix="casefile-bench-media-"))
    work = Path(tempfile.mkdtemp(prefix="casefile-bench-hostile-"))
    database_url = django_setup(DATABASE, MEDIA_ROOT=str(media))
    from django.contrib.auth import get_user_model

    from tests.bundles import bundle_write, minimal_manifest, photo_item, zeros_bundle
    from tests.images import jpeg_bytes

    get_user_model().objects.create_user(username="olivia")
    photo = minimal_manifest(evidence=[photo_item(1, thumbnail=None)])
    bundles = {
        "good (1 photo, 1600 px preview)": bundle_write(
            work / "good.zip", photo, {"previews/1.jpg": jpeg_bytes(size=(1600, 1200))}
        ),
        "1 GiB preview": zeros_bundle(work / "preview.zip", "previews/1.jpg", manifest=photo),
        "1 GiB manifest.json": zeros_bundle(work / "manifest.zip", "manifest.json"),
    }
    lifted = {"CASEFILE_BUNDLE_MAX_RATIO": "100000"}
    cases = [
        (name, path, command, {})
        for name, path in bundles.items()
        for command in ("verify_export", "import_case")
    ]
    cases += [
        ("1 GiB preview, ratio limit lifted", bundles["1 GiB preview"], command, lifted)
        for command in ("verify_export", "import_case")
    ]
    environ = {"DATABASE_URL": database_url, "MEDIA_ROOT": str(media)}
    rows, worst = [], 0.0
    try:
        for name, path, command, extra in cases:
            owner = ["--owner", "olivia"] if command == "import_case" else []
            argv = [command, str(path), *owner]
            peaks, times = [], []
            for _ in range(RUNS):
                code, peak, seconds, said = _run(argv, {**environ, **extra})
                peaks.append(peak)
                times.append(seconds)
            worst = max(worst, max(peaks))
            outcome = "ok" if code == 0 else (said.splitlines() or ["?"])[-1][:90]
            rows.append(
                [
                    name,
                    f"{path.stat().st_size / 1024**2:.1f}",
                    f"`{command}`",
                    f"{median(peaks):.0f} (max {max(peaks):.0f})",
                    f"{median(times):.2f}",
                    outcome.replace("|", "/"),
                ]
            )
    finally:
        database_drop(DATABASE)
    body = (
        "Each command in a fresh process (`manage.py`'s code through `call_command`), on "
        "PostgreSQL; peak resident memory is the process's VmHWM. The good bundle is the floor: "
        "a process that has loaded Django, Pillow and numpy. Before issue 13 the 1 GiB preview "
        "took `import_case` to 2.2 GB (and was stored), the 1 GiB manifest `verify_export` to "
        f"2.1 GB. Medians of {RUNS} runs.\n\n"
        + table(
            ["bundle", "bundle MB", "command", "peak RSS MB", "s", "outcome"],
            rows,
        )
        + f"\n\nTarget (every peak < {TARGET_MB} MB): {'met' if worst < TARGET_MB else 'NOT met'}."
    )
    record("Hostile bundles (benchmarks/hostile_bundles.py)", body)
    return 0 if worst < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
