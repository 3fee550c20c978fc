"""The image pipeline: what a Celery worker does with an uploaded photo.

`photo_process(photo_id=)` claims the photo with a conditional update, re-verifies the stored
original against the hash taken at ingest, decodes it once under the pixel limit (JPEGs through
libjpeg's reduced decoding, towards the size of the preview it will actually produce), reads and
normalises its metadata, writes an upright, metadata-free thumbnail and preview, computes pHash
and dHash from one canonical reduced input (the thumbnail), records near-duplicates in the case
and raises consistency flags. It is safe to run twice or concurrently: derivatives have fixed
names per photo, flags and matches are unique rows, and every write checks that this attempt
still owns the claim.

`file_kind(head)` tells what a file is from its first bytes; ingest uses it to refuse what is not
an allowed image (or document) with a reason a reporter understands.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import struct
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import imagehash
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from PIL import ExifTags, Image, ImageCms, TiffImagePlugin, UnidentifiedImageError

from cases.activity import Verb, activity_record
from evidence import enqueue
from evidence.models import Photo, PhotoFlag, PhotoMatch
from evidence.similarity import photos_within

try:  # HEIC/HEIF, as phones produce it.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a runtime requirement
    pillow_heif = None

logger = logging.getLogger(__name__)

# Pillow's own decompression-bomb guard, as a second line behind the explicit check below
# (Pillow raises above twice this number and warns above it).
Image.MAX_IMAGE_PIXELS = settings.CASEFILE_MAX_IMAGE_PIXELS

THUMBNAIL_EDGE = 400
PREVIEW_EDGE = 1600
DERIVATIVE_QUALITY = 85
# Two photos whose pHashes differ in at most this many of 64 bits are near-duplicates.
NEAR_DUPLICATE_DISTANCE = 10
DATE_TOLERANCE = timedelta(days=1)
# A camera that recorded no UTC offset wrote local time, which may be up to 14 hours from UTC.
UNKNOWN_OFFSET_SLACK = timedelta(hours=14)
PLACE_TOLERANCE_KM = 25.0
# A photo whose processing was interrupted this many times (its worker died each time) fails
# for good instead of taking down worker after worker.
MAX_ATTEMPTS = 5

EDITING_SOFTWARE = re.compile(
    r"photoshop|lightroom|adobe|gimp|snapseed|affinity|pixelmator|paint\.net|picsart|facetune|"
    r"canva|luminar|darktable|rawtherapee|capture one|vsco|photoscape|fotor|acdsee|corel|"
    r"paintshop|pixlr|krita|photopea|faceapp|meitu|polarr|picmonkey|befunky|photodirector|"
    r"lightx|airbrush|remini|topaz",
    re.IGNORECASE,
)


class PhotoRejected(Exception):
    """A final failure: the file cannot be processed, for a reason a reporter can read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StorageUnavailable(Exception):
    """A transient failure to read or write storage: the task retries."""


# --- What a file is, from its bytes ---------------------------------------------------------

IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
}

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
HEIF_BRANDS |= {b"msf1", b"avif", b"avis", b"mif2", b"miaf"}


@dataclass(frozen=True)
class FileKind:
    """What the bytes of a file are: `category` is "image", "document" or "other"."""

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
        if brand.startswith((b"3g", b"qt", b"M4V", b"isom", b"mp4", b"iso", b"avc", b"MSNV")):
            return FileKind("other", "a video")
        return FileKind("other", "a media container (not a photo)")
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


def pixel_limit_message(width: int, height: int, limit: int) -> str:
    return f"The image is {width}×{height} pixels, above the {_megapixels(limit)}-megapixel limit."


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


class _Borrowed:
    """A file lent to Pillow, which closes the file of an image it closes: this one belongs to
    the caller (an upload still to be stored, an original still to be scanned)."""

    def __init__(self, file):
        self._file = file

    def __getattr__(self, name):
        return getattr(self._file, name)

    def close(self) -> None:
        pass


