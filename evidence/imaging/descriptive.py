"""What the people who handled a photo wrote into it: the IPTC (IIM) record and the XMP packet
(extended XMP included), normalised beside EXIF the way the Metadata Working Group's guidelines
reconcile them (exiftool's `-use MWG` does the same, which is what tests/evidence/
test_exiftool_match.py checks against):

- caption, creator and copyright: EXIF (ImageDescription, Artist, Copyright) first, then XMP,
  then IPTC; keywords, city, sublocation, country, credit and date created: XMP, then IPTC —
  except that IPTC wins when the file's IPTC digest shows that the IPTC was changed after the
  XMP was written (a non-MWG tool edited it);
- the XMP history of editing tools (xmpMM:History) and the XMP creator tool.

No ORM here. Nothing raises: a broken packet yields what can be read.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - only the type; parsing is defused

from defusedxml import ElementTree as SafeET
from PIL import Image, IptcImagePlugin

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DC = "http://purl.org/dc/elements/1.1/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
XMP = "http://ns.adobe.com/xap/1.0/"
XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
ST_EVT = "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
EXIF_NS = "http://ns.adobe.com/exif/1.0/"

# IPTC IIM datasets of the application record (2:…).
IIM = {
    "caption": (2, 120),
    "creator": (2, 80),
    "credit": (2, 110),
    "copyright": (2, 116),
    "city": (2, 90),
    "sublocation": (2, 92),
    "country": (2, 101),
    "keywords": (2, 25),
    "date": (2, 55),
    "time": (2, 60),
}
IIM_LISTS = {"creator", "keywords"}
MAX_TEXT = 2000
MAX_ITEMS = 64
MAX_XMP = 1024 * 1024

# What a photo keeps of them (`Photo` has a field of each name).
DESCRIBED_FIELDS = (
    "caption",
    "creator",
    "credit",
    "copyright",
    "date_created",
    "city",
    "sublocation",
    "country",
    "keywords",
    "editing_history",
)


def read_descriptive(image: Image.Image, *, exif_ifd0: dict) -> dict[str, Any]:
    """The normalised descriptive fields: caption, creator (a list), credit, copyright,
    date_created (ISO 8601 text as written: a date, or a date-time with its offset when one
    was given), city, sublocation, country, keywords (a list), editing_history (a list of
    {action, when, software, changed}) and creator_tools (every tool the XMP names)."""
    iptc, iptc_state = _iptc(image)
    xmp = xmp_properties(xmp_packets(image))
    exif = {
        "caption": _text(exif_ifd0.get(0x010E)),
        "creator": [p.strip() for p in _text(exif_ifd0.get(0x013B)).split(";") if p.strip()],
        "copyright": _text(_first_part(exif_ifd0.get(0x8298))),
    }

    def pick(name: str, *, with_exif: bool = False):
        if with_exif and exif.get(name):
            return exif[name]
        if iptc_state == "mismatch" and iptc.get(name):
            return iptc[name]
        return xmp.get(name) or iptc.get(name) or ([] if name in IIM_LISTS else "")

    iptc_date = _iptc_date(iptc.get("date", ""), iptc.get("time", ""))
    if iptc_date:
        iptc["date_created"] = iptc_date
    return {
        "caption": pick("caption", with_exif=True),
        "creator": pick("creator", with_exif=True),
        "credit": pick("credit"),
        "copyright": pick("copyright", with_exif=True),
        "date_created": pick("date_created"),
        "city": pick("city"),
        "sublocation": pick("sublocation"),
        "country": pick("country"),
        "keywords": pick("keywords"),
        "editing_history": xmp.get("editing_history", []),
        "creator_tools": xmp.get("creator_tools", []),
        # For the capture time: the XMP dates that carry a time (the caller decides).
        "xmp_dates": [d for d in xmp.get("dates", []) if "T" in d],
        "iptc_date": iptc_date,
    }


def _text(value) -> str:
    if isinstance(value, bytes):
        value = _decode(value)
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:MAX_TEXT]


def _first_part(value):
    # EXIF Copyright: "photographer\0editor"; the photographer's part is the notice.
    if isinstance(value, bytes):
        value = _decode(value)
    return value.split("\x00")[0] if isinstance(value, str) else value


def _decode(raw: bytes, utf8: bool | None = None) -> str:
    if utf8 is not False:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    # IIM without a declared character set is, by convention (and for exiftool), Latin.
    return raw.decode("cp1252", "replace")


# --- IPTC ------------------------------------------------------------------------------------


def _iptc(image: Image.Image) -> tuple[dict[str, Any], str]:
    """The IIM fields, and whether the file's IPTC digest says the IPTC is in step with the XMP
    ("match"), was changed after it ("mismatch") or cannot tell ("missing")."""
    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception:  # noqa: BLE001 - a damaged IIM block leaves the rest of the photo
        info = {}
    charset = info.get((1, 90), b"")
    utf8 = True if isinstance(charset, bytes) and b"\x1b%G" in charset else None
    fields: dict[str, Any] = {}
    for name, key in IIM.items():
        value = info.get(key)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        texts = [t for t in (_text(_decode(v, utf8)) for v in values[:MAX_ITEMS]) if t]
        if texts:
            fields[name] = texts if name in IIM_LISTS else texts[0]
    state = "missing"
    resources = image.info.get("photoshop") if isinstance(image.info, dict) else None
    if isinstance(resources, dict) and resources.get(0x0425) and resources.get(0x0404):
        digest = hashlib.md5(resources[0x0404], usedforsecurity=False).digest()
        state = "match" if digest == resources[0x0425][:16] else "mismatch"
    return fields, state


def _iptc_date(date: str, time: str) -> str:
    """IIM DateCreated (CCYYMMDD) and TimeCreated (HHMMSS±HHMM) as ISO 8601 text."""
    found = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", date.strip())
    if not found or found.group(1) == "0000":
        return ""
    text = "-".join(found.groups())
    clock = re.fullmatch(r"(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})(\d{2}))?", time.strip())
    if clock:
        hours, minutes, seconds, sign, off_h, off_m = clock.groups()
        text += f"T{hours}:{minutes}:{seconds}"
        if sign:
            text += f"{sign}{off_h}:{off_m}"
    return text


# --- XMP -------------------------------------------------------------------------------------


def xmp_packets(image: Image.Image) -> list[str]:
    """The XMP packet as text, then the extended XMP of a JPEG (reassembled from its chunks)."""
    packets = []
    raw = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if not raw and image.format == "TIFF":
        raw = getattr(image, "tag_v2", {}).get(700, b"")
    if raw:
        packets.append(_xmp_decode(raw))
    extended: dict[int, bytes] = {}
    signature = b"http://ns.adobe.com/xmp/extension/\x00"
    for marker, data in getattr(image, "applist", []):
        if marker == "APP1" and data.startswith(signature):
            chunk = data[len(signature) :]
            if len(chunk) >= 40:
                offset = int.from_bytes(chunk[36:40], "big")
                extended[offset] = chunk[40:]
    if extended:
        joined = b"".join(extended[k] for k in sorted(extended))[:MAX_XMP]
        packets.append(_xmp_decode(joined))
    return [p for p in packets if p]


def _xmp_decode(raw) -> str:
    if isinstance(raw, str):
        return raw[:MAX_XMP]
    raw = raw[:MAX_XMP]
    if raw.startswith((b"\xfe\xff", b"\x00<")):
        encoding = "utf-16-be"
    elif raw.startswith((b"\xff\xfe", b"<\x00")):
        encoding = "utf-16-le"
    else:
        encoding = "utf-8"
    return raw.decode(encoding, "replace").lstrip("\ufeff")


def _parse(packet: str) -> Element | None:
    # The xpacket processing instructions and anything around x:xmpmeta are not XML to parse.
    start = packet.find("<x:xmpmeta")
    if start < 0:
        start = packet.find("<rdf:RDF")
    end_tag = "</x:xmpmeta>" if packet.startswith("<x:xmpmeta", start) else "</rdf:RDF>"
    end = packet.rfind(end_tag)
    if start < 0 or end < 0:
        return None
    try:
        return SafeET.fromstring(packet[start : end + len(end_tag)])
    except Exception:  # noqa: BLE001 - a broken packet, or one defusedxml refuses
        return None


def xmp_properties(packets: list[str]) -> dict[str, Any]:
    """The XMP properties this module normalises, from every packet (the first one wins)."""
    found: dict[str, Any] = {"dates": [], "creator_tools": [], "editing_history": []}
    wanted = {
        "caption": (DC, "description"),
        "creator": (DC, "creator"),
        "copyright": (DC, "rights"),
        "keywords": (DC, "subject"),
        "credit": (PHOTOSHOP, "Credit"),
        "city": (PHOTOSHOP, "City"),
        "country": (PHOTOSHOP, "Country"),
        "sublocation": (IPTC_CORE, "Location"),
        "date_created": (PHOTOSHOP, "DateCreated"),
    }
    for packet in packets:
        root = _parse(packet)
        if root is None:
            continue
        descriptions = list(root.iter(f"{{{RDF}}}Description"))
        for name, (ns, local) in wanted.items():
            if found.get(name):
                continue
            value = _property(descriptions, ns, local)
            if name in IIM_LISTS:
                value = value if isinstance(value, list) else ([value] if value else [])
                value = [v for v in value if isinstance(v, str) and v][:MAX_ITEMS]
            elif isinstance(value, list):
                value = value[0] if value and isinstance(value[0], str) else ""
            if name == "date_created":
                value = _xmp_date(value)
            if value:
                found[name] = value
        for ns, local in ((EXIF_NS, "DateTimeOriginal"), (PHOTOSHOP, "DateCreated")):
            date = _xmp_date(_property(descriptions, ns, local))
            if date:
                found["dates"].append(date)
        tool = _property(descriptions, XMP, "CreatorTool")
        if isinstance(tool, str) and tool:
            found["creator_tools"].append(tool[:200])
        for event in _history(descriptions):
            found["editing_history"].append(event)
            if event["software"]:
                found["creator_tools"].append(event["software"])
    found["editing_history"] = found["editing_history"][:MAX_ITEMS]
    found["creator_tools"] = list(dict.fromkeys(found["creator_tools"]))[:MAX_ITEMS]
    return found


def _property(descriptions: list[Element], ns: str, local: str):
    """A property as an attribute or an element of any rdf:Description: text, or a list for
    an rdf:Seq/Bag, or the x-default (else first) entry of an rdf:Alt."""
    key = f"{{{ns}}}{local}"
    for description in descriptions:
        if key in description.attrib:
            return _clean(description.attrib[key])
        element = description.find(key)
        if element is not None:
            return _value(element)
    return ""


def _value(element: Element):
    for kind in ("Seq", "Bag"):
        container = element.find(f"{{{RDF}}}{kind}")
        if container is not None:
            return [_clean(li.text) for li in container.findall(f"{{{RDF}}}li") if li.text]
    alt = element.find(f"{{{RDF}}}Alt")
    if alt is not None:
        items = alt.findall(f"{{{RDF}}}li")
        chosen = next((li for li in items if li.get(XML_LANG) == "x-default"), None)
        chosen = chosen if chosen is not None else (items[0] if items else None)
        return _clean(chosen.text) if chosen is not None else ""
    return _clean(element.text)


def _clean(text) -> str:
    return text.replace("\x00", "").strip()[:MAX_TEXT] if isinstance(text, str) else ""


XMP_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _xmp_date(value) -> str:
    """An XMP date (ISO 8601, any precision) as ISO text to the second, offset kept."""
    if not isinstance(value, str):
        return ""
    found = XMP_DATE.match(value.strip())
    if not found or not found.group(3):
        return ""
    year, month, day, hour, minute, second, zone = found.groups()
    text = f"{year}-{month}-{day}"
    if hour:
        text += f"T{hour}:{minute}:{second or '00'}"
        if zone:
            text += "+00:00" if zone == "Z" else zone
    return text


def _history(descriptions: list[Element]) -> list[dict[str, str]]:
    events = []
    for description in descriptions:
        history = description.find(f"{{{XMP_MM}}}History")
        seq = history.find(f"{{{RDF}}}Seq") if history is not None else None
        if seq is None:
            continue
        for li in seq.findall(f"{{{RDF}}}li")[:MAX_ITEMS]:
            # An event's fields are attributes of the li, of a nested rdf:Description, or
            # elements (rdf:parseType="Resource").
            holders = [li, *li.findall(f"{{{RDF}}}Description")]

            def field(name: str, holders=holders) -> str:
                key = f"{{{ST_EVT}}}{name}"
                for holder in holders:
                    if key in holder.attrib:
                        return _clean(holder.attrib[key])[:200]
                    child = holder.find(key)
                    if child is not None:
                        return _clean(child.text)[:200]
                return ""

            event = {
                "action": field("action"),
                "when": _xmp_date(field("when")) or field("when"),
                "software": field("softwareAgent"),
                "changed": field("changed"),
            }
            if any(event.values()):
                events.append(event)
    return events
