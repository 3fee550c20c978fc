"""Signing and trusted timestamps: what they add to an export, and what verifying a signed,
timestamped bundle costs.

A case of many photos (BENCH_SIGNING_PHOTOS, default the issue's 1000; small random originals,
each with a thumbnail and a preview, every item with its activity row and its RFC 3161 token
from ingest) is exported with its originals by the real bundle writer, signed and timestamped
(a checkpoint written, signed and timestamped, the key file, the signatures of manifest.json and
SHA256SUMS, the export's token over manifest.json.sig, every original's token in the manifest)
and unsigned (`BundleWriter(signed=False)`, a bundle as format 2 wrote it, no timestamps),
alternately in the same process. The TSA is a real one on 127.0.0.1: OpenSSL's `openssl ts
-reply` behind the tests' HTTP server (`tests/tsa.py`), so each token costs an HTTP round trip
and an openssl process, as a TSA on the LAN would (a TSA on the internet adds its latency, twice
per export). The fixed work alone (checkpoint, two tokens, three signatures) is timed too, as a
share of the unsigned export: the steadier figure on a shared machine.

Then `bundle_verify` of the signed bundle (every file hashed, the chain, the signatures,
checkpoints and every token) against `sha256sum -c` over the same files unpacked. Targets
(issue #13): signing and timestamping add under 5 %; verifying within 1.5× of `sha256sum -c`.

Run: `make bench`, or `.venv/bin/python benchmarks/signing.py` (a few minutes at 1000 photos;
BENCH_SIGNING_PHOTOS=200 for a quick look).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from _common import RUNS, database_drop, django_setup, median, record, table, timed

DATABASE = "casefile_bench_signing"
PHOTOS = int(os.environ.get("BENCH_SIGNING_PHOTOS", "1000"))
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


def _fixed_work(case) -> None:
    """What a signed, timestamped export does beyond an unsigned one, whatever its size: a
    checkpoint written, signed and timestamped, the export's token, two more signatures."""
    from cases import signing, timestamps
    from cases.activity import checkpoint_write
    from cases.services import checkpoint_timestamp

    checkpoint_timestamp(checkpoint=checkpoint_write(case=case, reason="export"))
    signature = signing.sign(b"manifest" * 4096)
    timestamps.token_fetch(timestamps.sha256(signature))
    signing.sign(b"sums" * 4096)


def _tokens(path: Path) -> list[tuple[bytes, bytes]]:
    """Every token of a bundle with the digest it must be over (what `bundle_verify` checks)."""
    import base64
    import json

    from cases import timestamps

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        signature = archive.read("manifest.json.sig")
        found = [(archive.read("manifest.json.sig.tsr"), timestamps.sha256(signature))]
    for entry in manifest["activity"]["checkpoints"]:
        found.append(
            (
                base64.b64decode(entry["timestamp"]),
                timestamps.sha256(base64.b64decode(entry["signature"])),
            )
        )
    for item in manifest["evidence"]:
        found.append((base64.b64decode(item["timestamp"]), bytes.fromhex(item["sha256"])))
    return found


def _tokens_check(tokens, roots) -> None:
    from cases.timestamps import token_problems

    for token, digest in tokens:
        assert not token_problems(token, digest=digest, roots=roots)