def open_image(file, *, max_pixels: int) -> Image.Image:
    """Open an image (reading only its header) and check its size; PhotoRejected otherwise.
    Closing the image leaves `file` open."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(_Borrowed(file))
        except Image.DecompressionBombError as exc:
            size = _declared_size(file)
            if size:
                raise PhotoRejected(pixel_limit_message(*size, max_pixels)) from None
            raise PhotoRejected(_bomb_message(exc, max_pixels)) from None
        except (UnidentifiedImageError, SyntaxError, ValueError, EOFError, OSError) as exc:
            raise PhotoRejected(_not_an_image(file) or _unreadable(exc)) from None
    if image.format not in IMAGE_TYPES:
        image.close()
        raise PhotoRejected(f"{image.format} images are not accepted.")
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise PhotoRejected("The image declares no pixels (width or height is zero).")
    if width * height > max_pixels:
        image.close()
        raise PhotoRejected(pixel_limit_message(width, height, max_pixels))
    return image


def _declared_size(file) -> tuple[int, int] | None:
    """The width and height a PNG, GIF or JPEG header declares (for the message about an image
    that Pillow refused to open as a decompression bomb)."""
    try:
        file.seek(0)
        head = file.read(64 * 1024)
    except (OSError, ValueError):
        return None
    if head.startswith(b"\x89PNG") and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head.startswith(b"\xff\xd8"):
        position = 2
        while position + 9 < len(head) and head[position] == 0xFF:
            marker = head[position + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height, width = struct.unpack(">HH", head[position + 5 : position + 9])
                return width, height
            position += 2 + int.from_bytes(head[position + 2 : position + 4], "big")
    return None


def _not_an_image(file) -> str:
    """ "Not an image: the file is a PDF document." when the bytes say so, else ""."""
    try:
        file.seek(0)
        found = file_kind(file.read(64 * 1024))
    except (OSError, ValueError):
        return ""
    if found.category == "image":
        return ""
    return f"Not an image: the file is {found.label}."


def _bomb_message(exc: Exception, max_pixels: int) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f" ({_megapixels(int(found.group(1)))} megapixels)" if found else ""
    return f"The image is too large{pixels}: above the {_megapixels(max_pixels)}-megapixel limit."


def _unreadable(exc: Exception) -> str:
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError):
        return "The file is truncated: the image data ends early (an interrupted upload or copy?)."
    return "The image data is damaged and cannot be decoded."


# --- Decoding and derivatives ----------------------------------------------------------------


@dataclass
class Analysis:
    """Everything the pipeline learns from one original."""

    width: int
    height: int
    metadata: dict[str, Any]
    exif: dict[str, Any]
    thumbnail: bytes
    preview: bytes
    phash: int
    dhash: int
    trailing_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def image_memory_pool(megabytes: int) -> None:
    """Let Pillow keep up to `megabytes` of freed image memory for the next photo, in 1-MiB
    blocks (its block allocator; the PILLOW_BLOCK_SIZE and PILLOW_BLOCKS_MAX environment
    variables do the same). By default Pillow gives every freed block back at once, and a
    24-megapixel photo then touches ~8,000 fresh pages (~32 MB) on its way through the
    derivatives: ~15 ms of page faults against a 55-ms decode, measured with
    benchmarks/pipeline.py. A worker process calls this once at start (evidence/tasks.py);
    0 keeps Pillow's default. The pool is per process: it is what one photo needs anyway, held
    between photos."""
    if megabytes > 0:
        Image.core.set_block_size(1024 * 1024)
        Image.core.set_blocks_max(megabytes)


def fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """The size of an image scaled so that its long edge is at most `edge` (never enlarged)."""
    width, height = size
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def analyse(file, *, max_pixels: int) -> Analysis:
    """Decode an original once and derive everything from it. Raises PhotoRejected for a file
    that cannot be processed. `file` is an open binary file positioned anywhere."""
    file.seek(0)
    image = open_image(file, max_pixels=max_pixels)
    try:
        exif_data, metadata = read_metadata(image)
        stored_size = image.size
        preview_size = fit(stored_size, PREVIEW_EDGE)
        if image.format == "JPEG":
            # libjpeg scales by 1/2, 1/4 or 1/8 while decoding: ask for the size of the preview
            # that will actually be produced (not its bounding box), so that a 3:2 photo is
            # scaled as far as the preview allows.
            image.draft("RGB", preview_size)
        try:
            image.seek(0)  # the first frame of an animation
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.load()
        except Image.DecompressionBombError as exc:
            raise PhotoRejected(_bomb_message(exc, max_pixels)) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise PhotoRejected(_unreadable(exc)) from None
        except MemoryError:
            raise PhotoRejected("The image is too large to decode.") from None
        orientation = metadata.get("orientation")
        # Decoded smaller than stored: libjpeg's DCT scaling, itself a low-pass filter.
        dct_scaled = image.size != stored_size
        pixels = _to_rgb(image)
    except BaseException:
        image.close()
        raise
    # Upright dimensions of the original: what a reporter sees.
    width, height = stored_size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    # Resized first, then turned upright: transposing the preview costs a fraction of
    # transposing the decoded pixels.
    preview = _upright(_preview(pixels, preview_size, dct_scaled=dct_scaled), orientation)
    # The decoded pixels are the largest thing held: let them go before the rest is made.
    if preview is not image:
        image.close()
    del pixels
    thumbnail = _thumbnail(preview, fit((width, height), THUMBNAIL_EDGE))
    thumbnail = thumbnail.convert("RGB") if thumbnail.mode != "RGB" else thumbnail
    # One canonical, reduced input for both hashes: the RGB thumbnail, whatever the size and
    # format of the original (hashing the full image costs ~40× and differs by 0–2 bits).
    phash = _signed64(imagehash.phash(thumbnail))
    dhash = _signed64(imagehash.dhash(thumbnail))
    trailing = trailing_bytes(file, image_format=metadata["format"])
    if trailing:
        exif_data["TrailingBytes"] = trailing
        metadata["trailing_bytes"] = trailing
    return Analysis(
        width=width,
        height=height,
        metadata=metadata,
        exif=exif_data,
        thumbnail=_jpeg(thumbnail),
        preview=_jpeg(preview),
        phash=phash,
        dhash=dhash,
        trailing_bytes=trailing,
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float greyscale (scientific TIFFs, some PNGs): scale to 8 bits.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if icc and image.mode == "RGB":
        image = _to_srgb(image, icc)
    return image


_SRGB = None


def _needs_conversion(icc: bytes) -> bool:
    """Whether an embedded colour profile is something other than sRGB (a broken one is
    ignored: treated as sRGB)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" not in (ImageCms.getProfileDescription(source) or "").lower()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert from an embedded colour profile (Display P3, Adobe RGB…) to sRGB, since the
    derivatives carry no profile. A broken profile is ignored."""
    global _SRGB
    if not _needs_conversion(icc):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if _SRGB is None:
            _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB") or image
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


def _upright(image: Image.Image, orientation: int | None) -> Image.Image:
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation or 1)
    return image.transpose(method) if method is not None else image


def _preview(image: Image.Image, size: tuple[int, int], *, dct_scaled: bool) -> Image.Image:
    """The preview, from the decoded pixels.

    A JPEG that libjpeg has already scaled down (by 1/2, 1/4 or 1/8) is less than twice the
    preview (1.14–1.33× for 9–12 megapixels, 1.5–1.9× for 16–24) and band-limited by the
    scaled inverse DCT, so a cheap last step will do. Pillow's filters are not cheap here:
    19–36 ms for box and 25–34 ms for bilinear, against a 50–70 ms decode. Nearest-neighbour
    costs 2–3 ms but drops up to half of the pixels. Two nearest-neighbour samplings half a
    source pixel apart, averaged, cost 5–9 ms and come close to the box filter: measured
    against a Lanczos resize of the full decode (RMS on 0–255), from 12% better to 11% worse
    than box on photographs and synthetic scenes from 1.14× to 1.9×, where nearest-neighbour
    is 14–42% worse (tests/evidence/test_pipeline.py checks it). Everything else (no DCT
    scaling: PNG, WebP, small JPEGs; a panorama still more than twice the preview at 1/8)
    gets bicubic."""
    if image.size == size:
        return image
    width, height = image.size
    if dct_scaled and max(width / size[0], height / size[1]) <= 2.0:
        first = image.resize(size, Image.Resampling.NEAREST, box=(0, 0, width - 0.5, height - 0.5))
        second = image.resize(size, Image.Resampling.NEAREST, box=(0.5, 0.5, width, height))
        return Image.blend(first, second, 0.5)
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _thumbnail(preview: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The thumbnail from the preview: a box reduction by the integer ratio of the long edges
    (for a full-size preview exactly 4×, with nothing left to do), then a small bicubic step
    when the short edge rounds differently."""
    if preview.size == size:
        return preview
    factor = max(preview.size) // max(size)
    if factor >= 2:
        preview = preview.reduce(factor)
        if preview.size == size:
            return preview
    return preview.resize(size, Image.Resampling.BICUBIC)


