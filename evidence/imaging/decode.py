"""Decoding an original once, under the pixel limit, and deriving everything from it: an
upright, metadata-free thumbnail and preview (JPEGs through libjpeg's reduced decoding, towards
the size of the preview it will actually produce), the perceptual hashes from one canonical
reduced input (the thumbnail), the metadata and the bytes trailing the image. No ORM here:
`evidence.services.photos` stores what this returns."""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import imagehash
from django.conf import settings
from PIL import Image, ImageCms, UnidentifiedImageError

from evidence.imaging.credentials import c2pa_version, read_credentials
from evidence.imaging.hashes import NearDuplicateHashes, near_duplicate_hashes, signed64
from evidence.imaging.metadata import read_metadata
from evidence.imaging.mpf import embedded_end, embedded_images, jpeg_size
from evidence.imaging.sniff import IMAGE_TYPES, file_kind

try:  # HEIC/HEIF, as phones produce it.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a runtime requirement
    pillow_heif = None

# Pillow's own decompression-bomb guard, as a second line behind the explicit check below
# (Pillow raises above twice this number and warns above it).
Image.MAX_IMAGE_PIXELS = settings.CASEFILE_MAX_IMAGE_PIXELS

THUMBNAIL_EDGE = 400
PREVIEW_EDGE = 1600
DERIVATIVE_QUALITY = 85


class PhotoRejected(Exception):
    """A final failure: the file cannot be processed, for a reason a reporter can read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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
    return jpeg_size(head)


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
    # The hashes that find copies changed on social media (evidence.imaging.hashes).
    near_duplicates: NearDuplicateHashes | None = None
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
        embedded = embedded_images(image, file) if image.format == "MPO" else []
        if image.format == "MPO":
            metadata["format"] = "JPEG"
        stored_size = image.size
        preview_size = fit(stored_size, PREVIEW_EDGE)
        if metadata["format"] == "JPEG":
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
    phash = signed64(imagehash.phash(thumbnail))
    dhash = signed64(imagehash.dhash(thumbnail))
    near_duplicates = near_duplicate_hashes(thumbnail)
    trailing = trailing_bytes(file, image_format=metadata["format"])
    if trailing and embedded:
        # The embedded images are accounted for: only what follows the last one is unknown.
        file.seek(0, io.SEEK_END)
        trailing = max(0, file.tell() - embedded_end(embedded)) if embedded_end(embedded) else 0
    # The MPF images after the primary one, and the Content Credentials (None without).
    metadata["embedded_images"] = embedded
    metadata["content_credentials"] = read_credentials(
        file, content_type=IMAGE_TYPES[metadata["format"]]
    )
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
        near_duplicates=near_duplicates,
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
        "c2pa": c2pa_version(),
        # ORB, for the near-duplicates the hashes alone are unsure of (evidence.imaging.hashes).
        "opencv": _opencv_version(),
    }


def _opencv_version() -> str:
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv-python-headless is a runtime requirement
        return ""
    return cv2.__version__
