"""Metadata of an image: the complete EXIF (with GPS and XMP) as JSON-safe data, and the
normalised fields (camera, lens, software, date taken with its offset, GPS position). No ORM
here."""

from __future__ import annotations

import math
import re
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import ExifTags, Image, TiffImagePlugin

from evidence.imaging.descriptive import read_descriptive, xmp_packets

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
    descriptive = read_descriptive(image, exif_ifd0=ifd0)
    taken_at, offset, source = capture_time(
        sub=sub, gps=gps, descriptive=descriptive, make=metadata["camera_make"]
    )
    metadata["taken_at"] = taken_at
    metadata["taken_at_offset"] = offset
    metadata["taken_at_source"] = source
    metadata["camera_date"] = bool(sub.get(0x9003) or sub.get(0x9004))
    latitude, longitude, altitude = _gps(gps)
    if latitude is None and xmp:
        latitude, longitude = _xmp_gps(xmp)
    metadata["gps_latitude"] = latitude
    metadata["gps_longitude"] = longitude
    metadata["gps_altitude"] = altitude
    metadata["creator_tools"] = descriptive.pop("creator_tools")
    for name in ("xmp_dates", "iptc_date"):
        descriptive.pop(name)
    metadata.update(descriptive)
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


class TakenAtSource:
    """Which field a photo's capture time came from (`Photo.taken_at_source`). The modify date
    (EXIF DateTime) is never one: it is when the file was last written, not when the picture
    was taken. A maker note's date is read only where its layout is known and self-contained
    (`maker_note_datetime`), and only when no standard field has one."""

    DATE_TIME_ORIGINAL = "DateTimeOriginal"
    CREATE_DATE = "CreateDate"
    GPS = "GPS time"
    XMP = "XMP"
    IPTC = "IPTC"
    MAKER_NOTE = "maker note"


def capture_time(
    *, sub: dict, gps: dict, descriptive: dict, make: str = ""
) -> tuple[datetime | None, str, str]:
    """When the photo was taken, its UTC offset ("" when the file recorded none: then the
    datetime is the camera's local wall-clock time, labelled UTC only because the database
    stores aware datetimes; see `capture_time_text`) and the field it came from."""
    for tag, offset_tag, source in (
        (0x9003, 0x9011, TakenAtSource.DATE_TIME_ORIGINAL),
        (0x9004, 0x9012, TakenAtSource.CREATE_DATE),
    ):
        taken_at, offset = _exif_datetime(sub.get(tag), sub.get(offset_tag))
        if taken_at:
            return taken_at, offset, source
    taken_at = _gps_datetime(gps)
    if taken_at:
        return taken_at, "+00:00", TakenAtSource.GPS
    for texts, source in (
        (descriptive.get("xmp_dates", []), TakenAtSource.XMP),
        ([descriptive.get("iptc_date", "")], TakenAtSource.IPTC),
    ):
        for text in texts:
            taken_at, offset = _iso_datetime(text)
            if taken_at:
                return taken_at, offset, source
    taken_at = maker_note_datetime(sub.get(0x927C), make=make)
    if taken_at:
        return taken_at, "", TakenAtSource.MAKER_NOTE
    return None, "", ""


def maker_note_datetime(note, *, make: str) -> datetime | None:
    """The capture time a camera's maker note records, where its layout is documented and
    holds the date in the entry itself (no offsets into the file that a re-save may move):
    Pentax's ("AOC" header, Date 0x0006 = year (2 bytes), month, day; Time 0x0007 = hour,
    minute, second), as exiftool reads them. A local time: maker notes record no offset. Other
    makers (Canon, Nikon, Sony, Fujifilm, Panasonic…) keep no capture date there, or keep it
    in structures read reliably only by exiftool's per-model tables: None."""
    if not isinstance(note, bytes) or not make.upper().startswith(("PENTAX", "ASAHI")):
        return None
    if note[:4] != b"AOC\x00" or note[4:6] not in (b"MM", b"II") or len(note) < 8:
        return None
    order = ">" if note[4:6] == b"MM" else "<"
    count = struct.unpack(order + "H", note[6:8])[0]
    values = {}
    for index in range(min(count, 512)):
        start = 8 + index * 12
        entry = note[start : start + 12]
        if len(entry) < 12:
            break
        tag, kind, number = struct.unpack(order + "HHI", entry[:8])
        if tag in (0x0006, 0x0007) and kind == 7 and number == (4 if tag == 0x0006 else 3):
            values[tag] = entry[8 : 8 + number]
    if set(values) != {0x0006, 0x0007}:
        return None
    date, clock = values[0x0006], values[0x0007]
    year = int.from_bytes(date[:2], "big")  # big-endian whatever the note's byte order
    try:
        return datetime(year, date[2], date[3], clock[0], clock[1], min(clock[2], 59), tzinfo=UTC)
    except ValueError:
        return None


def capture_time_text(taken_at: datetime | None, offset: str) -> str | None:
    """The capture time as ISO 8601 text, as the file recorded it: with its offset when there
    was one ("2024-05-14T09:30:00+08:00"), else a local time without any ("2024-05-14T09:30:00",
    never a "Z" the camera did not write)."""
    if taken_at is None:
        return None
    if offset:
        found = OFFSET.match(offset)
        if found:
            sign, hours, minutes = found.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes))
            return taken_at.astimezone(timezone(delta if sign == "+" else -delta)).isoformat()
    return taken_at.astimezone(UTC).replace(tzinfo=None).isoformat()


def _gps_datetime(gps: dict) -> datetime | None:
    """GPSDateStamp and GPSTimeStamp: a UTC instant."""
    date = _json_value(gps.get(0x1D))
    stamp = gps.get(0x07)
    if not isinstance(date, str) or not isinstance(stamp, tuple | list) or len(stamp) != 3:
        return None
    found = re.match(r"^\s*(\d{4}):(\d{2}):(\d{2})", date)
    numbers = [_number(part) for part in stamp]
    if not found or any(n is None for n in numbers):
        return None
    hours, minutes, seconds = numbers
    try:
        day = datetime(*(int(g) for g in found.groups()), tzinfo=UTC)
        return day + timedelta(hours=hours, minutes=minutes, seconds=int(seconds))
    except (ValueError, OverflowError):
        return None


ISO_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})([+-]\d{2}:\d{2})?$")


def _iso_datetime(text: str) -> tuple[datetime | None, str]:
    found = ISO_DATETIME.match(text or "")
    if not found:
        return None, ""
    *parts, offset = found.groups()
    date = ":".join(parts[:3]) + " " + ":".join(parts[3:])
    return _exif_datetime(date, offset or None)


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
    packets = xmp_packets(image)
    return packets[0].replace("\x00", "")[:65536] if packets else ""


XMP_GPS = re.compile(
    r"exif:GPS(Latitude|Longitude)\s*=\s*\"(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])\""
)


def _xmp_gps(xmp: str) -> tuple[float | None, float | None]:
    found = {}
    for axis, degrees, minutes, seconds, ref in XMP_GPS.findall(xmp):
        value = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
        found[axis] = -value if ref in "SW" else value
    if "Latitude" in found and "Longitude" in found:
        return round(found["Latitude"], 8), round(found["Longitude"], 8)
    return None, None
