"""The changes a picture goes through on social media, made with Pillow: for the near-duplicate
tests (tests/evidence/test_near_duplicates.py) and benchmarks/near_dup_quality.py. Each takes an
RGB picture and a random generator (its parameters) and returns the changed picture and the JPEG
quality to save it at."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps


def _font(size: int):
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


WORDS = "breaking train dandong station empty cars loaded tarpaulin border photo shared".split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def jpeg(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def t_resize(img, rng):
    scale = rng.uniform(0.25, 0.6)
    return img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS), 85


def t_recompress(img, rng):
    return img, rng.randint(20, 45)


def t_greyscale(img, rng):
    return img.convert("L").convert("RGB"), 85


def t_filter(img, rng):
    choice = rng.randrange(4)
    if choice == 0:
        out = ImageEnhance.Contrast(ImageEnhance.Color(img).enhance(1.6)).enhance(1.2)
    elif choice == 1:  # warm tint
        r, g, b = img.split()
        out = Image.merge(
            "RGB", (r.point(lambda v: min(255, v * 1.15 + 10)), g, b.point(lambda v: v * 0.8))
        )
    elif choice == 2:  # faded
        out = ImageEnhance.Contrast(img).enhance(0.6)
        out = Image.blend(out, Image.new("RGB", img.size, (230, 220, 200)), 0.15)
    else:
        out = ImageEnhance.Brightness(ImageEnhance.Contrast(img).enhance(1.5)).enhance(0.9)
    return out, 85


def t_mirror(img, rng):
    return ImageOps.mirror(img), 85


def t_borders(img, rng):
    colour = rng.choice([(0, 0, 0), (255, 255, 255), (24, 24, 24)])
    if rng.random() < 0.5:  # letterbox or pillarbox to a square or 9:16 frame
        ratio = rng.choice([1.0, 9 / 16, 16 / 9])
        width, height = img.size
        if width / height > ratio:
            canvas = Image.new("RGB", (width, round(width / ratio)), colour)
        else:
            canvas = Image.new("RGB", (round(height * ratio), height), colour)
        canvas.paste(img, ((canvas.width - width) // 2, (canvas.height - height) // 2))
        return canvas, 85
    pad = rng.uniform(0.04, 0.12)
    border = round(max(img.size) * pad)
    return ImageOps.expand(img, border=border, fill=colour), 85


def t_caption(img, rng):
    bar = round(img.height * rng.uniform(0.14, 0.24))
    canvas = Image.new("RGB", (img.width, img.height + bar), (255, 255, 255))
    top = rng.random() < 0.7
    canvas.paste(img, (0, bar if top else 0))
    draw = ImageDraw.Draw(canvas)
    font = _font(max(12, bar // 4))
    y0 = 0 if top else img.height
    draw.text((img.width // 20, y0 + bar // 6), _text(rng, 5), fill=(0, 0, 0), font=font)
    draw.text((img.width // 20, y0 + bar // 2), _text(rng, 4), fill=(0, 0, 0), font=font)
    return canvas, 85


def t_screenshot(img, rng):
    dark = rng.random() < 0.5
    bg, fg = ((0, 0, 0), (240, 240, 240)) if dark else ((255, 255, 255), (20, 20, 20))
    width, height = 1080, rng.choice([1920, 2340, 2400])
    canvas = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(canvas)
    font = _font(36)
    draw.text((40, 20), f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}", fill=fg, font=font)
    for i in range(3):  # signal, wifi, battery
        draw.rectangle((width - 200 + i * 55, 28, width - 165 + i * 55, 58), fill=fg)
    draw.ellipse((30, 110, 110, 190), fill=(120, 140, 200))
    draw.text((130, 130), "@" + rng.choice(WORDS) + str(rng.randint(1, 99)), fill=fg, font=font)
    margin = rng.choice([0, 0, 24])
    shown_width = width - 2 * margin
    shown = img.resize((shown_width, round(img.height * shown_width / img.width)), Image.LANCZOS)
    top = 230
    canvas.paste(shown, (margin, top))
    y = top + shown.height + 30
    for i in range(4):
        draw.ellipse((40 + i * 120, y, 100 + i * 120, y + 60), outline=fg, width=4)
    draw.text((40, y + 100), _text(rng, 6), fill=fg, font=font)
    draw.text((40, y + 150), _text(rng, 5), fill=fg, font=font)
    scale = rng.choice([1.0, 0.5, 0.6667])
    canvas = canvas.resize((round(width * scale), round(height * scale)), Image.LANCZOS)
    return canvas, rng.randint(70, 90)


def t_crop(img, rng):
    cut = rng.uniform(0.10, 0.15)
    width, height = img.size
    w, h = round(width * (1 - cut)), round(height * (1 - cut))
    x, y = rng.randint(0, width - w), rng.randint(0, height - h)
    return img.crop((x, y, x + w, y + h)), 85


def t_rotate(img, rng):
    return img.rotate(rng.choice([-3, 3]), resample=Image.BICUBIC, expand=False), 85


TRANSFORMS = {
    "resize": t_resize,
    "recompress": t_recompress,
    "greyscale": t_greyscale,
    "colour filter": t_filter,
    "mirror": t_mirror,
    "borders": t_borders,
    "caption bar": t_caption,
    "screenshot": t_screenshot,
    "crop 10–15 %": t_crop,
    "rotate 3°": t_rotate,
}
