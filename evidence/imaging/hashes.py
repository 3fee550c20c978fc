"""Perceptual hashes as signed 64-bit integers (what PostgreSQL's bigint holds) and the
Hamming distance between two of them. No ORM here."""

from __future__ import annotations

import imagehash


def signed64(value: imagehash.ImageHash) -> int:
    unsigned = int(str(value), 16)
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
