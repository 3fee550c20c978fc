"""Images made with Pillow for the tests, so that every expected value is known.

    from tests.images import jpeg_bytes, png_bytes, scene, upload

    data = jpeg_bytes(taken_at="2024:05:14 09:30:00", offset="+08:00", make="Canon",
                      model="EOS R6", gps=(40.1186, 124.3940), orientation=6)
    photo_ingest(actor=bob, case=case, file=upload(data, "train.jpg"))

`scene(seed)` gives a natural-looking picture (smooth sky and ground, shapes, texture at several
scales): different seeds are far apart in pHash/dHash, while a resized or recompressed copy of
the same seed stays close. Every generator is deterministic for a given seed.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from datetime import datetime
from fractions import Fraction

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter, TiffImagePlugin

# EXIF tag numbers (IFD0, Exif IFD, GPS IFD).
MAKE, MODEL, ORIENTATION, SOFTWARE, DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
IMAGE_DESCRIPTION = 0x010E
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, LENS_MODEL = 0x9003, 0x9011, 0xA434
USER_COMMENT = 0x9286

DEFAULT_SIZE = (640, 480)


# --- Pixels ---------------------------------------------------------------------------------


def scene(seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE) -> Image.Image:
    """A natural-looking RGB picture: sky and ground gradients, a few solid shapes (buildings,
    a train), soft clouds and fine texture. Deterministic for a seed."""
    size = tuple(size)
    if size[0] * size[1] > CACHED_PIXELS:
        return _scene(seed, size)
    # A copy of its own for each caller, who may draw on it.
    return _cached_scene(seed, size).copy()


# Drawing a scene takes a fifth of a second and the suite asks for the same few seeds hundreds
# of times: small ones are kept (64 of the default size hold about 60 MB), large ones drawn anew.
CACHED_PIXELS = 1_000_000


@functools.lru_cache(maxsize=64)
def _cached_scene(seed: int, size: tuple[int, int]) -> Image.Image:
    return _scene(seed, size)


def _scene(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311 (reproducible test pictures, not secrets)
    width, height = size
    # Low-frequency structure decides the perceptual hashes: draw it at a small size and
    # scale it up smoothly, so that every seed has its own large-scale layout.
    base_w, base_h = 160, 120
    image = Image.new("RGB", (base_w, base_h))
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(35, 85)
    sky_top = tuple(rng.randint(40, 200) for _ in range(3))
    sky_low = tuple(rng.randint(120, 255) for _ in range(3))
    ground_top = tuple(rng.randint(30, 160) for _ in range(3))
    ground_low = tuple(rng.randint(0, 120) for _ in range(3))
    for y in range(base_h):
        if y < horizon:
            t = y / max(horizon, 1)
            colour = _mix(sky_top, sky_low, t)
        else:
            t = (y - horizon) / max(base_h - horizon, 1)
            colour = _mix(ground_top, ground_low, t)
        draw.line([(0, y), (base_w, y)], fill=colour)
    for _ in range(rng.randint(4, 9)):
        # Buildings, wagons, hills: blocks of colour standing on the horizon or lying in front.
        w, h = rng.randint(8, 60), rng.randint(6, 50)
        x = rng.randint(-10, base_w - 5)
        y = rng.randint(horizon - h, min(base_h - 4, horizon + 30))
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.3:
            draw.ellipse([x, y, x + w, y + h], fill=colour)
        else:
            draw.rectangle([x, y, x + w, y + h], fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2)).resize(size, Image.Resampling.BICUBIC)
    # Mid- and high-frequency texture (clouds, gravel, foliage): real photos have detail at every
    # scale, and JPEG compresses it like a photo rather than like flat colour.
    for scale, strength in ((16, 28), (4, 14), (1, 8)):
        noise = _noise(rng, (max(1, width // scale), max(1, height // scale)))
        noise = noise.resize(size, Image.Resampling.BICUBIC)
        image = Image.blend(image, _texture(image, noise, strength), 0.5)
    return image


def _mix(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def _noise(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def _texture(image: Image.Image, noise: Image.Image, strength: int) -> Image.Image:
    # Lighten or darken each pixel by up to `strength` according to the noise.
    offset = noise.point(lambda v: int(v * 2 * strength / 255))
    lighter = Image.merge("RGB", [offset] * 3)
    shifted = ImageChops.add(image, lighter)
    return ImageChops.subtract(shifted, Image.new("RGB", image.size, (strength,) * 3))


def marked(size: tuple[int, int] = (400, 300)) -> Image.Image:
    """An upright picture whose orientation can be checked: the top-left quarter is red, the
    rest is blue (see `is_upright_marked`)."""
    width, height = size
    image = Image.new("RGB", size, (0, 0, 255))
    ImageDraw.Draw(image).rectangle([0, 0, width // 2 - 1, height // 2 - 1], fill=(255, 0, 0))
    return image


def is_upright_marked(image: Image.Image) -> bool:
    """True when `image` shows `marked()` upright: red top-left, blue elsewhere, landscape."""
    image = image.convert("RGB")
    width, height = image.size

    def red(x, y):
        r, g, b = image.getpixel((int(x * width), int(y * height)))
        return r > 150 and b < 100

    return (
        width > height
        and red(0.2, 0.2)
        and not red(0.8, 0.2)
        and not red(0.2, 0.8)
        and not red(0.8, 0.8)
    )


# The transpose that undoes each EXIF orientation (what a viewer applies to show it upright).
UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# And its inverse: how a camera stores an upright scene under each orientation tag.
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def as_stored(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera would store for an upright picture under an orientation tag."""
    transpose = STORED[orientation]
    return upright.copy() if transpose is None else upright.transpose(transpose)


