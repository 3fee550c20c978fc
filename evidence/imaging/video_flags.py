"""Consistency flags of a video, as `evidence.imaging.flags` has them for photos: the recorded
date or place against what the reporter said, editing or re-encoding software named in the
tags (an editor such as CapCut, a platform's or FFmpeg's encoder), no device metadata. Pure."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from evidence.imaging.flags import (
    DATE_TOLERANCE,
    EDITING_SOFTWARE,
    PLACE_TOLERANCE_KM,
    UNKNOWN_OFFSET_SLACK,
    Code,
    haversine_km,
)

# Video editors, and the encoders of platforms and tools that re-encode what they pass on: a
# file they wrote is not what the camera recorded.
VIDEO_SOFTWARE = re.compile(
    r"capcut|inshot|kinemaster|premiere|after effects|final cut|imovie|davinci|resolve|"
    r"filmora|vn video|vllo|powerdirector|splice|quik|vegas|shotcut|openshot|kdenlive|"
    r"handbrake|lavf|lavc|ffmpeg|libx264|x264|x265|tiktok|instagram|whatsapp|telegram|"
    r"youtube|google|facebook|twitter|snapchat|clipchamp|canva|veed|movavi",
    re.IGNORECASE,
)

VIDEO_FLAGS = {
    Code.DATE_MISMATCH,
    Code.PLACE_MISMATCH,
    Code.EDITING_SOFTWARE,
    Code.NO_CAMERA_METADATA,
}


def video_consistency_flags(*, metadata: dict[str, Any], evidence) -> dict[str, str]:
    """The flags a video deserves from its metadata and what the reporter said."""
    found: dict[str, str] = {}
    taken_at = metadata.get("taken_at")
    if taken_at and evidence.observed_at:
        offset = metadata.get("taken_at_offset") or ""
        tolerance = DATE_TOLERANCE + (UNKNOWN_OFFSET_SLACK if not offset else timedelta())
        gap = abs(taken_at - evidence.observed_at)
        if gap > tolerance:
            days = gap.total_seconds() / 86400
            recorded = f"{taken_at:%-d %b %Y %H:%M}" + (
                f" (UTC{offset})" if offset else " (device time, no UTC offset)"
            )
            found[Code.DATE_MISMATCH] = (
                f"The video's metadata dates the recording {recorded}, {days:.0f} days from the "
                f"date given ({evidence.observed_at:%-d %b %Y})."
            )
    lat, lon = metadata.get("gps_latitude"), metadata.get("gps_longitude")
    if lat is not None and lon is not None and evidence.latitude is not None:
        distance = haversine_km((lat, lon), (evidence.latitude, evidence.longitude))
        if distance > PLACE_TOLERANCE_KM:
            # No coordinates or place names: every member reads flags (see flags.py).
            found[Code.PLACE_MISMATCH] = (
                f"The location recorded in the video is {distance:,.0f} km from the place given."
            )
    for field in ("software", "encoder"):
        value = metadata.get(field) or ""
        if value and (VIDEO_SOFTWARE.search(value) or EDITING_SOFTWARE.search(value)):
            found[Code.EDITING_SOFTWARE] = (
                f"The video's tags name editing or re-encoding software ({value[:100]}): it is "
                "not the file the camera recorded, and may have been cut or altered."
            )
            break
    if not (metadata.get("camera_make") or metadata.get("camera_model")):
        found[Code.NO_CAMERA_METADATA] = (
            "The video has no device metadata (no make or model): it is often a copy passed on "
            "through a messaging app or a platform, or a screen recording. Ask for the original."
        )
    return found
