"""What the pages show of a model: display values, labels, rows and card contexts, and the
template filters' formatting (web/templatetags registers them). What a reader may see is
decided by `evidence.reader`; these functions ask it, and only format.
"""

import re
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlsplit

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince

from evidence import custody
from evidence.bundle import report
from evidence.imaging.credentials import credentials_text
from evidence.imaging.flags import haversine_km
from evidence.models import Evidence, Photo
from evidence.reader import Reader
from evidence.selectors import sources_of

CLAIM_COLUMNS = [
    ("draft", "Draft"),
    ("in_review", "In review"),
    ("supported", "Supported"),
    ("contradicted", "Contradicted"),
    ("unverified", "Unverified"),
]
DOCUMENT_LABELS = {
    "application/pdf": "PDF",
    "text/plain": "Text",
    "application/rtf": "RTF",
    "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.ms-excel": "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.ms-powerpoint": "PowerPoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "OpenDocument",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument",
}


# How often a photo still being processed (its card, its page) asks for its status (htmx
# polling): every POLL_SECONDS at first, then less and less often, up to POLL_MAX_SECONDS, as
# the wait grows (a tenth of the time waited so far).
POLL_SECONDS = 2
POLL_MAX_SECONDS = 30


def _waiting(photo: Photo | None) -> float | None:
    """Seconds a photo has been waiting for processing to end (None once ready or failed)."""
    if photo is None or photo.status not in (Photo.Status.PENDING, Photo.Status.PROCESSING):
        return None
    return (timezone.now() - photo.status_changed_at).total_seconds()


def polling_context(photo: Photo | None) -> dict:
    """Whether a photo's status is still worth asking for, how often, and whether it is late:
    waiting longer than a task may run, the same test by which `photo_reprocess` lets a
    reporter queue it again (Celery beat also re-queues it every few minutes)."""
    waited = _waiting(photo)
    if waited is None:
        return {"polling": False, "poll_seconds": None, "late": False}
    return {
        "polling": True,
        "poll_seconds": int(min(POLL_MAX_SECONDS, max(POLL_SECONDS, waited / 10))),
        "late": waited > settings.CASEFILE_STALE_AFTER_SECONDS,
    }


def card_context(evidence: Evidence, reader: Reader) -> dict:
    photo = evidence.photo_or_none
    video = evidence.video_or_none
    return {
        "e": evidence,
        "photo": photo,
        "video": video,
        "host": urlsplit(evidence.url).hostname if evidence.url else "",
        "doc_type": DOCUMENT_LABELS.get(evidence.content_type, ""),
        "source_name": reader.source_name(evidence.source) or "",
        **polling_context(photo or video),
    }


def camera_zone(photo: Photo | None):
    """The UTC offset the camera recorded, as a tzinfo, or None."""
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", (photo.taken_at_offset if photo else "") or "")
    if not match:
        return None
    sign = -1 if match[1] == "-" else 1
    return dt_timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def when(moment, zone, *, seconds: bool = False) -> str:
    """A moment as a reporter reads it: in the camera's offset when there is one, else in the
    reader's time zone (web.middleware; UTC by default), named."""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if zone is None:
        name = timezone.get_current_timezone_name()
        if name == "UTC":
            return f"{moment.astimezone(UTC):{pattern}} UTC"
        return f"{timezone.localtime(moment):{pattern}} ({name})"
    local = moment.astimezone(zone)
    offset = local.strftime("%z")  # "+0800"
    return f"{local:{pattern}} (UTC{offset[:3]}:{offset[3:]})"


def local_taken_at(photo: Photo) -> str:
    """The date taken as the camera's clock showed it, with the UTC offset it recorded."""
    zone = camera_zone(photo)
    if zone is None:
        # No offset recorded: taken_at holds the camera's local time read as UTC.
        return f"{photo.taken_at:%Y-%m-%d %H:%M:%S} (local time, no UTC offset recorded)"
    return when(photo.taken_at, zone, seconds=True)


def camera_label(photo: Photo) -> str | None:
    make, model = photo.camera_make.strip(), photo.camera_model.strip()
    if make and model.lower().startswith(make.lower()):
        return model  # "Canon" + "Canon EOS 5D Mark IV"
    return " ".join(x for x in (make, model) if x) or None


def stated_place(evidence: Evidence, exact: bool) -> str | None:
    """The stated place, unless it is a protected source's (hidden below editor, like the
    coordinates: a place names where the source was)."""
    if not evidence.place_name:
        return None
    return evidence.place_name if exact else "Recorded (hidden: the source is protected)"


