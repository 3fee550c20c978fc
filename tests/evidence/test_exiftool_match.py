"""Every normalised field, on every file of tests/fixtures/exiftool/, equals what exiftool says.

The files: the 40 camera JPEGs of exiftool's own test set (`t/images/*.jpg` of Debian's
`libimage-exiftool-perl` 12.57 source package) and four made with Pillow and exiftool
(`made_*.jpg`: an EXIF offset, a GPS time, an XMP editing history, UTF-8 IPTC in Korean and
Chinese). `exiftool.json` is exiftool's output over them, so CI needs no exiftool:

    cd tests/fixtures/exiftool && exiftool -j -n -G -use MWG -charset iptc=utf8 \\
        -x File:FileModifyDate -x File:FileAccessDate -x File:FileInodeChangeDate \\
        -x File:FilePermissions -x File:Directory *.jpg > exiftool.json

Caption, creator, copyright, keywords, city, sublocation and country are exiftool's MWG
composites (the reconciliation `evidence.imaging.descriptive` implements); credit and date
created follow the same rule from exiftool's XMP and IPTC tags; the capture time follows
`TakenAtSource`'s order over exiftool's EXIF, GPS, XMP and IPTC tags.
"""

import json
from pathlib import Path

import pytest
from PIL import Image

from evidence.imaging.metadata import capture_time_text, read_metadata
from evidence.imaging.mpf import embedded_images

FIXTURES = Path(__file__).parent.parent / "fixtures" / "exiftool"
EXIFTOOL = {
    entry["SourceFile"]: entry for entry in json.loads((FIXTURES / "exiftool.json").read_text())
}
MPF_TYPES = {
    0x010001: "Large Thumbnail (VGA Equivalent)",
    0x010002: "Large Thumbnail (Full HD Equivalent)",
    0x020001: "Multi-Frame Image (Panorama)",
    0x020002: "Multi-Frame Image: (Disparity)",
    0x020003: "Multi-Frame Image: (Multi-Angle)",
    0x030000: "Baseline MP Primary Image",
    0: "Undefined",
}


def _text(value) -> str:
    return str(value).strip() if value is not None else ""


def _list(value) -> list[str]:
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [str(v).strip() for v in values if str(v).strip()]


def _iso(value: str) -> str:
    """exiftool's "2004:02:26 09:30:00.311+01:00" as ISO text to the second."""
    value = _text(value)
    if not value:
        return ""
    date, _, rest = value.partition(" ")
    text = date.replace(":", "-")
    if rest:
        clock = rest[:8]
        zone = rest[8:].lstrip(".0123456789")
        text += f"T{clock}" + ("+00:00" if zone == "Z" else zone)
    return text


def _mwg(entry: dict, xmp, iptc) -> str:
    """XMP, then IPTC; IPTC first when its digest shows it changed after the XMP."""
    stored, current = entry.get("Photoshop:IPTCDigest"), entry.get("File:CurrentIPTCDigest")
    changed = stored is not None and current is not None and stored != current
    values = [iptc, xmp] if changed else [xmp, iptc]
    return next((_text(v) for v in values if _text(v)), "")


def _capture(entry: dict) -> tuple[str | None, str]:
    for tag, offset, source in (
        ("EXIF:DateTimeOriginal", "EXIF:OffsetTimeOriginal", "DateTimeOriginal"),
        ("EXIF:CreateDate", "EXIF:OffsetTimeDigitized", "CreateDate"),
    ):
        if _text(entry.get(tag)):
            return _iso(entry[tag] + _text(entry.get(offset))), source
    if _text(entry.get("EXIF:GPSDateStamp")) and _text(entry.get("EXIF:GPSTimeStamp")):
        stamp = f"{entry['EXIF:GPSDateStamp']} {entry['EXIF:GPSTimeStamp']}"
        return _iso(stamp[:19]) + "+00:00", "GPS time"
    for tags, source in (
        (("XMP:DateTimeOriginal", "XMP:DateCreated"), "XMP"),
        (("IPTC:DateCreated",), "IPTC"),
    ):
        for tag in tags:
            value = _text(entry.get(tag))
            if tag == "IPTC:DateCreated" and value and entry.get("IPTC:TimeCreated"):
                value += " " + entry["IPTC:TimeCreated"]
            if " " in value:
                return _iso(value), source
    # A Pentax maker note's Date and Time, last (evidence.imaging.metadata.maker_note_datetime).
    if _text(entry.get("EXIF:Make")).upper().startswith(("PENTAX", "ASAHI")):
        if _text(entry.get("MakerNotes:Date")) and _text(entry.get("MakerNotes:Time")):
            return _iso(f"{entry['MakerNotes:Date']} {entry['MakerNotes:Time']}"), "maker note"
    return None, ""