def _jpeg(image: Image.Image) -> bytes:
    """Encode a derivative with no metadata at all: no EXIF, GPS, XMP, ICC profile or comment
    (Pillow would otherwise carry a JPEG comment over from `info`)."""
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=DERIVATIVE_QUALITY)
    return out.getvalue()


def _signed64(value: imagehash.ImageHash) -> int:
    unsigned = int(str(value), 16)
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def trailing_bytes(file, *, image_format: str) -> int:
    """How many bytes follow the end of a JPEG or PNG image (phones append motion-photo video
    this way; it can also hide data). 0 when none or for other formats."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    if image_format == "PNG":
        end = _png_end(file, size)
    elif image_format == "JPEG":
        file.seek(max(0, size - 2))
        if file.read(2) == b"\xff\xd9":
            return 0
        end = _jpeg_end(file)
    else:
        return 0
    return max(0, size - end) if end else 0


def _png_end(file, size: int) -> int:
    file.seek(max(0, size - 12))
    if file.read(12).endswith(b"IEND\xaeB`\x82"):
        return size
    file.seek(8)
    position = 8
    while True:
        header = file.read(8)
        if len(header) < 8:
            return 0
        length = int.from_bytes(header[:4], "big")
        position += 12 + length
        if header[4:8] == b"IEND":
            return position
        file.seek(position)


def _jpeg_end(file) -> int:
    """The offset just past a JPEG's end-of-image marker, found by walking its segments and
    entropy-coded data (an EXIF thumbnail carries its own FFD9, so searching for one lies)."""
    file.seek(0)
    data = file.read()
    position, length = 2, len(data)
    while position + 4 <= length:
        if data[position] != 0xFF:
            return 0
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return position + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            position += 2
            continue
        segment = int.from_bytes(data[position + 2 : position + 4], "big")
        position += 2 + segment
        if marker == 0xDA:  # start of scan: skip the entropy-coded data to the next marker
            while True:
                position = data.find(b"\xff", position)
                if position < 0 or position + 1 >= length:
                    return 0
                following = data[position + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    position += 2
                    continue
                break
    return 0


# --- Metadata --------------------------------------------------------------------------------

IFD_POINTERS = {0x8769, 0x8825, 0xA005, 0x014A}
BULKY_TAGS = {0x927C, 0x0111, 0x0117, 0x0144, 0x0145, 0x02BC, 0x83BB, 0x8773, 0x9C9B}


def read_metadata(image: Image.Image) -> tuple[dict[str, Any], dict[str, Any]]:
    """The complete EXIF (with GPS and XMP) as JSON-safe data, and the normalised fields.

    Broken or partial EXIF yields what can be read; what could not be read is noted under
    "Errors" in the JSON, never raised."""
    exif_json: dict[str, Any] = {}
    errors: list[str] = []
    ifd0: dict[int, Any] = {}
    sub: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    try:
        exif = image.getexif()
        ifd0 = dict(exif)
        for name, tag, target in (("Exif", 0x8769, sub), ("GPS", 0x8825, gps)):
            try:
                target.update(exif.get_ifd(tag))
            except Exception as exc:  # noqa: BLE001 - any damage to one IFD leaves the rest
                errors.append(f"{name} block unreadable: {type(exc).__name__}")
        try:
            interop = exif.get_ifd(0xA005)
            if interop:
                exif_json["Interop"] = _tags_json(interop, ExifTags.TAGS)
        except Exception:  # noqa: BLE001, S110 - interoperability data is never needed
            pass
    except Exception as exc:  # noqa: BLE001 - damaged EXIF must not fail the photo
        errors.append(f"EXIF unreadable: {type(exc).__name__}")
    if ifd0:
        exif_json["Image"] = _tags_json(ifd0, ExifTags.TAGS)
    if sub:
        exif_json["Exif"] = _tags_json(sub, ExifTags.TAGS)
    if gps:
        exif_json["GPS"] = _tags_json(gps, ExifTags.GPSTAGS)
    xmp = _xmp_text(image)
    if xmp:
        exif_json["XMP"] = xmp
    comment = image.info.get("comment")
    if comment:
        exif_json["Comment"] = _json_value(comment)
    if errors:
        exif_json["Errors"] = errors

    def text(value) -> str:
        value = _json_value(value)
        return value.strip()[:200] if isinstance(value, str) else ""

    metadata: dict[str, Any] = {"format": image.format}
    metadata["camera_make"] = text(ifd0.get(0x010F))
    metadata["camera_model"] = text(ifd0.get(0x0110))
    metadata["software"] = text(ifd0.get(0x0131)) or text(ifd0.get(0x000B))
    metadata["lens"] = text(sub.get(0xA434)) or text(
        " ".join(filter(None, [text(sub.get(0xA433)), text(sub.get(0xA434))]))
    )
    orientation = ifd0.get(0x0112)
    metadata["orientation"] = (
        orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None
    )
    taken_at, offset = None, ""
    for date_tag, offset_tag in ((0x9003, 0x9011), (0x9004, 0x9012)):
        taken_at, offset = _exif_datetime(sub.get(date_tag), sub.get(offset_tag) or sub.get(0x9010))
        if taken_at:
            break
    else:
        taken_at, offset = _exif_datetime(ifd0.get(0x0132), sub.get(0x9010))
    metadata["taken_at"] = taken_at
    metadata["taken_at_offset"] = offset
    metadata["camera_date"] = bool(sub.get(0x9003) or sub.get(0x9004))
    latitude, longitude, altitude = _gps(gps)
    if latitude is None and xmp:
        latitude, longitude = _xmp_gps(xmp)
    metadata["gps_latitude"] = latitude
    metadata["gps_longitude"] = longitude
    metadata["gps_altitude"] = altitude
    metadata["creator_tools"] = _xmp_tools(xmp) if xmp else []
    return exif_json, metadata


def _tags_json(tags: dict, names: dict) -> dict[str, Any]:
    out = {}
    for tag, value in tags.items():
        if tag in IFD_POINTERS:
            continue
        name = names.get(tag, f"Tag{tag:#06x}")
        if tag in BULKY_TAGS:
            size = len(value) if hasattr(value, "__len__") else 1
            out[name] = f"<{size} bytes omitted>" if isinstance(value, bytes) else "<omitted>"
            continue
        out[name] = _json_value(value)
    return out


def _json_value(value, depth: int = 0):
    if depth > 4 or value is None:
        return None
    if isinstance(value, TiffImagePlugin.IFDRational):
        if value.denominator == 0:
            return None
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        if len(value) > 1024:
            return f"<{len(value)} bytes>"
        stripped = value.rstrip(b"\x00")
        if stripped and all(32 <= b < 127 or b in (9, 10, 13) for b in stripped):
            return stripped.decode("ascii")
        return value.hex()
    if isinstance(value, str):
        # PostgreSQL's JSON cannot hold NUL characters; cameras pad strings with them.
        return value.replace("\x00", "").strip()[:4096]
    if isinstance(value, tuple | list):
        if len(value) > 64:
            return f"<{len(value)} values>"
        return [_json_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v, depth + 1) for k, v in list(value.items())[:64]}
    return str(value)[:256]


OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")
EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?")


def _exif_datetime(value, offset_value) -> tuple[datetime | None, str]:
    """An EXIF date ("2024:05:14 09:30:00") with its offset ("+08:00") as an aware datetime
    and the offset text; without an offset, the camera's local time read as UTC and ""."""
    value = _json_value(value)
    if not isinstance(value, str):
        return None, ""
    match = EXIF_DATE.match(value)
    if not match:
        return None, ""
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
    offset_text, tz = "", UTC
    offset_value = _json_value(offset_value)
    if isinstance(offset_value, str) and (found := OFFSET.match(offset_value)):
        sign, hours, minutes = found.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14) and int(minutes) < 60:
            tz = timezone(delta if sign == "+" else -delta)
            offset_text = f"{sign}{hours}:{minutes}"
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz), offset_text
    except ValueError:  # "0000:00:00 00:00:00" and other impossible dates
        return None, ""


