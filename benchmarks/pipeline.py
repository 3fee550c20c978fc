"""The image pipeline against a naive Pillow pipeline and against the reduced-decode floor.

Photos, all of 12–24 megapixels as the issue asks: the four real photographs of that size in
Debian's `lomiri-wallpapers-16.04` and `lomiri-wallpapers-20.04` (under /usr/share/backgrounds/;
`make bench-tools` installs them; progressive and baseline JPEGs, real photographic entropy) and
synthetic 12–24 megapixel camera JPEGs with EXIF (baseline, as cameras write them; one stored
sideways, Orientation 6), generated with tests/images.py.

For every photo, in one process configured as a worker is (`image_memory_pool`), interleaved,
BENCH_RUNS (≥5) times each:
- *ours*: what a worker does with an original (`evidence.services.photos`): re-hash and compare the
  SHA-256, read the metadata, decode once with `draft` towards the preview's size, write the
  upright 1600-px preview and 400-px thumbnail (JPEG bytes, metadata stripped), pHash + dHash
  from the thumbnail. Storage and database writes are left out (they do not depend on the
  decoding strategy).
- *naive*: the same outputs the obvious way: SHA-256, full decode, `exif_transpose`, `resize`
  (LANCZOS) from the full image for each output, both hashes from the full image.
- *floor*: `draft` towards 1600 px then `load()` — only decoding at the scale the preview needs,
  the least any pipeline that looks at the pixels must do.

Also the peak memory (maximum RSS growth) of one 24-megapixel photo through each pipeline, each
in a fresh process. Appends the per-photo medians and the ratios to benchmarks/RESULTS.md.
Targets (issue #3): naive / ours ≥ 4, ours / floor ≤ 1.5. BENCH_DRY=1 prints without recording.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import imagehash  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from benchmarks._common import (  # noqa: E402
    BACKGROUNDS,
    PHOTOGRAPHS,
    RUNS,
    median,
    record,
    table,
    timed,
)
from evidence.imaging.decode import (  # noqa: E402
    PREVIEW_EDGE,
    THUMBNAIL_EDGE,
    analyse,
    fit,
    image_memory_pool,
)

MAX_PIXELS = 60_000_000
SYNTHETIC = [
    # name, stored size, orientation
    ("synthetic-12mp.jpg", (4000, 3000), 1),
    ("synthetic-20mp.jpg", (5472, 3648), 1),
    ("synthetic-22mp-sideways.jpg", (5760, 3840), 6),
    ("synthetic-24mp.jpg", (6000, 4000), 1),
]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ours(path: Path, expected: str):
    # As evidence.services.photos does it: hash the original in chunks, compare, then decode once.
    with path.open("rb") as f:
        digest = hashlib.sha256()
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
        assert digest.hexdigest() == expected
        f.seek(0)
        return analyse(f, max_pixels=MAX_PIXELS)


def naive(path: Path, expected: str):
    assert sha256_of(path) == expected
    with Image.open(path) as image:
        exif = image.getexif()
        exif.get_ifd(0x8769)
        exif.get_ifd(0x8825)
        image.load()
        upright = ImageOps.exif_transpose(image).convert("RGB")
    outputs = []
    for edge in (PREVIEW_EDGE, THUMBNAIL_EDGE):
        resized = upright.resize(fit(upright.size, edge), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=85)
        outputs.append(buffer.getvalue())
    return outputs, imagehash.phash(upright), imagehash.dhash(upright)


def floor(path: Path, expected: str):
    with Image.open(path) as image:
        image.draft("RGB", fit(image.size, PREVIEW_EDGE))
        image.load()
        return image.size


PIPELINES = {"floor": floor, "ours": ours, "naive": naive}


def synthetic_photos(folder: Path) -> list[Path]:
    from tests.images import as_stored, jpeg_bytes, scene

    paths = []
    for seed, (name, size, orientation) in enumerate(SYNTHETIC, start=100):
        path = folder / name
        if not path.exists():
            upright = size if orientation == 1 else (size[1], size[0])
            pixels = as_stored(scene(seed, upright), orientation)
            path.write_bytes(
                jpeg_bytes(
                    pixels,
                    quality=92,
                    taken_at="2026:05:25 10:40:00",
                    offset="+08:00",
                    make="Canon",
                    model="EOS R6",
                    gps=(40.1186, 124.394, 12.0),
                    orientation=orientation,
                    icc=True,
                )
            )
        paths.append(path)
    return paths


def peak_memory(pipeline: str, path: Path) -> float:
    """Maximum RSS growth in MB of one photo through `pipeline`, in a fresh process."""
    out = subprocess.run(  # noqa: S603 - this script, run by the same interpreter
        [sys.executable, __file__, "--memory", pipeline, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory_child(pipeline: str, path: Path) -> None:
    expected = sha256_of(path)
    image_memory_pool(settings.CASEFILE_IMAGE_MEMORY_POOL_MB)
    # A small photo first, as a worker has processed others before: what the pipeline imports
    # on first use (scipy, for the pHash) is not what this photo needs.
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.jpg"
        Image.new("RGB", (640, 480), "gray").save(small)
        PIPELINES[pipeline](small, sha256_of(small))
    before = _status_kb("VmRSS")
    # Reset the peak (VmHWM) to the current size.
    Path("/proc/self/clear_refs").write_text("5")
    PIPELINES[pipeline](path, expected)
    print((_status_kb("VmHWM") - before) / 1024)


def main() -> None:
    real = [BACKGROUNDS / name for name in PHOTOGRAPHS]
    missing = [path.name for path in real if not path.exists()]
    if missing:
        sys.exit(
            f"Missing under {BACKGROUNDS}: {', '.join(missing)}. Run `make bench-tools` "
            "(apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)."
        )
    image_memory_pool(settings.CASEFILE_IMAGE_MEMORY_POOL_MB)
    cache = Path(tempfile.gettempdir()) / "casefile-bench-photos"
    cache.mkdir(exist_ok=True)
    photos = real + synthetic_photos(cache)

    rows, ratios_naive, ratios_floor, cpu_naive, cpu_floor = [], [], [], [], []
    totals = {name: 0.0 for name in PIPELINES}
    for path in photos:
        expected = sha256_of(path)
        with Image.open(path) as image:
            width, height = image.size
        for function in PIPELINES.values():  # warm the page cache and the code paths
            function(path, expected)
        wall = {name: [] for name in PIPELINES}
        cpu = {name: [] for name in PIPELINES}
        for _ in range(RUNS):
            for name, function in PIPELINES.items():
                started = time.process_time()
                wall[name].append(timed(lambda f=function, p=path, e=expected: f(p, e)))
                cpu[name].append(time.process_time() - started)
        medians = {name: median(values) * 1000 for name, values in wall.items()}
        cpu_medians = {name: median(values) * 1000 for name, values in cpu.items()}
        for name in PIPELINES:
            totals[name] += medians[name]
        ratio_naive = medians["naive"] / medians["ours"]
        ratio_floor = medians["ours"] / medians["floor"]
        ratios_naive.append(ratio_naive)
        ratios_floor.append(ratio_floor)
        cpu_naive.append(cpu_medians["naive"] / cpu_medians["ours"])
        cpu_floor.append(cpu_medians["ours"] / cpu_medians["floor"])
        source = "photograph" if path.parent == BACKGROUNDS else "synthetic"
        rows.append(
            [
                f"{path.name} ({source})",
                f"{width}×{height} ({width * height / 1e6:.1f} MP)",
                f"{path.stat().st_size / 1e6:.1f}",
                f"{medians['floor']:.0f}",
                f"{medians['ours']:.0f}",
                f"{medians['naive']:.0f}",
                f"**{ratio_naive:.1f}×**",
                f"**{ratio_floor:.2f}×**",
                f"{cpu_naive[-1]:.1f}× / {cpu_floor[-1]:.2f}×",
            ]
        )
        print(rows[-1])

    largest = max(photos, key=lambda p: Image.open(p).size[0] * Image.open(p).size[1])
    memory = {name: peak_memory(name, largest) for name in PIPELINES}

    overall_naive = totals["naive"] / totals["ours"]
    overall_floor = totals["ours"] / totals["floor"]
    body = "\n".join(
        [
            f"{len(real)} real photographs of 12–24 MP from Debian's lomiri-wallpapers-16.04 "
            f"and -20.04 and {len(SYNTHETIC)} synthetic 12–24 MP camera JPEGs (EXIF, GPS, ICC; "
            "one stored sideways). Per photo, the median of "
            f"{RUNS} interleaved runs in one process with the worker's image memory pool "
            f"({settings.CASEFILE_IMAGE_MEMORY_POOL_MB} MB), in milliseconds. *ours*: "
            "SHA-256 check, metadata, `draft` decode towards the preview's size, upright 1600-px "
            "preview and 400-px thumbnail encoded without metadata, pHash + dHash of the "
            "thumbnail. *naive*: SHA-256, full decode, `exif_transpose`, LANCZOS `resize` of "
            "the full image for each output, hashes of the full image. *floor*: `draft` "
            "towards 1600 px + `load()` only.",
            "",
            table(
                [
                    "photo",
                    "size",
                    "MB",
                    "floor ms",
                    "ours ms",
                    "naive ms",
                    "naive / ours",
                    "ours / floor",
                    "CPU time: naive / ours, ours / floor",
                ],
                rows,
            ),
            "",
            f"- naive / ours: median of the per-photo ratios **{median(ratios_naive):.1f}×** "
            f"(min {min(ratios_naive):.1f}×), total time **{overall_naive:.1f}×** "
            "(target ≥ 4×).",
            f"- ours / floor: median **{median(ratios_floor):.2f}×** "
            f"(max {max(ratios_floor):.2f}×), total time **{overall_floor:.2f}×** "
            "(target ≤ 1.5×).",
            f"- The same ratios in CPU time (`time.process_time`, what the process itself spent, "
            "less disturbed by the other work on this shared machine): naive / ours median "
            f"**{median(cpu_naive):.1f}×**, ours / floor median **{median(cpu_floor):.2f}×** "
            f"(max {max(cpu_floor):.2f}×). Load average at the end: {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores.",
            f"- Peak RSS growth for one photo ({largest.name}), each pipeline in a fresh "
            f"process: floor {memory['floor']:.0f} MB, ours {memory['ours']:.0f} MB, naive "
            f"{memory['naive']:.0f} MB.",
        ]
    )
    if os.environ.get("BENCH_DRY") == "1":
        print(body)
        return
    record("Image pipeline (benchmarks/pipeline.py)", body)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        memory_child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