def _expected(entry: dict) -> dict:
    iptc_date = _text(entry.get("IPTC:DateCreated"))
    if iptc_date and entry.get("IPTC:TimeCreated"):
        iptc_date += " " + entry["IPTC:TimeCreated"]
    date_created = _iso(_mwg(entry, entry.get("XMP:DateCreated"), iptc_date))
    taken_at, source = _capture(entry)
    return {
        "caption": _text(entry.get("Composite:Description")),
        "creator": _list(entry.get("Composite:Creator")),
        "copyright": _text(entry.get("Composite:Copyright")),
        "keywords": _list(entry.get("Composite:Keywords")),
        "city": _text(entry.get("Composite:City")),
        "sublocation": _text(entry.get("Composite:Location")),
        "country": _text(entry.get("Composite:Country")),
        "credit": _mwg(entry, entry.get("XMP:Credit"), entry.get("IPTC:Credit")),
        "date_created": date_created,
        "taken_at": taken_at,
        "taken_at_source": source,
        "camera_make": _text(entry.get("EXIF:Make")),
        "camera_model": _text(entry.get("EXIF:Model")),
        # An empty GPS block (InfiRay's) is no position.
        "gps_latitude": entry.get("Composite:GPSLatitude") or None,
        "gps_longitude": entry.get("Composite:GPSLongitude") or None,
        "history_actions": _list(entry.get("XMP:HistoryAction")),
        "history_software": _list(entry.get("XMP:HistorySoftwareAgent")),
        "history_when": [_iso(v) for v in _list(entry.get("XMP:HistoryWhen"))],
        "history_changed": _list(entry.get("XMP:HistoryChanged")),
    }


def _ours(path: Path) -> dict:
    with Image.open(path) as image:
        _, metadata = read_metadata(image)
    history = metadata["editing_history"]
    latitude, longitude = metadata["gps_latitude"], metadata["gps_longitude"]
    return {
        **{name: metadata[name] for name in ("caption", "creator", "copyright", "keywords")},
        **{name: metadata[name] for name in ("city", "sublocation", "country", "credit")},
        "date_created": metadata["date_created"],
        "taken_at": capture_time_text(metadata["taken_at"], metadata["taken_at_offset"]),
        "taken_at_source": metadata["taken_at_source"],
        "camera_make": metadata["camera_make"],
        "camera_model": metadata["camera_model"],
        "gps_latitude": None if latitude is None else round(latitude, 6),
        "gps_longitude": None if longitude is None else round(longitude, 6),
        "history_actions": [e["action"] for e in history if e["action"]],
        "history_software": [e["software"] for e in history if e["software"]],
        "history_when": [e["when"] for e in history if e["when"]],
        "history_changed": [e["changed"] for e in history if e["changed"]],
    }


def test_the_fixture_holds_the_forty_camera_jpegs_and_ours():
    made = {name for name in EXIFTOOL if name.startswith("made_")}
    assert len(EXIFTOOL) - len(made) == 40
    assert len(made) == 4
    assert {p.name for p in FIXTURES.glob("*.jpg")} == set(EXIFTOOL)


@pytest.mark.parametrize("name", sorted(EXIFTOOL))
def test_every_normalised_field_equals_exiftool(name):
    expected = _expected(EXIFTOOL[name])
    for axis in ("gps_latitude", "gps_longitude"):
        if expected[axis] is not None:
            expected[axis] = round(expected[axis], 6)
    assert _ours(FIXTURES / name) == expected


@pytest.mark.parametrize("name", sorted(n for n in EXIFTOOL if "MPF:NumberOfImages" in EXIFTOOL[n]))
def test_mpf_images_are_listed_as_exiftool_lists_them(name):
    entry = EXIFTOOL[name]
    path = FIXTURES / name
    with Image.open(path) as image, path.open("rb") as file:
        found = embedded_images(image, file)
    # Without -a exiftool keeps the last entry's values: compare those.
    assert len(found) == entry["MPF:NumberOfImages"] - 1
    last = found[-1]
    assert last["size"] == entry["MPF:MPImageLength"]
    assert last["offset"] == entry["MPF:MPImageStart"]
    assert last["kind"] == MPF_TYPES[entry["MPF:MPImageType"]]
    # exiftool's sample is cut short: its preview lies past the end of the file.
    assert last["missing"] is (last["offset"] + last["size"] > path.stat().st_size)


def test_names_of_the_values_that_matter_in_the_running_example():
    ours = _ours(FIXTURES / "made_utf8_iptc.jpg")
    assert ours["caption"] == "단동역의 화물열차"
    assert ours["city"] == "丹东"
    assert ours["taken_at"] == "2024-05-25T10:40:00+08:00"
    assert ours["taken_at_source"] == "IPTC"
    # The modify date is never the capture date; a GPS time is UTC and says so.
    gps = _ours(FIXTURES / "made_gps_time.jpg")
    assert (gps["taken_at"], gps["taken_at_source"]) == ("2024-05-25T01:40:00+00:00", "GPS time")
    # A camera without an offset gives a local time, never a "Z" it did not write.
    canon = _ours(FIXTURES / "Canon.jpg")
    assert canon["taken_at"] == "2003-12-04T06:46:52"
    assert _ours(FIXTURES / "PhotoMechanic.jpg")["taken_at"] == "2006-10-29T06:27:51-05:00"