HIDDEN = "Recorded (hidden: the source is protected)"


def metadata_rows(evidence: Evidence, photo: Photo | None, reader: Reader) -> list[tuple]:
    """The photo's metadata as label/value rows, in an order shared with the compare page, as
    `reader` may see them."""
    exact = reader.shows_place(evidence)
    zone = camera_zone(photo)
    observed = when(evidence.observed_at, zone) if evidence.observed_at else None
    rows = [
        ("Observed (stated)", observed),
        ("Place (stated)", stated_place(evidence, exact)),
    ]
    if photo is None:
        return rows
    taken = None
    if photo.taken_at:
        taken = local_taken_at(photo)
    camera = camera_label(photo)
    gps = None
    if photo.gps_latitude is not None and photo.gps_longitude is not None:
        gps = f"{photo.gps_latitude:.5f}, {photo.gps_longitude:.5f}" if exact else HIDDEN
        if exact and photo.gps_altitude is not None:
            gps += f" · {photo.gps_altitude:.0f} m"
    dims = f"{photo.width} × {photo.height} px" if photo.width and photo.height else None
    described = reader.photo_described(evidence, photo)

    def told(*fields: str, sep: str = "; ") -> str | None:
        """What the file says in `fields`, joined; HIDDEN where it says something withheld."""
        if any(described[f] is None for f in fields):
            return HIDDEN if any(getattr(photo, f) for f in fields) else None
        values = [v for f in fields for v in _as_list(described[f])]
        return sep.join(v for v in values if v and v.strip()) or None

    rows += [
        ("Date taken", taken),
        ("Date taken from", photo.taken_at_source or None),
        ("Camera", camera),
        ("Lens", photo.lens or None),
        ("GPS (EXIF)", gps),
        ("Software", photo.software or None),
        ("Dimensions", dims),
        ("Orientation", photo.orientation),
        ("Caption (IPTC/XMP)", told("caption")),
        ("Creator (IPTC/XMP)", told("creator")),
        ("Credit", told("credit")),
        ("Copyright", told("copyright")),
        ("Date created (IPTC/XMP)", photo.date_created or None),
        ("Place (IPTC/XMP)", told("sublocation", "city", "country", sep=", ")),
        ("Keywords", told("keywords", sep=", ")),
        ("Editing history (XMP)", _history_text(photo.editing_history)),
        ("Embedded images (MPF)", _embedded_text(photo.embedded_images)),
        ("Content Credentials", credentials_text(reader.credentials(evidence, photo)) or None),
    ]
    return rows


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _history_text(history: list[dict]) -> str | None:
    parts = [
        " ".join(x for x in (e.get("action"), e.get("software"), e.get("when")) if x)
        for e in history or []
    ]
    return "; ".join(p for p in parts if p) or None


def _embedded_text(images: list[dict]) -> str | None:
    parts = []
    for image in images or []:
        size = f"{image['width']} × {image['height']} px, " if image.get("width") else ""
        state = "not in this file" if image.get("missing") else f"SHA-256 {image['sha256'][:12]}…"
        parts.append(f"{image['kind']} ({size}{image['size']:,} bytes; {state})")
    return f"{len(parts)}: " + "; ".join(parts) if parts else None


def custody_history(*, evidence, reader: Reader, entries: list[dict] | None = None) -> list[dict]:
    """An item's custody record as rows for people, oldest first, sources named as the reader
    may see them: the table of the custody page, and the evidence page's History panel.
    `entries`: the record as `custody_entries` gave it, when the caller has it already."""
    if entries is None:
        entries = custody.custody_entries(evidence=evidence, reader=reader)
    return report.custody_rows(
        entries, source_names=reader.source_names(sources_of(case=evidence.case))
    )


def checkpoint_rows(*, evidence, entries: list[dict]) -> list[dict]:
    """The case's latest signed checkpoints as the custody page shows them, newest first."""
    return [
        {
            **checkpoint,
            "when": report.when_text(checkpoint["at"], seconds=True),
            "reason_label": "at an export" if checkpoint["reason"] == "export" else "scheduled",
            "timestamp_text": (
                f"timestamped by {checkpoint['trusted_timestamp']['tsa']} at "
                f"{report.when_text(checkpoint['trusted_timestamp']['at'], seconds=True)}, "
                f"serial {checkpoint['trusted_timestamp']['serial']}"
            )
            if checkpoint["trusted_timestamp"]
            else "no trusted timestamp",
        }
        for checkpoint in custody.custody_checkpoints(evidence=evidence, entries=entries)
    ]