def _gps(gps: dict) -> tuple[float | None, float | None, float | None]:
    latitude = _degrees(gps.get(2), gps.get(1), "S")
    longitude = _degrees(gps.get(4), gps.get(3), "W")
    if latitude is None or longitude is None:
        return None, None, None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None, None, None
    altitude = _number(gps.get(6))
    if altitude is not None:
        ref = gps.get(5)
        below = ref in (1, b"\x01", "\x01", "1") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
        altitude = -altitude if below else altitude
    return latitude, longitude, altitude


def _number(value) -> float | None:
    try:
        if isinstance(value, TiffImagePlugin.IFDRational) and value.denominator == 0:
            return None
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value, ref, negative: str) -> float | None:
    if value is None:
        return None
    parts = list(value) if isinstance(value, tuple | list) else [value]
    numbers = [_number(p) for p in parts[:3]]
    if not numbers or any(n is None for n in numbers):
        return None
    degrees = sum(n / 60**i for i, n in enumerate(numbers))
    ref = _json_value(ref)
    if isinstance(ref, str) and ref.upper().startswith(negative):
        degrees = -degrees
    return round(degrees, 8)


def _xmp_text(image: Image.Image) -> str:
    raw = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if not raw and image.format == "TIFF":
        raw = getattr(image, "tag_v2", {}).get(700, b"")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return raw.replace("\x00", "")[:65536] if isinstance(raw, str) else ""


