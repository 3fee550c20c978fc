"""Pictures and PDFs with known text, made in the tests: a photo of signs in Korean, Chinese and
English (drawn with Debian's fonts-noto-cjk), a PDF with a text layer, a scanned PDF."""

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.images import scene
from tests.needs import unavailable

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# In the collection: 0 JP, 1 KR, 2 SC, 3 TC (each face has Latin and Hangul too).
KOREAN_FACE, CHINESE_FACE = 1, 2
SIGN_LINES = (("서포 단동", KOREAN_FACE), ("丹东 火车站", CHINESE_FACE), ("Dandong Station", 1))
TEXT_LAYER_LINES = ("Freight manifest for train 7021", "Departure Sinuiju, arrival Dandong")


def cjk_font(face: int, size: int) -> ImageFont.FreeTypeFont:
    if not CJK_FONT.exists():
        unavailable(f"the CJK fonts are missing ({CJK_FONT}): apt-get install fonts-noto-cjk")
    return ImageFont.truetype(str(CJK_FONT), size, index=face)


def sign_picture(size: tuple[int, int] = (1600, 1200), *, seed: int = 3) -> Image.Image:
    """A photo-like scene with a station sign: 서포 단동 / 丹东 火车站 / Dandong Station."""
    image = scene(seed, size).convert("RGB")
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle(
        (width * 0.12, height * 0.2, width * 0.88, height * 0.72),
        fill=(240, 238, 228),
        outline=(30, 60, 120),
        width=8,
    )
    y = height * 0.25
    for text, face in SIGN_LINES:
        draw.text(
            (width * 0.17, y), text, font=cjk_font(face, int(height * 0.1)), fill=(20, 30, 60)
        )
        y += height * 0.15
    return image


def jpeg_of(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def text_layer_pdf(lines=TEXT_LAYER_LINES) -> bytes:
    """A one-page PDF whose text is in its text layer (Helvetica), as a word processor writes."""
    stream = (
        b"BT /F1 18 Tf 72 720 Td 24 TL "
        + b" ".join(b"(" + line.encode("latin-1") + b") '" for line in lines)
        + b" ET"
    )
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Resources<</Font<</F1 5 0 R>>>>"
        b"/Contents 4 0 R>>",
        b"<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def scanned_pdf(pages: int = 1) -> bytes:
    """A PDF of page images only (no text layer), as a scanner writes: a typed page of
    English and Korean."""
    images = []
    for number in range(pages):
        page = Image.new("L", (1240, 1754), 250)  # A4 at 150 dpi
        draw = ImageDraw.Draw(page)
        draw.text((120, 160), f"Customs declaration {number + 1}", font=cjk_font(1, 56), fill=15)
        draw.text((120, 300), "Consignee: Dandong Trading", font=cjk_font(1, 48), fill=15)
        draw.text((120, 420), "단동 무역 회사", font=cjk_font(KOREAN_FACE, 56), fill=15)
        images.append(page)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return out.getvalue()
