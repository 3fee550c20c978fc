"""What a file is, from its first bytes: `file_kind(head)` answers an image, a document or
something else, with a label a reporter reads. Ingest uses it to refuse what is not an allowed
image (or document) with a reason a reporter understands. No ORM here."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    # A JPEG with a Multi-Picture index (phones' HDR and depth images, cameras' previews):
    # Pillow names it MPO; it is a JPEG, and its primary image is the photo.
    "MPO": "image/jpeg",
}

# The extension a download gets, from the type told from the bytes at ingest, never the
# uploader's: a JPEG that is also a web page, uploaded as report.html, downloads as report.jpg
# and opens as an image, not as a page of this site's origin.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/tiff": ".tif",
    "image/heif": ".heic",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-m4v": ".m4v",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/3gpp": ".3gp",
    "video/3gpp2": ".3g2",
    "video/x-msvideo": ".avi",
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/rtf": ".rtf",
    "text/plain": ".txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp",
}


def download_name(original_name: str, content_type: str, *, fallback: str) -> str:
    """The file name a download is offered under: the uploader's name without its extension
    (`fallback` when it has none), and the extension of the type the bytes were told to be
    (`.bin` for a type without one)."""
    # No leading dot either: a download is never a hidden file (".htaccess" → "htaccess.jpg").
    stem = os.path.splitext(os.path.basename(original_name or ""))[0].strip().lstrip(".")
    stem = stem or fallback
    return stem + EXTENSIONS.get(content_type, ".bin")


HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
HEIF_BRANDS |= {b"msf1", b"avif", b"avis", b"mif2", b"miaf"}


@dataclass(frozen=True)
class FileKind:
    """What the bytes of a file are: `category` is "image", "video", "document" or "other"."""

    category: str
    label: str  # what a reporter reads: "a JPEG image", "a PDF document"
    content_type: str = ""
    image_format: str = ""  # Pillow's format name for images


def file_kind(head: bytes, file=None) -> FileKind:
    """Tell what a file is from its first bytes (the first 64 KiB are plenty). `file`, when
    given, lets a ZIP container be opened to tell an office document from an archive."""
    if not head:
        return FileKind("other", "an empty file")
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind("image", "a JPEG image", "image/jpeg", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind("image", "a PNG image", "image/png", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileKind("image", "a GIF image", "image/gif", "GIF")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind("image", "a WebP image", "image/webp", "WEBP")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return FileKind("image", "a TIFF image", "image/tiff", "TIFF")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            if brand in (b"avif", b"avis"):
                return FileKind("other", "an AVIF image (not accepted: export it as JPEG)")
            return FileKind("image", "a HEIC/HEIF image", "image/heif", "HEIF")
        video = _iso_video(brand)
        if video is not None:
            return video
        if brand.startswith((b"M4A", b"M4B", b"M4P", b"F4A")):
            return FileKind("other", "an audio file (not a video)")
        return FileKind("other", "a media container (not a photo)")
    if head[4:8] in QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") in range(8, 1 << 31):
        # An old QuickTime movie, with no `ftyp`: it starts with one of its top-level atoms.
        return FileKind("video", "a QuickTime video", "video/quicktime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: Matroska, or its WebM profile; the DocType is within the first bytes.
        if b"webm" in head[:64]:
            return FileKind("video", "a WebM video", "video/webm")
        if b"matroska" in head[:64]:
            return FileKind("video", "a Matroska (MKV) video", "video/x-matroska")
        return FileKind("other", "an EBML file (not a video)")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileKind("video", "an AVI video", "video/x-msvideo")
    if head.startswith(b"%PDF-"):
        return FileKind("document", "a PDF document", "application/pdf")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return FileKind("document", "an old Microsoft Office document", "application/msword")
    if head.startswith(b"{\\rtf"):
        return FileKind("document", "an RTF document", "application/rtf")
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head, file)
    if head.startswith(b"BM") and len(head) > 14:
        return FileKind("other", "a BMP image (not accepted: export it as PNG or JPEG)")
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")):
        return FileKind("other", "a compressed archive")
    if head.startswith((b"\x7fELF", b"MZ")):
        return FileKind("other", "a program")
    text = _as_text(head)
    if text is not None:
        start = text.lstrip("\ufeff \t\r\n").lower()
        if (
            start.startswith("<?xml")
            or start.startswith("<svg")
            or start.startswith("<!doctype svg")
        ):
            if "<svg" in start[:4096]:
                return FileKind(
                    "other",
                    "an SVG drawing (not accepted: SVG can carry scripts; export it as PNG)",
                )
            return FileKind("other", "an XML file")
        if start.startswith(("<!doctype html", "<html", "<head", "<body")):
            return FileKind("other", "a web page (HTML): save the page as PDF or add it as a link")
        return FileKind("document", "plain text", "text/plain")
    return FileKind("other", "data of an unknown type")


# ISO base media (MP4 family) brands of video files, by their first bytes, and the type each is.
VIDEO_BRANDS = (
    (b"qt", "a QuickTime (MOV) video", "video/quicktime"),
    (b"M4V", "an M4V video", "video/x-m4v"),
    (b"3g2", "a 3GPP2 video", "video/3gpp2"),
    (b"3g", "a 3GPP video", "video/3gpp"),
    (b"isom", "an MP4 video", "video/mp4"),
    (b"iso", "an MP4 video", "video/mp4"),
    (b"mp4", "an MP4 video", "video/mp4"),
    (b"mp71", "an MP4 video", "video/mp4"),
    (b"avc1", "an MP4 video", "video/mp4"),
    (b"MSNV", "an MP4 video", "video/mp4"),
    (b"dash", "an MP4 video", "video/mp4"),
    (b"mmp4", "an MP4 video", "video/mp4"),
    (b"XAVC", "an MP4 video", "video/mp4"),
    (b"f4v", "an MP4 video", "video/mp4"),
)
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
VIDEO_TYPES = {
    "video/mp4",
    "video/quicktime",
    "video/x-m4v",
    "video/webm",
    "video/x-matroska",
    "video/3gpp",
    "video/3gpp2",
    "video/x-msvideo",
}


def _iso_video(brand: bytes) -> FileKind | None:
    for prefix, label, content_type in VIDEO_BRANDS:
        if brand.startswith(prefix):
            return FileKind("video", label, content_type)
    return None


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes of an upload are a video's (what lets an upload stream past
    the general size limit up to the video limit: `config.uploads`)."""
    return file_kind(head).category == "video"


def _as_text(head: bytes) -> str | None:
    # Cut a multi-byte character that the head may have split at its end.
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return text if controls == 0 else None


OFFICE = {
    "word/": (
        "a Word document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xl/": (
        "an Excel spreadsheet",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "ppt/": (
        "a PowerPoint presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
}


def _zip_kind(head: bytes, file) -> FileKind:
    # OpenDocument stores its type uncompressed as the first entry, "mimetype".
    if head[30:38] == b"mimetype":
        mimetype = head[38:120].split(b"PK")[0].decode("ascii", "replace").strip()
        if mimetype.startswith("application/vnd.oasis.opendocument."):
            return FileKind("document", "an OpenDocument file", mimetype)
    if file is not None:
        try:
            file.seek(0)
            with zipfile.ZipFile(file) as archive:
                names = archive.namelist()[:2000]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            names = []
        finally:
            file.seek(0)
        if "[Content_Types].xml" in names:
            for prefix, (label, content_type) in OFFICE.items():
                if any(name.startswith(prefix) for name in names):
                    return FileKind("document", label, content_type)
    return FileKind("other", "a ZIP archive")
