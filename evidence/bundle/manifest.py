"""The bundle's format: its name and version, the files it stores as they are, and the hashing
of its files (what a manifest holds is `evidence.bundle.schema`). No ORM here:
`evidence.services.exports` builds the manifest from the rows."""

from __future__ import annotations

import hashlib

FORMAT = "casefile-export"
FORMAT_VERSION = 2
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
