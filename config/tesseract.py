"""Whether Tesseract (the OCR program, evidence.imaging.ocr) runs here: its version and the
languages installed. Asked by the OCR step and by `manage.py doctor`; cached per program."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from django.conf import settings

# Tesseract's language names: three letters, or with a script suffix (chi_sim).
LANGUAGE = re.compile(r"^[a-z]{3}(_[a-z]+)?$")


@dataclass(frozen=True)
class TesseractStatus:
    available: bool
    command: str
    version: str = ""
    languages: tuple[str, ...] = field(default_factory=tuple)
    problem: str = ""


@functools.lru_cache(maxsize=8)
def _status_of(command: str) -> TesseractStatus:
    found = shutil.which(command) if os.sep not in command else command
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        return TesseractStatus(
            False,
            command,
            problem=f"Tesseract is not installed here (no program {command!r}): text in photos "
            "and scans is not read. Install tesseract-ocr and its language packs "
            "(make tesseract), or set CASEFILE_TESSERACT_CMD.",
        )
    try:
        version = subprocess.run(  # noqa: S603 - the configured program, no shell
            [found, "--version"], capture_output=True, timeout=20, check=True, text=True
        ).stdout.split("\n", 1)[0]
        listed = subprocess.run(  # noqa: S603
            [found, "--list-langs"], capture_output=True, timeout=20, check=True, text=True
        ).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError) as exc:
        return TesseractStatus(
            False, command, problem=f"Tesseract ({found}) does not run: {str(exc)[:200]}"
        )
    languages = tuple(
        sorted(n.strip() for n in listed if LANGUAGE.match(n.strip()) and n.strip() != "osd")
    )
    return TesseractStatus(True, found, version=version.strip(), languages=languages)


def tesseract_status() -> TesseractStatus:
    """Whether CASEFILE_TESSERACT_CMD runs, its version and installed languages."""
    return _status_of(settings.CASEFILE_TESSERACT_CMD)