# Activity verbs as a sentence fragment ("Rita added evidence").
VERBS = {
    "case.created": "created the case",
    "case.updated": "updated the case",
    "member.added": "added a member",
    "member.role_changed": "changed a member's role",
    "member.removed": "removed a member",
    "source.created": "added a source",
    "source.updated": "edited a source",
    "evidence.added": "added evidence",
    "evidence.received": "uploaded",
    "evidence.uploaded_again": "uploaded again",
    "evidence.updated": "edited evidence",
    "evidence.original_downloaded": "downloaded the original of",
    "photo.processed": "processed",
    "photo.failed": "could not process",
    "photo.hashed": "looked again for near-duplicates of",
    "photo.reprocess_requested": "asked to process again",
    "text.read": "read the text of",
    "link.created": "linked evidence to a claim",
    "link.updated": "changed a link",
    "link.removed": "removed a link",
    "comment.created": "commented",
    "comment.edited": "edited a comment",
    "claim.created": "wrote a claim",
    "claim.assigned": "assigned a claim",
    "evidence.assigned": "assigned evidence",
    "claim.updated": "edited a claim",
    "claim.submitted": "submitted for review",
    "claim.reviewed": "reviewed",
    "claim.reopened": "reopened for review (its evidence changed)",
    # Chain of custody (issue #6).
    "evidence.original_viewed": "viewed the original of",
    "evidence.deleted": "deleted",
    "evidence.purged": "purged the original of",
    "evidence.imported": "imported",
    "claim.imported": "imported",
    "case.imported": "imported the case",
    "source.revealed": "was shown the identity of",
    "export.requested": "asked for",
    "case.exported": "exported the case as",
    "export.downloaded": "downloaded",
    "export.failed": "could not write",
}


def verb_label(verb: str) -> str:
    if verb in VERBS:
        return VERBS[verb]
    return verb.replace(".", " ").replace("_", " ")


def ago(value: datetime | None) -> str:
    """Under a minute "just now" (Django's timesince says "0 minutes"), else "3 hours ago"."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


def filesize(value) -> str:
    return filesizeformat(value) if value is not None else ""


# Tesseract's language names, as a reader reads them and as HTML's lang attribute wants them.
LANGUAGE_NAMES = {
    "eng": ("English", "en"),
    "kor": ("Korean", "ko"),
    "chi_sim": ("Chinese (simplified)", "zh-Hans"),
    "chi_tra": ("Chinese (traditional)", "zh-Hant"),
    "rus": ("Russian", "ru"),
    "ukr": ("Ukrainian", "uk"),
    "ara": ("Arabic", "ar"),
    "jpn": ("Japanese", "ja"),
}


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", (code or "", ""))[0]


def text_context(evidence: Evidence, reader: Reader) -> dict:
    """The text read in an item for its page (`Reader.text_read`: a document's text only for
    editors and owners): the text, its language, and the word boxes to draw over the preview."""
    fields = reader.text_read(evidence)
    if fields["ocr_status"] is None:
        return {"text": None}
    words = [
        {
            "text": w["text"],
            "box": " ".join(f"{v:.4f}" for v in w["box"]),
            "label": f"{language_name(w['language'])} · {w['confidence']}%",
            "lang": LANGUAGE_NAMES.get(w["language"], ("", ""))[1],
        }
        for w in (fields["ocr_words"] or [])
        if w.get("page") is None  # a PDF page's boxes have no preview to be drawn on
    ]
    return {
        "text": {
            **fields,
            "shown": reader.shows_text(evidence),
            "language_name": language_name(fields["ocr_language"]),
            "lang": LANGUAGE_NAMES.get(fields["ocr_language"] or "", ("", ""))[1],
            "languages": evidence.text_reading.languages,
            "pages": evidence.text_reading.pages,
            "polling": fields["ocr_status"] in ("pending", "processing"),
        },
        "text_words": words,
    }


def place_pair(evidence: Evidence, reader: Reader) -> dict | None:
    """The item's stated place and its camera's GPS position, with the distance between them,
    for the map's joining line; None unless it has both and the reader may see its place."""
    photo = evidence.photo_or_none
    if (
        photo is None
        or evidence.latitude is None
        or photo.gps_latitude is None
        or not reader.shows_place(evidence)
    ):
        return None
    stated = (evidence.latitude, evidence.longitude)
    camera = (photo.gps_latitude, photo.gps_longitude)
    return {
        "id": evidence.pk,
        "title": evidence.label,
        "stated": list(stated),
        "camera": list(camera),
        "km": round(haversine_km(stated, camera), 1),
    }