# --- Metadata -------------------------------------------------------------------------------


def _rational(value: float, denominator: int = 1_000_000) -> TiffImagePlugin.IFDRational:
    fraction = Fraction(value).limit_denominator(denominator)
    return TiffImagePlugin.IFDRational(fraction.numerator, fraction.denominator)


def dms(value: float) -> tuple:
    """Decimal degrees (unsigned) as EXIF degrees, minutes, seconds rationals. The seconds keep
    enough precision that the decimal value reads back within 1e-7 degrees."""
    value = abs(value)
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = (minutes_float - minutes) * 60
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        _rational(seconds, 10_000),
    )


def exif_for(
    *,
    taken_at: datetime | str | None = None,
    offset: str | None = None,
    make: str | None = None,
    model: str | None = None,
    lens: str | None = None,
    software: str | None = None,
    gps: tuple[float, float] | tuple[float, float, float] | None = None,
    orientation: int | None = None,
    description: str | None = None,
) -> Image.Exif:
    """An EXIF block with the given values (None leaves a tag out).

    taken_at is a datetime or an EXIF string "YYYY:MM:DD HH:MM:SS"; offset is "+08:00";
    gps is (latitude, longitude[, altitude metres]) in signed decimal degrees.
    """
    exif = Image.Exif()
    if make is not None:
        exif[MAKE] = make
    if model is not None:
        exif[MODEL] = model
    if software is not None:
        exif[SOFTWARE] = software
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if description is not None:
        exif[IMAGE_DESCRIPTION] = description
    if taken_at is not None or offset is not None or lens is not None:
        sub = exif.get_ifd(EXIF_IFD)
        if taken_at is not None:
            text = (
                taken_at.strftime("%Y:%m:%d %H:%M:%S")
                if isinstance(taken_at, datetime)
                else taken_at
            )
            sub[DATETIME_ORIGINAL] = text
            exif[DATETIME] = text
        if offset is not None:
            sub[OFFSET_TIME_ORIGINAL] = offset
        if lens is not None:
            sub[LENS_MODEL] = lens
    if gps is not None:
        latitude, longitude = gps[0], gps[1]
        g = exif.get_ifd(GPS_IFD)
        g[0] = b"\x02\x03\x00\x00"
        g[1] = "N" if latitude >= 0 else "S"
        g[2] = dms(latitude)
        g[3] = "E" if longitude >= 0 else "W"
        g[4] = dms(longitude)
        if len(gps) > 2:
            altitude = gps[2]
            g[5] = b"\x00" if altitude >= 0 else b"\x01"
            g[6] = _rational(abs(altitude), 1000)
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def xmp_packet(*, creator_tool: str = "Casefile tests", extra: str = "") -> bytes:
    """A small XMP packet (with a GPS position inside, as phones write it)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        f' xmp:CreatorTool="{creator_tool}" exif:GPSLatitude="40,7.116N"'
        f' exif:GPSLongitude="124,23.64E">{extra}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


# --- Files ----------------------------------------------------------------------------------


def jpeg_bytes(
    image: Image.Image | None = None,
    *,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    quality: int = 90,
    taken_at: datetime | str | None = None,
    offset: str | None = None,
    make: str | None = None,
    model: str | None = None,
    lens: str | None = None,
    software: str | None = None,
    gps: tuple[float, float] | tuple[float, float, float] | None = None,
    orientation: int | None = None,
    description: str | None = None,
    comment: str | bytes | None = None,
    icc: bool | bytes = False,
    xmp: bool | bytes = False,
    exif: Image.Exif | bytes | None = None,
    progressive: bool = False,
) -> bytes:
    """A JPEG of `image` (or of `scene(seed, size)`) with the metadata asked for.

    When `orientation` is given, pass the pixels as the camera stores them (see `as_stored`)
    if the test checks how the picture is turned.
    """
    if image is None:
        image = scene(seed, size)
    if exif is None:
        exif = exif_for(
            taken_at=taken_at,
            offset=offset,
            make=make,
            model=model,
            lens=lens,
            software=software,
            gps=gps,
            orientation=orientation,
            description=description,
        )
    options: dict = {"format": "JPEG", "quality": quality, "progressive": progressive}
    exif_data = exif.tobytes() if isinstance(exif, Image.Exif) else exif
    if exif_data and len(exif_data) > 8:
        options["exif"] = exif_data
    if comment is not None:
        options["comment"] = comment
    if icc:
        options["icc_profile"] = icc if isinstance(icc, bytes) else srgb_icc()
    if xmp:
        options["xmp"] = xmp if isinstance(xmp, bytes) else xmp_packet()
    out = io.BytesIO()
    image.convert("RGB").save(out, **options)
    return out.getvalue()


def image_bytes(
    image: Image.Image | None = None, *, format: str, seed: int = 0, **options
) -> bytes:
    """Any format Pillow writes: "PNG", "WEBP", "GIF", "TIFF", "BMP", … of `image` or a scene."""
    if image is None:
        image = scene(seed, options.pop("size", DEFAULT_SIZE))
    if format == "GIF":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def png_bytes(image: Image.Image | None = None, *, seed: int = 0, **options) -> bytes:
    return image_bytes(image, format="PNG", seed=seed, **options)


def heic_bytes(image: Image.Image | None = None, *, seed: int = 0, **options) -> bytes:
    """An HEIC (as phones produce), written through pillow-heif."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return image_bytes(image, format="HEIF", seed=seed, **options)


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose header declares width × height pixels (a decompression
    bomb: a few hundred bytes that would inflate to gigabytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A little compressed data of zeros: enough to parse, far from enough to fill the image.
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 1000)) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first part of a file, as an interrupted transfer leaves it."""
    return data[: max(1, int(len(data) * keep))]


def random_bytes(size: int = 4096, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311


def pdf_bytes() -> bytes:
    """A minimal one-page PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def svg_bytes() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<rect width="100" height="100" fill="red"/><script>alert(1)</script></svg>'
    )


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    """An uploaded file as a Django view receives it (the declared type is the client's claim,
    which the app must not trust)."""
    return SimpleUploadedFile(name, data, content_type=content_type)