XMP_TOOLS = re.compile(r"(?:CreatorTool|softwareAgent)\s*(?:=\s*\"([^\"]*)\"|>([^<]*)<)")
XMP_GPS = re.compile(
    r"exif:GPS(Latitude|Longitude)\s*=\s*\"(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])\""
)


def _xmp_tools(xmp: str) -> list[str]:
    return [a or b for a, b in XMP_TOOLS.findall(xmp) if (a or b).strip()]


def _xmp_gps(xmp: str) -> tuple[float | None, float | None]:
    found = {}
    for axis, degrees, minutes, seconds, ref in XMP_GPS.findall(xmp):
        value = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
        found[axis] = -value if ref in "SW" else value
    if "Latitude" in found and "Longitude" in found:
        return round(found["Latitude"], 8), round(found["Longitude"], 8)
    return None, None


# --- Consistency flags -----------------------------------------------------------------------


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def consistency_flags(*, metadata: dict[str, Any], evidence) -> dict[str, str]:
    """The flags a photo deserves from its metadata and what the reporter said, code → message."""
    flags: dict[str, str] = {}
    taken_at: datetime | None = metadata.get("taken_at")
    if taken_at and evidence.observed_at:
        tolerance = DATE_TOLERANCE + (
            UNKNOWN_OFFSET_SLACK if not metadata["taken_at_offset"] else timedelta()
        )
        gap = abs(taken_at - evidence.observed_at)
        if gap > tolerance:
            offset = metadata["taken_at_offset"]
            recorded = f"{taken_at:%-d %b %Y %H:%M}" + (
                f" (UTC{offset})" if offset else " (camera time, no UTC offset)"
            )
            days = gap.total_seconds() / 86400
            flags[PhotoFlag.Code.DATE_MISMATCH] = (
                f"The camera dated this photo {recorded}, {days:.0f} days from the date given "
                f"({evidence.observed_at:%-d %b %Y})."
                if days >= 2
                else f"The camera dated this photo {recorded}, more than a day from the date given "
                f"({evidence.observed_at:%-d %b %Y %H:%M} UTC)."
            )
    lat, lon = metadata.get("gps_latitude"), metadata.get("gps_longitude")
    if lat is not None and evidence.latitude is not None:
        distance = haversine_km((lat, lon), (evidence.latitude, evidence.longitude))
        if distance > PLACE_TOLERANCE_KM:
            # Neither coordinates nor the place's name in the message: every member reads
            # flags, and a protected source's places are for editors and owners (who see the
            # place and the GPS themselves). The source may be protected after the flag is set.
            flags[PhotoFlag.Code.PLACE_MISMATCH] = (
                f"The GPS position in the file is {distance:,.0f} km from the place given."
            )
    tools = [metadata.get("software") or "", *metadata.get("creator_tools", [])]
    edited = next((tool for tool in tools if tool and EDITING_SOFTWARE.search(tool)), None)
    if edited:
        flags[PhotoFlag.Code.EDITING_SOFTWARE] = (
            f"The metadata names editing software ({edited[:100]}): the picture may have been "
            "altered after it was taken."
        )
    trailing = metadata.get("trailing_bytes") or 0
    if trailing:
        flags[PhotoFlag.Code.TRAILING_DATA] = (
            f"The file carries {trailing:,} bytes after the end of the image. Phones append "
            "motion-photo video or depth data this way, but it can also hide another file: "
            "an editor can download the original to look at it."
        )
    if not (
        metadata.get("camera_make") or metadata.get("camera_model") or metadata.get("camera_date")
    ):
        flags[PhotoFlag.Code.NO_CAMERA_METADATA] = (
            "The file has no camera metadata (no make, model or date taken): it is often a copy "
            "re-shared through a messaging app or social network, or a screenshot. Ask for the "
            "original."
        )
    return flags


