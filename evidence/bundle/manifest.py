"""The bundle's format: its name and version, the files it stores as they are, and the hashing
of its files (what a manifest holds is `evidence.bundle.schema`). No ORM here:
`evidence.services.exports` builds the manifest from the rows."""

from __future__ import annotations

import hashlib

FORMAT = "casefile-export"
# 3: signed (the files below, `signing` and `activity.checkpoints` in the manifest). Bundles of
# earlier versions are still read, as unsigned.
FORMAT_VERSION = 3
SIGNED_SINCE = 3
# The newsroom's public key (PEM), listed in the manifest like any file.
KEY_FILE = "signing-key.pem"
# Raw 64-byte Ed25519 signatures of the exact bytes of manifest.json and of SHA256SUMS, so that
# `openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in manifest.json -sigfile
# manifest.json.sig` checks the manifest and, the same way, SHA256SUMS what `sha256sum -c` checks.
# SHA256SUMS lists manifest.json.sig (the manifest cannot list its own signature).
SIGNATURE_FILE = "manifest.json.sig"
SUMS_SIGNATURE_FILE = "SHA256SUMS.sig"
# The TSA's RFC 3161 reply (DER) over the SHA-256 of manifest.json.sig: a trusted time for the
# export (`openssl ts -verify -data manifest.json.sig -in manifest.json.sig.tsr -CAfile
# tsa-certificates.pem`). Absent when no TSA was configured or it failed at export time.
TIMESTAMP_FILE = "manifest.json.sig.tsr"
# The TSA roots the bundle's tokens are checked with (PEM), listed in the manifest like any file:
# compare its fingerprint with the one the TSA publishes.
TSA_CERTIFICATES_FILE = "tsa-certificates.pem"
# Members the manifest does not list: itself, the sums, and what signs them.
UNLISTED = frozenset(
    {"manifest.json", "SHA256SUMS", SIGNATURE_FILE, SUMS_SIGNATURE_FILE, TIMESTAMP_FILE}
)
CHUNK = 1024 * 1024
# Already-compressed files are stored as they are; text is deflated.
STORED_TYPES = ("image/", "video/", "application/zip", "application/pdf")


class BundleError(Exception):
    """A bundle that cannot be read or does not match its manifest."""


def file_sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Hashing:
    """A writable file that passes what it is given on, and hashes and counts it."""

    def __init__(self, out):
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)