def main() -> int:
    from tests.tsa import TestTsa

    media = Path(tempfile.mkdtemp(prefix="casefile-bench-media-"))
    work = Path(tempfile.mkdtemp(prefix="casefile-bench-signing-"))
    tsa = TestTsa(work / "tsa").__enter__()
    django_setup(
        DATABASE,
        MEDIA_ROOT=str(media),
        CASEFILE_SIGNING_KEY_GENERATE="1",
        CASEFILE_TSA_URL=tsa.url,
        CASEFILE_TSA_CA_FILE=str(tsa.ca_file),
    )
    try:
        from django.db import transaction

        from evidence.bundle.verify import bundle_verify
        from evidence.services.timestamps import timestamps_fill_due

        with transaction.atomic():
            export = _case()
        # Every original's token from ingest, as the workers would have taken them.
        started = time.perf_counter()
        while timestamps_fill_due(limit=PHOTOS):
            pass
        ingest_tokens = time.perf_counter() - started
        signed_path, unsigned_path = work / "signed.zip", work / "unsigned.zip"
        _write(export, signed_path, signed=True)  # warm: templates, the key, the cache
        signed, unsigned = [], []
        for _ in range(RUNS):
            unsigned.append(timed(lambda: _write(export, unsigned_path, signed=False)))
            signed.append(timed(lambda: _write(export, signed_path, signed=True)))
        fixed = [timed(lambda: _fixed_work(export.case)) for _ in range(RUNS)]
        unpacked = work / "unpacked"
        with zipfile.ZipFile(signed_path) as archive:
            archive.extractall(unpacked)
        check = bundle_verify(signed_path)
        assert check.signed and check.intact, check.problems
        assert check.signature.timestamps.export is not None
        assert check.signature.timestamps.items == PHOTOS
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
        from cryptography import x509

        tokens = _tokens(signed_path)
        roots = x509.load_pem_x509_certificates(tsa.ca_file.read_bytes())
        alone = [timed(lambda: _tokens_check(tokens, roots)) for _ in range(RUNS)]
        s, u, v, c = median(signed), median(unsigned), median(verify), median(sums)
        f, k = median(fixed), median(alone)
        size = signed_path.stat().st_size / 1024 / 1024
        body = table(
            ["measure", "ours", "baseline (same run)", "ratio", "target"],
            [
                [
                    f"export of {PHOTOS} photos with originals ({size:.0f} MB)",
                    f"signed + timestamped {s * 1000:.0f} ms",
                    f"unsigned {u * 1000:.0f} ms",
                    f"**{(s / u - 1) * 100:+.1f} %**",
                    "< 5 %: " + ("met" if s / u < 1.05 else "not met"),
                ],
                [
                    "the fixed work alone (checkpoint + its token, export token, 3 signatures)",
                    f"{f * 1000:.0f} ms",
                    f"unsigned export {u * 1000:.0f} ms",
                    f"**{f / u * 100:+.1f} %**",
                    "< 5 %: " + ("met" if f / u < 0.05 else "not met"),
                ],
                [
                    f"verify the signed bundle ({len(tokens)} tokens checked)",
                    f"`bundle_verify` {v * 1000:.0f} ms",
                    f"`sha256sum -c` {c * 1000:.0f} ms",
                    f"**{v / c:.2f}×**",
                    "≤ 1.5×: " + ("met" if v / c <= 1.5 else "not met"),
                ],
                [
                    f"of which: checking the {len(tokens)} tokens alone",
                    f"{k * 1000:.0f} ms ({k / len(tokens) * 1000:.2f} ms each)",
                    f"`sha256sum -c` {c * 1000:.0f} ms",
                    f"the rest: **{(v - k) / c:.2f}×**",
                    "",
                ],
            ],
        )
        record(
            "Signing (benchmarks/signing.py)",
            f"Medians of {RUNS} runs, alternating; {PHOTOS} photos of {ORIGINAL_BYTES // 1024} KiB "
            "(each with a thumbnail, a preview, one activity row and its token from ingest); the "
            "TSA is `openssl ts -reply` behind an HTTP server on 127.0.0.1 (tests/tsa.py). "
            f"Taking the {PHOTOS} ingest tokens beforehand took {ingest_tokens:.1f} s "
            f"({ingest_tokens / PHOTOS * 1000:.0f} ms each, in workers, never in an upload). "
            "The machine is shared (2 cores, other engineers' test suites running): the export "
            "rows swing by more than the fixed work, which is why it is timed alone too.\n\n"
            + body,
        )
    finally:
        tsa.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)
        database_drop(DATABASE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