# --- Storage ---------------------------------------------------------------------------------


def derivative_name(photo: Photo, kind: str) -> str:
    """A fixed name per photo and kind, so that a second run replaces rather than adds."""
    return f"derivatives/{photo.pk}/{kind}.jpg"


def _store(name: str, data: bytes) -> str:
    try:
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # written meanwhile by another attempt: same bytes, keep one copy
            default_storage.delete(saved)
    except OSError as exc:
        raise StorageUnavailable(f"Could not write {name}: {exc}") from exc
    return name


def _verified_original(photo: Photo):
    """Open the stored original and check it against the hash taken at ingest."""
    evidence = photo.evidence
    try:
        file = default_storage.open(evidence.original.name, "rb")
    except FileNotFoundError:
        raise PhotoRejected(
            "The original file is missing from storage; upload the photo again."
        ) from None
    except OSError as exc:
        raise StorageUnavailable(f"Could not read the original: {exc}") from exc
    try:
        digest = hashlib.sha256()
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    except OSError as exc:
        file.close()
        raise StorageUnavailable(f"Could not read the original: {exc}") from exc
    if digest.hexdigest() != evidence.sha256:
        file.close()
        raise PhotoRejected(
            "The stored original no longer matches the SHA-256 taken at upload "
            f"({evidence.sha256[:12]}…): it was altered or damaged in storage."
        )
    file.seek(0)
    return file


# --- Claiming and processing -----------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    # When another attempt is running, how many seconds until it counts as abandoned.
    busy_for: float | None = None


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS)


def _claim(photo_id: int) -> int | None:
    """Take the job: pending, or processing by an attempt older than the hard time limit (its
    worker died). Returns this attempt's number, the token every later write checks."""
    now = dj_timezone.now()
    claimable = Q(status=Photo.Status.PENDING) | Q(
        status=Photo.Status.PROCESSING, status_changed_at__lt=now - _stale_after()
    )
    with transaction.atomic():
        taken = Photo.objects.filter(claimable, pk=photo_id).update(
            status=Photo.Status.PROCESSING, attempts=F("attempts") + 1, status_changed_at=now
        )
        if not taken:
            return None
        return Photo.objects.filter(pk=photo_id).values_list("attempts", flat=True).get()


def photo_process(*, photo_id: int) -> Outcome:
    """Process one photo (see the module docstring). Returns what became of it; raises
    StorageUnavailable or a database error for the task to retry."""
    attempt = _claim(photo_id)
    if attempt is None:
        row = Photo.objects.filter(pk=photo_id).values("status", "status_changed_at").first()
        if row is None:
            return Outcome("missing")
        if row["status"] == Photo.Status.PROCESSING:
            left = row["status_changed_at"] + _stale_after() - dj_timezone.now()
            return Outcome(row["status"], busy_for=max(1.0, left.total_seconds()))
        return Outcome(row["status"])
    photo = Photo.objects.select_related("evidence__case", "evidence__source").get(pk=photo_id)
    if attempt > MAX_ATTEMPTS:
        return _fail(
            photo,
            attempt,
            f"Processing was interrupted {attempt - 1} times (the worker stopped each time); "
            "it will not be tried again automatically.",
        )
    try:
        file = _verified_original(photo)
        try:
            analysis = analyse(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS)
        finally:
            file.close()
        thumbnail = _store(derivative_name(photo, "thumbnail"), analysis.thumbnail)
        preview = _store(derivative_name(photo, "preview"), analysis.preview)
        delay = getattr(settings, "CASEFILE_PIPELINE_TEST_DELAY_SECONDS", 0)
        if delay:  # only the worker-crash test sets this, to kill a worker mid-task
            time.sleep(delay)
        return _finish(photo, attempt, analysis, thumbnail=thumbnail, preview=preview)
    except PhotoRejected as rejected:
        return _fail(photo, attempt, rejected.reason)
    except Exception as exc:
        if _is_time_limit(exc):
            return _fail(
                photo,
                attempt,
                f"Processing took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} seconds and "
                "was stopped.",
            )
        _release(photo_id, attempt)
        raise


