"""Reading text (evidence.imaging.ocr): how long Tesseract takes per photo, against the photo
pipeline's own `analyse` of the same file in the same process.

OCR runs after a photo is `ready`, as a job of its own on the `ocr` queue, so it never adds to
the pipeline's figures (benchmarks/pipeline.py measures `analyse`, which OCR does not touch);
this says what the `ocr` queue needs per photo. Photos: two of the real 12–24 MP photographs of
benchmarks/pipeline.py (no text in them: the cost of looking), a 12 MP photo of a station sign
in Korean, Chinese and English (tests/texts.py), and one scanned A4 page (150 dpi) in a PDF.
Each read in the desk's six languages (CASEFILE_OCR_LANGUAGES's default) and in the story's
three (kor+chi_sim+eng), at CASEFILE_OCR_MAX_EDGE, one Tesseract thread (OMP_THREAD_LIMIT=1,
as the ocr-worker runs). Medians of BENCH_RUNS (≥5, interleaved). BENCH_DRY=1 prints only.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from benchmarks._common import RUNS, median, record, table  # noqa: E402
from benchmarks.pipeline import BACKGROUNDS, MAX_PIXELS, PHOTOGRAPHS  # noqa: E402
from config.tesseract import tesseract_status  # noqa: E402
from evidence.imaging.decode import analyse  # noqa: E402
from evidence.imaging.ocr import read_text  # noqa: E402
from evidence.imaging.pdftext import pdf_text  # noqa: E402
from tests.texts import jpeg_of, scanned_pdf, sign_picture  # noqa: E402

SIX = "eng+kor+chi_sim+rus+ukr+ara"
THREE = "kor+chi_sim+eng"


def photo_read(data: bytes, languages: str) -> str:
    """What the text job does with a photo: decode (reduced) upright, then Tesseract."""
    image = Image.open(io.BytesIO(data))
    edge = settings.CASEFILE_OCR_MAX_EDGE
    image.draft("RGB", (edge, edge))
    return read_text(ImageOps.exif_transpose(image), languages).text


def main() -> None:
    status = tesseract_status()
    if not status.available:
        sys.exit(status.problem)
    # Two of the pipeline's photographs (the 2-core machine is shared: each OCR takes seconds).
    files = [(name, (BACKGROUNDS / name).read_bytes()) for name in PHOTOGRAPHS[1::2]]
    files.append(("station sign, 4000×3000 (tests/texts.py)", jpeg_of(sign_picture((4000, 3000)))))
    scan = scanned_pdf()
    times: dict[tuple[str, str], list[float]] = {}
    found: dict[str, str] = {}
    for _ in range(RUNS):
        for name, data in files:
            start = time.perf_counter()
            analyse(io.BytesIO(data), max_pixels=MAX_PIXELS)
            times.setdefault((name, "analyse"), []).append(time.perf_counter() - start)
            for languages in (SIX, THREE):
                start = time.perf_counter()
                found[name] = photo_read(data, languages)
                times.setdefault((name, languages), []).append(time.perf_counter() - start)
        for languages in (SIX, THREE):
            start = time.perf_counter()
            found["scan"] = pdf_text(scan, languages=languages).text
            times.setdefault(("scan", languages), []).append(time.perf_counter() - start)
    rows = []
    for name, _ in files:
        pipeline = median(times[(name, "analyse")])
        six, three = median(times[(name, SIX)]), median(times[(name, THREE)])
        words = len(found[name].split())
        rows.append(
            [
                name,
                f"{pipeline * 1000:.0f}",
                f"{six:.2f}",
                f"{three:.2f}",
                f"{six / pipeline:.0f}×",
                words,
            ]
        )
    rows.append(
        [
            "scanned A4 page, 150 dpi PDF (rendered at CASEFILE_OCR_DPI)",
            "—",
            f"{median(times[('scan', SIX)]):.2f}",
            f"{median(times[('scan', THREE)]):.2f}",
            "—",
            len(found["scan"].split()),
        ]
    )
    body = (
        f"{status.version}, pytesseract; photos read at most {settings.CASEFILE_OCR_MAX_EDGE} px "
        f"on the longer edge, one Tesseract thread; medians of {RUNS} runs.\n\n"
        + table(
            [
                "photo",
                "pipeline `analyse` (ms)",
                f"OCR, {SIX} (s)",
                f"OCR, {THREE} (s)",
                "OCR / pipeline",
                "words found",
            ],
            rows,
        )
        + "\n\nOCR runs after `ready`, on the `ocr` queue (its own worker in docker-compose), so "
        "the photo pipeline's figures (benchmarks/pipeline.py) do not include it. The words "
        "found in the photographs are 0 by design: texture read as letters is dropped "
        "(evidence.imaging.ocr: MIN_LINE_WEIGHT and the confidence thresholds)."
    )
    if os.environ.get("BENCH_DRY") == "1":
        print(body)
        return
    record("Text in pictures (benchmarks/ocr.py)", body)


if __name__ == "__main__":
    main()
