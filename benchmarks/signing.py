"""Signing: what signing adds to an export, and what verifying a signed bundle costs.

A case of many photos (BENCH_SIGNING_PHOTOS, default 500 to keep the run short; the issue's
1000 with BENCH_SIGNING_PHOTOS=1000; small random originals, each with a thumbnail and a
preview, every item with its activity rows) is exported with its originals by
the real bundle writer, signed (a checkpoint written and signed, the key file, the signatures
of manifest.json and SHA256SUMS) and unsigned (`BundleWriter(signed=False)`, a bundle as format
2 wrote it), alternately in the same process. Then `bundle_verify` of the signed bundle (every
file hashed, the chain, the signatures and checkpoints) against `sha256sum -c` over the same
files unpacked. Targets (issue #13): signing adds under 5 %; verifying within 1.5× of
`sha256sum -c`.

Run: `make bench`, or `.venv/bin/python benchmarks/signing.py` (about a minute at the default).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from _common import RUNS, database_drop, django_setup, median, record, table, timed

DATABASE = "casefile_bench_signing"
PHOTOS = int(os.environ.get("BENCH_SIGNING_PHOTOS", "500"))
ORIGINAL_BYTES = 48 * 1024


def _case():
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from cases.activity import activity_record
    from cases.services import case_create
    from evidence.models import Evidence, Export, Photo

    user = get_user_model().objects.create_user(username="olivia")
    case = case_create(actor=user, title="Signing")
    for i in range(PHOTOS):
        data = os.urandom(ORIGINAL_BYTES)
        evidence = Evidence.objects.create(
            case=case,
            kind=Evidence.Kind.PHOTO,
            title=f"Photo {i}",
            collected_by=user,
            original=default_storage.save(f"originals/{i}.jpg", ContentFile(data)),
            original_name=f"{i}.jpg",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_type="image/jpeg",
        )
        Photo.objects.create(
            evidence=evidence,
            status=Photo.Status.READY,
            thumbnail=default_storage.save(f"thumbs/{i}.jpg", ContentFile(data[:4096])),
            preview=default_storage.save(f"previews/{i}.jpg", ContentFile(data[:16384])),
        )
        activity_record(case=case, actor=user, verb="evidence.received", target=evidence)
    export = Export.objects.create(case=case, requested_by=user, originals=True)
    return export


def _write(export, path: Path, *, signed: bool) -> None:
    from evidence.services.exports import BundleWriter

    with path.open("wb") as target:
        BundleWriter(export, target, signed=signed).write()


def main() -> int:
    media = Path(tempfile.mkdtemp(prefix="casefile-bench-media-"))
    work = Path(tempfile.mkdtemp(prefix="casefile-bench-signing-"))
    django_setup(DATABASE, MEDIA_ROOT=str(media), CASEFILE_SIGNING_KEY_GENERATE="1")
    try:
        from django.db import transaction

        from evidence.bundle.verify import bundle_verify

        with transaction.atomic():
            export = _case()
        signed_path, unsigned_path = work / "signed.zip", work / "unsigned.zip"
        _write(export, signed_path, signed=True)  # warm: templates, the key, the cache
        signed, unsigned = [], []
        for _ in range(RUNS):
            unsigned.append(timed(lambda: _write(export, unsigned_path, signed=False)))
            signed.append(timed(lambda: _write(export, signed_path, signed=True)))
        unpacked = work / "unpacked"
        with zipfile.ZipFile(signed_path) as archive:
            archive.extractall(unpacked)
        assert bundle_verify(signed_path).signed and bundle_verify(signed_path).intact
        verify, sums = [], []
        for _ in range(RUNS):
            verify.append(timed(lambda: bundle_verify(signed_path)))
            sums.append(
                timed(
                    lambda: subprocess.run(  # noqa: S603
                        ["sha256sum", "-c", "--quiet", "SHA256SUMS"],  # noqa: S607
                        cwd=unpacked,
                        check=True,
                    )
                )
            )
        s, u, v, c = median(signed), median(unsigned), median(verify), median(sums)
        size = signed_path.stat().st_size / 1024 / 1024
        body = table(
            ["measure", "ours", "baseline (same run)", "ratio", "target"],
            [
                [
                    f"export of {PHOTOS} photos with originals ({size:.0f} MB)",
                    f"signed {s * 1000:.0f} ms",
                    f"unsigned {u * 1000:.0f} ms",
                    f"**{(s / u - 1) * 100:+.1f} %**",
                    "< 5 %: " + ("met" if s / u < 1.05 else "not met"),
                ],
                [
                    "verify the signed bundle",
                    f"`bundle_verify` {v * 1000:.0f} ms",
                    f"`sha256sum -c` {c * 1000:.0f} ms",
                    f"**{v / c:.2f}×**",
                    "≤ 1.5×: " + ("met" if v / c <= 1.5 else "not met"),
                ],
            ],
        )
        record(
            "Signing (benchmarks/signing.py)",
            f"Medians of {RUNS} runs, alternating; {PHOTOS} photos of {ORIGINAL_BYTES // 1024} KiB "
            "(each with a thumbnail and a preview) and one activity row each.\n\n" + body,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)
        database_drop(DATABASE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