def _is_time_limit(exc: Exception) -> bool:
    from celery.exceptions import SoftTimeLimitExceeded

    return isinstance(exc, SoftTimeLimitExceeded)


def _release(photo_id: int, attempt: int) -> None:
    """Give the job back (a transient error): the retry may claim it at once. The attempt is
    not counted: `attempts` counts the runs that were interrupted or finished."""
    try:
        Photo.objects.filter(pk=photo_id, status=Photo.Status.PROCESSING, attempts=attempt).update(
            status=Photo.Status.PENDING,
            status_changed_at=dj_timezone.now(),
            attempts=F("attempts") - 1,
        )
    except Exception:  # the database itself may be what failed
        logger.warning(
            "Could not release photo %s after a transient error", photo_id, exc_info=True
        )


def _fail(photo: Photo, attempt: int, reason: str) -> Outcome:
    with transaction.atomic():
        updated = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            status=Photo.Status.FAILED,
            failure_reason=reason[:500],
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if updated:
            activity_record(
                case=photo.evidence.case,
                actor=None,
                verb=Verb.PHOTO_FAILED,
                target=photo.evidence,
                data={"reason": reason[:500], "attempt": attempt},
            )
    return Outcome(Photo.Status.FAILED)


METADATA_FIELDS = (
    "taken_at",
    "taken_at_offset",
    "camera_make",
    "camera_model",
    "lens",
    "software",
    "gps_latitude",
    "gps_longitude",
    "gps_altitude",
    "orientation",
)


def _finish(photo: Photo, attempt: int, analysis: Analysis, *, thumbnail: str, preview: str):
    evidence = photo.evidence
    values = {name: analysis.metadata.get(name) for name in METADATA_FIELDS}
    for name in ("taken_at_offset", "camera_make", "camera_model", "lens", "software"):
        values[name] = (values[name] or "")[: Photo._meta.get_field(name).max_length]
    # 1. Metadata, derivatives, hashes and flags, in one transaction that still owns the claim.
    # The hashes are committed before near-duplicates are searched, so that of two photos
    # processed at the same moment at least one sees the other.
    with transaction.atomic():
        owned = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            width=analysis.width,
            height=analysis.height,
            exif=analysis.exif,
            thumbnail=thumbnail,
            preview=preview,
            phash=analysis.phash,
            dhash=analysis.dhash,
            **values,
        )
        if not owned:  # another attempt took over (this one was thought dead): leave it be
            return Outcome(Photo.Status.PROCESSING)
        wanted = consistency_flags(metadata=analysis.metadata, evidence=evidence)
        _sync_flags(photo, wanted, managed=set(wanted) | METADATA_FLAGS)
    # 2. Near-duplicates in the case, then ready.
    with transaction.atomic():
        matches = _record_matches(photo, analysis.phash)
        done = Photo.objects.filter(
            pk=photo.pk, status=Photo.Status.PROCESSING, attempts=attempt
        ).update(
            status=Photo.Status.READY,
            failure_reason="",
            status_changed_at=dj_timezone.now(),
            processed_at=dj_timezone.now(),
        )
        if done:
            activity_record(
                case=evidence.case,
                actor=None,
                verb=Verb.PHOTO_PROCESSED,
                target=evidence,
                data={
                    "flags": sorted(wanted),
                    "near_duplicates": matches,
                    "width": analysis.width,
                    "height": analysis.height,
                    # Custody: what was derived from which bytes, with what (issue #6).
                    "derived_from": evidence.sha256,
                    "derivatives": {
                        "thumbnail": hashlib.sha256(analysis.thumbnail).hexdigest(),
                        "preview": hashlib.sha256(analysis.preview).hexdigest(),
                    },
                    "software": processing_software(),
                },
            )
    return Outcome(Photo.Status.READY if done else Photo.Status.PROCESSING)


def processing_software() -> dict[str, str]:
    """The versions of what decodes, converts and hashes the photos, for the custody record."""
    import platform

    import numpy
    from PIL import __version__ as pillow_version
    from PIL import features

    return {
        "python": platform.python_version(),
        "pillow": pillow_version,
        "libjpeg": features.version("libjpeg_turbo") or features.version("jpg") or "",
        "littlecms": features.version("littlecms2") or "",
        "imagehash": getattr(imagehash, "__version__", ""),
        "numpy": numpy.__version__,
    }


