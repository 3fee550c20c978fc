"""Checking a bundle's trusted timestamps (RFC 3161) without our database: the export's token
over its manifest signature (`manifest.json.sig.tsr`) and each original's token from ingest
(`timestamp` of its manifest entry), against the TSA roots the reader gives (`--tsa-ca`) or
else those the bundle carries (`tsa-certificates.pem`, listed in the signed manifest). The
checkpoints' tokens are checked with the checkpoints (`cases.activity.checkpoint_problems`).

A missing token is no failure (no TSA was configured, or it was down): it is reported as "no
trusted timestamp". A token that is there and does not hold is."""

from __future__ import annotations

import base64
import binascii
import zipfile
from dataclasses import dataclass, field

from cryptography import x509

import cases.timestamps as timestamps
from cases.timestamps import TokenInfo
from evidence.bundle.manifest import TIMESTAMP_FILE, TSA_CERTIFICATES_FILE

SMALL = 256 * 1024


@dataclass
class TimestampCheck:
    export: TokenInfo | None = None
    items: int = 0
    roots: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > SMALL:
        raise ValueError(f"{name} is {info.file_size} bytes, more than {SMALL}")
    with archive.open(info) as handle:
        return handle.read(SMALL + 1)[:SMALL]


def bundle_roots(
    archive: zipfile.ZipFile, given: list[x509.Certificate] | None, problems: list[str]
) -> list[x509.Certificate]:
    """The roots to check tokens with: `given`, else the bundle's TSA_CERTIFICATES_FILE, else
    none (a token is then checked against the root it carries)."""
    if given:
        return given
    try:
        data = _member(archive, TSA_CERTIFICATES_FILE)
        return list(x509.load_pem_x509_certificates(data)) if data else []
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        problems.append(f"{TSA_CERTIFICATES_FILE}: cannot be read ({exc})")
        return []


def timestamps_check(
    archive: zipfile.ZipFile,
    manifest: dict,
    *,
    signature: bytes | None,
    roots: list[x509.Certificate],
) -> TimestampCheck:
    check = TimestampCheck(roots=[timestamps.root_fingerprint(c) for c in roots])
    try:
        token = _member(archive, TIMESTAMP_FILE)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        check.problems.append(f"{TIMESTAMP_FILE}: cannot be read ({exc})")
        token = None
    if token is not None:
        if signature is None:
            check.problems.append(f"{TIMESTAMP_FILE}: stamps a signature the bundle lacks")
        else:
            found = timestamps.token_problems(
                token, digest=timestamps.sha256(signature), roots=roots
            )
            if found:
                check.problems.append(
                    f"{TIMESTAMP_FILE}: not a valid trusted timestamp of manifest.json.sig "
                    f"({found[0]})"
                )
            else:
                check.export = timestamps.token_read(token)
    for item in manifest.get("evidence") or []:
        stamp = item.get("timestamp") if isinstance(item, dict) else None
        if stamp is None:
            continue
        label = f"evidence {item.get('id')} ({item.get('label')})"
        try:
            data = base64.b64decode(str(stamp), validate=True)
            digest = bytes.fromhex(str(item.get("sha256")))
        except (binascii.Error, ValueError):
            check.problems.append(f"{label}: its trusted timestamp is not readable")
            continue
        found = timestamps.token_problems(data, digest=digest, roots=roots)
        if found:
            check.problems.append(
                f"{label}: its trusted timestamp from ingest does not hold ({found[0]})"
            )
        else:
            check.items += 1
    return check
