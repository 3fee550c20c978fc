"""The images a JPEG carries after its own in a Multi-Picture Format (MPF/MPO) index, as
phones write for HDR gain maps and depth and cameras for large previews: listed (kind, size in
bytes, width × height, SHA-256) so that the record says what else the file holds. The primary
image is the photo; the embedded ones are never decoded. No ORM here."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from PIL import Image

MAX_ENTRIES = 32
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE}


def jpeg_size(head: bytes) -> tuple[int, int] | None:
    """The width and height a JPEG's frame header declares, from its first bytes."""
    if not head.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 9 < len(head) and head[position] == 0xFF:
        marker = head[position + 1]
        if marker in SOF_MARKERS:
            height, width = struct.unpack(">HH", head[position + 5 : position + 9])
            return width, height
        position += 2 + int.from_bytes(head[position + 2 : position + 4], "big")
    return None


def _mpf_base(file) -> int | None:
    """Where the MPF index's TIFF header starts (its offsets count from there)."""
    file.seek(0)
    head = file.read(256 * 1024)
    position = 2
    while position + 4 <= len(head) and head[position] == 0xFF:
        marker = head[position + 1]
        length = int.from_bytes(head[position + 2 : position + 4], "big")
        if marker == 0xE2 and head[position + 4 : position + 8] == b"MPF\x00":
            return position + 8
        if marker == 0xDA:
            return None
        position += 2 + length
    return None


def embedded_images(image: Image.Image, file) -> list[dict[str, Any]]:
    """The images after the primary one, in MPF order: {index, kind, size, width, height,
    sha256, offset}. An entry pointing past the end of the file (a truncated copy) is listed
    with `sha256` null and `missing` true. [] for a file without an MPF index."""
    try:
        entries = (getattr(image, "mpinfo", None) or {}).get(0xB002) or []
    except (AttributeError, TypeError):
        return []
    if not isinstance(entries, list) or len(entries) < 2:
        return []
    base = _mpf_base(file)
    if base is None:
        return []
    file.seek(0, 2)
    file_size = file.tell()
    found = []
    for index, entry in enumerate(entries[1 : MAX_ENTRIES + 1], start=1):
        try:
            size, offset = int(entry["Size"]), int(entry["DataOffset"])
            kind = str(entry.get("Attribute", {}).get("MPType", "Undefined"))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        start = base + offset
        item = {
            "index": index,
            "kind": kind,
            "size": size,
            "offset": start,
            "width": None,
            "height": None,
            "sha256": None,
            "missing": True,
        }
        if offset > 0 and size > 0 and start + size <= file_size:
            digest = hashlib.sha256()
            file.seek(start)
            head = b""
            left = size
            while left:
                chunk = file.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                head = head or chunk[: 64 * 1024]
                digest.update(chunk)
                left -= len(chunk)
            dimensions = jpeg_size(head)
            if dimensions:
                item["width"], item["height"] = dimensions
            item["sha256"] = digest.hexdigest()
            item["missing"] = False
        found.append(item)
    return found


def embedded_end(images: list[dict[str, Any]]) -> int:
    """The offset just past the last embedded image found in the file (0 when none)."""
    return max((i["offset"] + i["size"] for i in images if not i["missing"]), default=0)