METADATA_FLAGS = {
    PhotoFlag.Code.TRAILING_DATA,
    PhotoFlag.Code.DATE_MISMATCH,
    PhotoFlag.Code.PLACE_MISMATCH,
    PhotoFlag.Code.EDITING_SOFTWARE,
    PhotoFlag.Code.NO_CAMERA_METADATA,
}


def _sync_flags(photo: Photo, wanted: dict[str, str], *, managed: set[str]) -> None:
    """Make the photo's flags among `managed` codes exactly `wanted`, one row per code."""
    photo.flags.filter(code__in=managed).exclude(code__in=wanted).delete()
    for code, message in wanted.items():
        PhotoFlag.objects.update_or_create(photo=photo, code=code, defaults={"message": message})


def _record_matches(photo: Photo, phash: int) -> int:
    """Record every photo of the case within the near-duplicate distance, once per pair, and
    flag both photos of a pair that came from different sources.

    The search is answered from the phash part indexes (evidence/similarity.py), so its cost
    does not grow with the size of the case."""
    evidence = photo.evidence
    others = photos_within(
        phash=phash,
        max_distance=NEAR_DUPLICATE_DISTANCE,
        case_id=evidence.case_id,
        exclude=photo.pk,
    )
    # A deleted photo (a tombstone) is no longer evidence of anything: no match, no flag.
    others = others.filter(evidence__deleted_at__isnull=True).values_list(
        "pk", "distance", "evidence__source_id"
    )
    found = []
    for other_id, distance, other_source in others:
        if distance <= NEAR_DUPLICATE_DISTANCE:
            cross = (
                evidence.source_id is not None
                and other_source is not None
                and other_source != evidence.source_id
            )
            a, b = sorted((photo.pk, other_id))
            found.append(
                PhotoMatch(
                    case_id=evidence.case_id,
                    photo_a_id=a,
                    photo_b_id=b,
                    distance=distance,
                    cross_source=cross,
                )
            )
    PhotoMatch.objects.bulk_create(found, ignore_conflicts=True)
    involved = {photo.pk} | {m.photo_a_id for m in found} | {m.photo_b_id for m in found}
    for photo_id in involved:
        _sync_duplicate_flag(photo_id)
    return len(found)


def _sync_duplicate_flag(photo_id: int) -> None:
    matches = (
        PhotoMatch.objects.filter(
            Q(photo_a_id=photo_id) | Q(photo_b_id=photo_id), cross_source=True
        )
        .select_related("photo_a__evidence__source", "photo_b__evidence__source")
        .order_by("distance", "id")
    )
    others = [m.photo_b if m.photo_a_id == photo_id else m.photo_a for m in matches]
    others = [other for other in others if other.evidence.deleted_at is None]
    code = PhotoFlag.Code.DUPLICATE_OTHER_SOURCE
    if not others:
        PhotoFlag.objects.filter(photo_id=photo_id, code=code).delete()
        return
    # str(source) is the safe name: a protected source shows only its pseudonym.
    named = [f"“{o.evidence.label}” from {o.evidence.source}" for o in others[:3]]
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    message = (
        f"A near-duplicate of this photo came from another source: {', '.join(named)}{more}. "
        "The sources may not be independent of each other."
    )
    PhotoFlag.objects.update_or_create(
        photo_id=photo_id, code=code, defaults={"message": message[:500]}
    )


# --- Re-queueing -----------------------------------------------------------------------------


def photos_stale(*, older_than: timedelta | None = None):
    """Photos stuck in pending or processing for longer than the hard time limit."""
    cutoff = dj_timezone.now() - (older_than if older_than is not None else _stale_after())
    return Photo.objects.filter(
        status__in=[Photo.Status.PENDING, Photo.Status.PROCESSING], status_changed_at__lt=cutoff
    ).order_by("status_changed_at")


def photos_requeue_stale(*, older_than: timedelta | None = None, limit: int = 1000) -> list[int]:
    """Queue processing again for stuck photos; returns the ids queued. A pending photo's clock
    is reset so that a long queue does not get it queued again every few minutes; a processing
    photo's is left alone, since it is what lets the next attempt take over. With the broker
    unreachable it stops at the first failure: the rest stay stuck, for the next run."""
    ids = list(photos_stale(older_than=older_than).values_list("pk", flat=True)[:limit])
    sent = []
    for photo_id in ids:
        if not enqueue.task_send(enqueue.PHOTO_PROCESS, photo_id):
            break
        sent.append(photo_id)
    # After sending: a worker that already took one has moved it out of pending.
    Photo.objects.filter(pk__in=sent, status=Photo.Status.PENDING).update(
        status_changed_at=dj_timezone.now()
    )
    return sent
