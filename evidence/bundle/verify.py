"""Verifying a bundle without our database: every file against the manifest, the originals
against the evidence SHA-256, the manifest against SHA256SUMS, the activity chain, and who
signed it (`evidence.bundle.signature`)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cases.activity import chain_problems
from evidence.bundle.manifest import CHUNK, FORMAT, SHA256, UNLISTED
from evidence.bundle.signature import SignatureCheck, signature_check


@dataclass
class BundleCheck:
    manifest: dict | None
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    signature: SignatureCheck | None = None

    @property
    def intact(self) -> bool:
        """Every file, hash, row and signature there is holds (an unsigned bundle may be
        intact: see `signed`)."""
        return not self.problems

    @property
    def signed(self) -> bool:
        return self.signature is not None and self.signature.state == "signed"


def bundle_verify(
    path, *, key: Ed25519PublicKey | None = None, fingerprint: str | None = None
) -> BundleCheck:
    """Check every file of a bundle against its manifest, the originals against the evidence
    SHA-256, the manifest against SHA256SUMS, the activity chain the manifest carries, and its
    signatures and checkpoints (by `key`, or the key of `fingerprint`, when given). Reads the
    bundle in chunks; needs no database."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return BundleCheck(None, problems=[f"not a readable ZIP file: {exc}"])
    with archive:
        names = set(archive.namelist())
        try:
            manifest_bytes = archive.read("manifest.json")
            manifest = json.loads(manifest_bytes)
        except KeyError:
            return BundleCheck(None, problems=["manifest.json is missing"])
        except ValueError as exc:
            return BundleCheck(None, problems=[f"manifest.json is not valid JSON: {exc}"])
        check = BundleCheck(manifest)
        if manifest.get("format") != FORMAT:
            check.problems.append("manifest.json is not a Casefile export manifest")
            return check
        files = manifest.get("files") or {}
        actual: dict[str, str] = {}
        for name in sorted(names):
            if name.endswith("/"):
                continue
            digest, size = hashlib.sha256(), 0
            try:
                with archive.open(name) as handle:
                    for chunk in iter(lambda h=handle: h.read(CHUNK), b""):
                        digest.update(chunk)
                        size += len(chunk)
            except (OSError, zipfile.BadZipFile) as exc:
                # A damaged member fails its CRC check while being read.
                check.problems.append(f"{name}: cannot be read ({exc})")
                continue
            actual[name] = digest.hexdigest()
            check.checked += 1
            if name in UNLISTED:
                continue
            expected = files.get(name)
            if expected is None:
                check.problems.append(f"{name}: not listed in the manifest")
            elif expected["sha256"] != actual[name] or expected["size"] != size:
                check.problems.append(
                    f"{name}: SHA-256 {actual[name]} does not match the manifest's "
                    f"{expected['sha256']}"
                )
        for name in files:
            if name not in names:
                check.problems.append(f"{name}: listed in the manifest but missing")
        # SHA256SUMS vouches for the manifest itself.
        try:
            sums = archive.read("SHA256SUMS").decode()
        except KeyError:
            check.problems.append("SHA256SUMS is missing")
            sums = None
        listed = {}
        for line in (sums or "").splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        # Even an empty SHA256SUMS must vouch for the manifest.
        if sums is not None and listed.get("manifest.json") != actual.get("manifest.json"):
            check.problems.append("manifest.json: does not match its SHA-256 in SHA256SUMS")
        for name, digest in listed.items():
            if name != "manifest.json" and actual.get(name) not in (None, digest):
                check.problems.append(f"{name}: does not match its SHA-256 in SHA256SUMS")
        check.signature = signature_check(
            archive, manifest_bytes, manifest, key=key, fingerprint=fingerprint
        )
        check.problems.extend(check.signature.problems)
    for item in manifest.get("evidence", []):
        if not isinstance(item, dict):
            check.problems.append("manifest.json: an evidence entry is not an object")
            continue
        name = item.get("file")
        label = f"evidence {item.get('id')} ({item.get('label', '')})"
        if item.get("sha256") and not SHA256.fullmatch(str(item["sha256"])):
            check.problems.append(f"{label}: its SHA-256 is not a SHA-256")
        if not name:
            continue
        if name not in actual:
            check.problems.append(f"{label}: its original {name} is not in the bundle")
        elif actual[name] != item.get("sha256"):
            check.problems.append(
                f"{label}: the original {name} does not match the evidence's SHA-256 "
                f"{item.get('sha256')}"
            )
    check.problems.extend(chain_problems(manifest.get("activity", {}).get("chain", [])))
    return check
