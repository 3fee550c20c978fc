"""Verifying a bundle without our database: every file against the manifest, the originals
against the evidence SHA-256, a link's capture files against the hashes the capture recorded,
the manifest against SHA256SUMS, the activity chain, and who signed it
(`evidence.bundle.signature`)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cases.activity import chain_problems
from evidence.bundle.manifest import UNLISTED, BundleError
from evidence.bundle.reading import MANIFEST, SUMS, bundle_open, manifest_parse
from evidence.bundle.signature import SignatureCheck, signature_check


@dataclass
class BundleCheck:
    # None when the bundle was refused before its files were checked (unreadable, over a
    # limit, or a manifest out of shape): then `problems` holds that one reason.
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
    path,
    *,
    key: Ed25519PublicKey | None = None,
    fingerprint: str | None = None,
    tsa_roots: list | None = None,
) -> BundleCheck:
    """Check every file of a bundle against its manifest, the originals against the evidence
    SHA-256, the manifest against SHA256SUMS, the activity chain the manifest carries, and its
    signatures, checkpoints and trusted timestamps (by `key`, or the key of `fingerprint`, when
    given; the timestamps against `tsa_roots`, else the TSA roots it carries). Reads the
    bundle as untrusted input (`evidence.bundle.reading`): limits first, files in chunks;
    needs no database."""
    with ExitStack() as opened:
        try:
            bundle = opened.enter_context(bundle_open(path))
            if MANIFEST not in bundle:
                raise BundleError(f"{MANIFEST} is missing")
            manifest_bytes = bundle.read(MANIFEST)
            manifest = manifest_parse(manifest_bytes)
        except BundleError as exc:
            return BundleCheck(None, problems=[str(exc)])
        check = BundleCheck(manifest)
        names = set(bundle.names)
        files = manifest["files"]
        actual: dict[str, str] = {}
        for name in sorted(names):
            try:
                if name == MANIFEST:
                    # Read whole above (through its CRC check): not read twice.
                    actual[name], size = sha256(manifest_bytes).hexdigest(), len(manifest_bytes)
                else:
                    actual[name], size = bundle.sha256(name)
            except BundleError as exc:
                # A damaged member fails its CRC check while being read.
                check.problems.append(str(exc))
                continue
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
        sums = None
        if SUMS not in bundle:
            check.problems.append("SHA256SUMS is missing")
        else:
            try:
                sums = bundle.read(SUMS).decode()
            except BundleError as exc:
                check.problems.append(str(exc))
            except UnicodeDecodeError:
                check.problems.append("SHA256SUMS is not text")
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
            bundle.archive,
            manifest_bytes,
            manifest,
            key=key,
            fingerprint=fingerprint,
            tsa_roots=tsa_roots,
        )
        check.problems.extend(check.signature.problems)
    # The manifest's shape was checked on loading (`evidence.bundle.schema`).
    for item in manifest["evidence"]:
        name = item["file"]
        label = f"evidence {item['id']} ({item['label']})"
        # A link's captures: each file the bundle carries is the one the capture hashed.
        for capture in item.get("captures", []):
            for entry in capture["files"]:
                member = entry["file"]
                if not member:
                    continue
                if member not in actual:
                    check.problems.append(
                        f"{label}: the file {member} of capture {capture['id']} is not in the "
                        "bundle"
                    )
                elif actual[member] != entry["sha256"]:
                    check.problems.append(
                        f"{label}: the file {member} of capture {capture['id']} does not match "
                        f"its recorded SHA-256 {entry['sha256']}"
                    )
        if not name:
            continue
        if name not in actual:
            check.problems.append(f"{label}: its original {name} is not in the bundle")
        elif actual[name] != item.get("sha256"):
            check.problems.append(
                f"{label}: the original {name} does not match the evidence's SHA-256 "
                f"{item.get('sha256')}"
            )
    check.problems.extend(chain_problems(manifest["activity"]["chain"]))
    return check
