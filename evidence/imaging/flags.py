"""Consistency flags: what a photo's metadata says against what the reporter said (date and
place), editing software, data after the image, no camera metadata, Content Credentials that
say a generative AI tool made the picture or that fail validation. Pure: the flag codes are
defined here (`PhotoFlag.Code` takes its values from them) and `evidence.services.photos` keeps
the PhotoFlag rows in step."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any


class Code:
    """The flag codes, the values of `PhotoFlag.Code`."""

    DATE_MISMATCH = "date_mismatch"
    PLACE_MISMATCH = "place_mismatch"
    EDITING_SOFTWARE = "editing_software"
    NO_CAMERA_METADATA = "no_camera_metadata"
    DUPLICATE_OTHER_SOURCE = "duplicate_other_source"
    TRAILING_DATA = "trailing_data"
    AI_GENERATED = "ai_generated"
    CREDENTIALS_INVALID = "credentials_invalid"


# What each code means, in words (the report and every page show these, never the codes).
LABELS = {
    Code.DATE_MISMATCH: "EXIF date differs from the stated date",
    Code.PLACE_MISMATCH: "EXIF location far from the stated place",
    Code.EDITING_SOFTWARE: "Edited with software",
    Code.NO_CAMERA_METADATA: "No camera metadata",
    Code.DUPLICATE_OTHER_SOURCE: "Near-duplicate from another source",
    Code.TRAILING_DATA: "Data after the end of the image",
    Code.AI_GENERATED: "Content Credentials say AI-generated",
    Code.CREDENTIALS_INVALID: "Content Credentials invalid",
}

DATE_TOLERANCE = timedelta(days=1)
# A camera that recorded no UTC offset wrote local time, which may be up to 14 hours from UTC.
UNKNOWN_OFFSET_SLACK = timedelta(hours=14)
PLACE_TOLERANCE_KM = 25.0

EDITING_SOFTWARE = re.compile(
    r"photoshop|lightroom|adobe|gimp|snapseed|affinity|pixelmator|paint\.net|picsart|facetune|"
    r"canva|luminar|darktable|rawtherapee|capture one|vsco|photoscape|fotor|acdsee|corel|"
    r"paintshop|pixlr|krita|photopea|faceapp|meitu|polarr|picmonkey|befunky|photodirector|"
    r"lightx|airbrush|remini|topaz",
    re.IGNORECASE,
)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def stated_flags(*, metadata: dict[str, Any], evidence) -> dict[str, str]:
    """The flags of what the file says against what the reporter stated (its date and place):
    what is computed again whenever the stated date or place changes
    (`evidence.services.signals`). `metadata` needs taken_at, taken_at_offset, gps_latitude
    and gps_longitude."""
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
            flags[Code.DATE_MISMATCH] = (
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
            flags[Code.PLACE_MISMATCH] = (
                f"The GPS position in the file is {distance:,.0f} km from the place given."
            )
    return flags


def consistency_flags(*, metadata: dict[str, Any], evidence) -> dict[str, str]:
    """The flags a photo deserves from its metadata and what the reporter said, code → message."""
    flags = stated_flags(metadata=metadata, evidence=evidence)
    tools = [metadata.get("software") or "", *metadata.get("creator_tools", [])]
    edited = next((tool for tool in tools if tool and EDITING_SOFTWARE.search(tool)), None)
    if edited:
        flags[Code.EDITING_SOFTWARE] = (
            f"The metadata names editing software ({edited[:100]}): the picture may have been "
            "altered after it was taken."
        )
    trailing = metadata.get("trailing_bytes") or 0
    if trailing:
        flags[Code.TRAILING_DATA] = (
            f"The file carries {trailing:,} bytes after the end of the image. Phones append "
            "motion-photo video or depth data this way, but it can also hide another file: "
            "an editor can download the original to look at it."
        )
    credentials = metadata.get("content_credentials")
    if credentials and credentials.get("ai_generated"):
        flags[Code.AI_GENERATED] = (
            "The file's Content Credentials say the picture was "
            f"{credentials['ai_words']}: it may not show a real scene."
            + (
                ""
                if credentials["validation"] != "invalid"
                else " (The credentials do not validate, so this statement is not proven either.)"
            )
        )
    if credentials and credentials.get("validation") == "invalid":
        flags[Code.CREDENTIALS_INVALID] = (
            "The file carries Content Credentials that fail validation: the picture or its "
            "record was changed after signing, or the record is damaged. What they say cannot "
            "be relied on."
            + (f" The reader says: {credentials['problems'][0]}" if credentials["problems"] else "")
        )[:500]
    if not (
        metadata.get("camera_make") or metadata.get("camera_model") or metadata.get("camera_date")
    ):
        flags[Code.NO_CAMERA_METADATA] = (
            "The file has no camera metadata (no make, model or date taken): it is often a copy "
            "re-shared through a messaging app or social network, or a screenshot. Ask for the "
            "original."
        )
    return flags


# The codes `stated_flags` owns.
STATED_FLAGS = {Code.DATE_MISMATCH, Code.PLACE_MISMATCH}

# The codes these flags own: a code no longer deserved is removed.
METADATA_FLAGS = {
    Code.TRAILING_DATA,
    Code.DATE_MISMATCH,
    Code.PLACE_MISMATCH,
    Code.EDITING_SOFTWARE,
    Code.NO_CAMERA_METADATA,
    Code.AI_GENERATED,
    Code.CREDENTIALS_INVALID,
}