# IPTC IIM datasets (2:…) by name, for `with_iptc`.
IIM_DATASETS = {
    "caption": 120,
    "byline": 80,
    "credit": 110,
    "copyright": 116,
    "city": 90,
    "sublocation": 92,
    "country": 101,
    "keywords": 25,
    "date": 55,
    "time": 60,
}


def with_iptc(data: bytes, **fields: str | list[str]) -> bytes:
    """A JPEG with an IPTC (IIM) record in UTF-8 (a Photoshop APP13 segment after the SOI):
    `with_iptc(jpeg, caption="…", byline="…", keywords=["a", "b"], date="20240525")`."""
    records = b"\x1c\x01\x5a\x00\x03\x1b%G"  # 1:90 CodedCharacterSet: UTF-8
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            raw = item.encode()
            records += bytes([0x1C, 2, IIM_DATASETS[name]]) + struct.pack(">H", len(raw)) + raw
    if len(records) % 2:
        records += b"\x00"
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(records))
    payload = b"Photoshop 3.0\x00" + resource + records
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def history_xmp(*events: tuple[str, str, str]) -> bytes:
    """An XMP packet with an editing history: events of (action, when, softwareAgent)."""
    items = "".join(
        f'<rdf:li stEvt:action="{a}" stEvt:when="{w}" stEvt:softwareAgent="{s}"/>'
        for a, w, s in events
    )
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"'
        ' xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#">'
        f"<xmpMM:History><rdf:Seq>{items}</rdf:Seq></xmpMM:History>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def mpo_bytes(seed: int = 1, *, xmp: bytes | None = None) -> bytes:
    """A phone-style JPEG with a Multi-Picture index: the primary image and a smaller one after
    it (one: Pillow 13's MPO writer gives a third image a wrong size)."""
    out = io.BytesIO()
    options = {"xmp": xmp} if xmp else {}
    scene(seed).save(
        out,
        "MPO",
        save_all=True,
        append_images=[scene(seed + 1, (320, 240))],
        quality=85,
        **options,
    )
    return out.getvalue()
