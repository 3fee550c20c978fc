"""The running example's world: its people, places and the train photos they took."""

import io
from datetime import datetime, timedelta, timezone

from PIL import Image, ImageDraw, ImageFilter
from PIL.ExifTags import IFD

from cases.models import Role

CASE_TITLE = "The Dandong freight train"
PASSWORD = "casefile-demo"  # noqa: S105 -- the demo logins are public by design
USERS = [
    ("olivia", "Olivia", "Owner", Role.OWNER),
    ("edgar", "Edgar", "Editor", Role.EDITOR),
    ("rita", "Rita", "Reporter", Role.REPORTER),
    ("victor", "Victor", "Viewer", Role.VIEWER),
]
# Someone with an account who is not in the case: sees nothing of it.
OUTSIDER = ("nora", "Nora", "Outsider")

CHINA = timezone(timedelta(hours=8))
DANDONG = ("Dandong station, Liaoning, China", 40.1194, 124.3862)
LONGKOU = ("Longkou port, Shandong, China", 37.6541, 120.3005)
NAMPO = ("Nampo port, North Korea", 38.7342, 125.3967)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def train_photo(*, loaded: bool, taken: datetime, place: tuple[str, float, float]) -> bytes:
    """A freight train at a platform, its cars loaded under blue tarpaulins or empty, with the
    EXIF a camera would write: date taken and offset, make and model, GPS."""
    width, height = 1600, 1067
    image = Image.new("RGB", (width, height), (176, 196, 214))
    draw = ImageDraw.Draw(image)
    for y in range(0, 560):  # a hazy sky, lighter near the horizon
        shade = 150 + y // 8
        draw.line([(0, y), (width, y)], fill=(shade, shade + 18, min(255, shade + 40)))
    draw.rectangle([0, 560, width, height], fill=(118, 112, 100))  # ballast and platform
    draw.polygon([(0, 900), (width, 860), (width, height), (0, height)], fill=(150, 146, 138))
    for x in range(40, width, 220):  # station lamps
        draw.rectangle([x, 300, x + 8, 700], fill=(70, 70, 74))
        draw.rectangle([x - 12, 292, x + 20, 304], fill=(230, 226, 190))
    for rail_y in (770, 800):
        draw.line([(0, rail_y), (width, rail_y)], fill=(60, 58, 56), width=6)
    for x in range(0, width, 28):
        draw.rectangle([x, 764, x + 12, 808], fill=(84, 70, 58))
    # Locomotive, with its markings.
    draw.rectangle([40, 540, 320, 760], fill=(32, 86, 64))
    draw.rectangle([60, 560, 150, 620], fill=(190, 210, 220))
    draw.text((170, 600), "SOPO", fill=(240, 220, 120))
    draw.text((170, 640), "DANDONG", fill=(240, 220, 120))
    # Freight cars.
    for i in range(5):
        x0 = 340 + i * 250
        draw.rectangle([x0, 620, x0 + 235, 760], fill=(96, 60, 44))
        draw.rectangle([x0, 620, x0 + 235, 632], fill=(70, 44, 32))
        if loaded:
            draw.rounded_rectangle([x0 + 6, 520, x0 + 229, 630], radius=28, fill=(32, 78, 168))
            for rope in range(x0 + 30, x0 + 229, 48):
                draw.line([(rope, 528), (rope, 628)], fill=(210, 210, 200), width=3)
        for wheel in (x0 + 40, x0 + 195):
            draw.ellipse([wheel - 22, 742, wheel + 22, 786], fill=(30, 30, 30))
    image = image.filter(ImageFilter.GaussianBlur(0.6))

    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    exif[0x0131] = "Firmware Version 1.2.1"  # Software
    exif[0x0112] = 1  # Orientation
    exif_ifd = exif.get_ifd(IFD.Exif)
    exif_ifd[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    exif_ifd[0x9011] = "+08:00"  # OffsetTimeOriginal
    _, latitude, longitude = place
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1] = "N" if latitude >= 0 else "S"
    gps[2] = _dms(latitude)
    gps[3] = "E" if longitude >= 0 else "W"
    gps[4] = _dms(longitude)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88, exif=exif)
    return buffer.getvalue()
