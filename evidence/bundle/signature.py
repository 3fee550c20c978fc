"""Checking who signed a bundle, without our database: the Ed25519 signatures of manifest.json
and of SHA256SUMS by the key the bundle carries (or the key, or fingerprint, the reader trusts),
and the case's signed checkpoints against the chain the manifest carries.

A bundle of a format before signatures (or stripped of every trace of them) is *unsigned*:
never intact, only accepted when the reader asks for it. A bundle whose manifest says it is
signed and lacks a signature has been tampered with."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cases.activity import ChainHeads, checkpoint_problems
from cases.signing import fingerprint as key_fingerprint
from cases.signing import public_key_parse, signature_valid
from evidence.bundle.manifest import KEY_FILE, SIGNATURE_FILE, SIGNED_SINCE, SUMS_SIGNATURE_FILE
from evidence.bundle.timestamps import TimestampCheck, bundle_roots, timestamps_check

# A key or a signature is tiny: anything larger is not one, and is not read whole.
SMALL = 16 * 1024
# SHA256SUMS has one line per file.
SUMS_LIMIT = 64 * 1024 * 1024


@dataclass
class SignatureCheck:
    # signed | unsigned | broken
    state: str
    fingerprint: str = ""
    # Why an unsigned bundle is unsigned.
    reason: str = ""
    checkpoints: int = 0
    latest_checkpoint: dict | None = None
    problems: list[str] = field(default_factory=list)
    # The trusted timestamps: the export's, the originals', and the roots they were checked with.
    timestamps: TimestampCheck | None = None


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    """A member's bytes, or None if it is missing; ValueError if it is larger than `limit`."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise ValueError(f"{name} is {info.file_size} bytes, more than {limit}")
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} is larger than {limit} bytes")
    return data


def signature_check(
    archive: zipfile.ZipFile,
    manifest_bytes: bytes,
    manifest: dict,
    *,
    key: Ed25519PublicKey | None = None,
    fingerprint: str | None = None,
    tsa_roots: list | None = None,
) -> SignatureCheck:
    """Who signed the bundle, and whether every signature holds. `key` (or `fingerprint`, the
    hex SHA-256 of a raw public key) is the key the reader trusts; without either, the key the
    bundle carries is used, and its fingerprint reported for the reader to compare."""
    declared = manifest.get("signing")
    version = manifest.get("version")
    try:
        signature = _read(archive, SIGNATURE_FILE, SMALL)
        carried = _read(archive, KEY_FILE, SMALL)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        return SignatureCheck("broken", problems=[f"signature: cannot be read ({exc})"])
    if declared is None and signature is None:
        why = (
            f"format version {version}, from before bundles were signed"
            if isinstance(version, int) and version < SIGNED_SINCE
            else "it carries no signature"
        )
        return SignatureCheck("unsigned", reason=why)
    check = SignatureCheck("signed")
    if not isinstance(declared, dict):
        check.problems.append("manifest.json: its signing section is missing or not an object")
        declared = {}
    if signature is None:
        check.problems.append(f"{SIGNATURE_FILE} is missing: the bundle's signature was removed")
    bundle_key = None
    if carried is not None:
        try:
            bundle_key = public_key_parse(carried)
        except ValueError as exc:
            check.problems.append(f"{KEY_FILE}: {exc}")
    elif key is None:
        check.problems.append(f"{KEY_FILE} is missing: no key to check the signature with")
    trusted = key or bundle_key
    if trusted is None:
        check.state = "broken"
        return check
    check.fingerprint = key_fingerprint(trusted)
    if fingerprint is not None and fingerprint.lower() != check.fingerprint:
        check.problems.append(
            f"signed by key {check.fingerprint}, not by the key {fingerprint.lower()} asked for"
        )
    if (
        key is not None
        and bundle_key is not None
        and key_fingerprint(bundle_key) != (check.fingerprint)
    ):
        check.problems.append(
            f"{KEY_FILE} is key {key_fingerprint(bundle_key)}, not the key given "
            f"({check.fingerprint})"
        )
    if declared.get("key_fingerprint") != check.fingerprint:
        check.problems.append(
            f"manifest.json names key {declared.get('key_fingerprint')}, not key "
            f"{check.fingerprint}"
        )
    if signature is not None and not signature_valid(trusted, signature, manifest_bytes):
        check.problems.append(
            f"{SIGNATURE_FILE}: not a signature of manifest.json by key {check.fingerprint} "
            "(the manifest was changed after signing, or the signature replaced)"
        )
    _sums_check(archive, trusted, check)
    roots = bundle_roots(archive, tsa_roots, check.problems)
    activity = manifest.get("activity") if isinstance(manifest.get("activity"), dict) else {}
    checkpoints = activity.get("checkpoints")
    chain = activity.get("chain")
    if not isinstance(checkpoints, list) or not checkpoints:
        check.problems.append("manifest.json: carries no signed checkpoint of the chain")
    elif isinstance(chain, list):
        heads = ChainHeads(
            chain, positions={c.get("rows") for c in checkpoints if isinstance(c, dict)}
        )
        for _ in heads:
            pass
        check.problems.extend(
            checkpoint_problems(checkpoints, heads=heads, key=trusted, tsa_roots=roots)
        )
        check.checkpoints = len(checkpoints)
        check.latest_checkpoint = checkpoints[-1] if isinstance(checkpoints[-1], dict) else None
    check.timestamps = timestamps_check(archive, manifest, signature=signature, roots=roots)
    check.problems.extend(check.timestamps.problems)
    if check.problems:
        check.state = "broken"
    return check


def _sums_check(archive: zipfile.ZipFile, key: Ed25519PublicKey, check: SignatureCheck) -> None:
    try:
        sums = _read(archive, "SHA256SUMS", SUMS_LIMIT)
        signature = _read(archive, SUMS_SIGNATURE_FILE, SMALL)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        check.problems.append(f"{SUMS_SIGNATURE_FILE}: cannot be read ({exc})")
        return
    if signature is None:
        check.problems.append(f"{SUMS_SIGNATURE_FILE} is missing: the sums' signature was removed")
    elif sums is None or not signature_valid(key, signature, sums):
        check.problems.append(
            f"{SUMS_SIGNATURE_FILE}: not a signature of SHA256SUMS by key {check.fingerprint} "
            "(the sums were changed after signing, or the signature replaced)"
        )
