"""What the video page shows (issue #15): a video's metadata rows, keyframes and
near-duplicates, as a reader may see them (the recorded place hidden where a photo's GPS is)."""

from __future__ import annotations

from evidence.imaging.video import timecode
from evidence.models import Evidence, Video
from evidence.reader import Reader
from evidence.video_selectors import keyframes_of, photos_matching_video, videos_matching_video
from web.presenters import HIDDEN, camera_label, local_taken_at, stated_place, when


def _duration(seconds: float | None) -> str | None:
    return timecode(seconds) if seconds is not None else None


def _bit_rate(value: int | None) -> str | None:
    if not value:
        return None
    return f"{value / 1_000_000:.2f} Mbit/s" if value >= 1_000_000 else f"{value / 1000:.0f} kbit/s"


def video_rows(evidence: Evidence, video: Video, reader: Reader) -> list[tuple]:
    """Label/value rows of a video's metadata, as `reader` may see them."""
    exact = reader.shows_place(evidence)
    place = None
    if video.gps_latitude is not None and video.gps_longitude is not None:
        place = f"{video.gps_latitude:.5f}, {video.gps_longitude:.5f}" if exact else HIDDEN
        if exact and video.gps_altitude is not None:
            place += f" · {video.gps_altitude:.0f} m"
    size = f"{video.width} × {video.height} px" if video.width and video.height else None
    if size and video.rotation:
        size += f" (turned {video.rotation}°)"
    codecs = " / ".join(c for c in (video.video_codec, video.audio_codec) if c) or None
    return [
        ("Observed (stated)", when(evidence.observed_at, None) if evidence.observed_at else None),
        ("Place (stated)", stated_place(evidence, exact)),
        ("Recorded", local_taken_at(video) if video.taken_at else None),
        ("Date from", video.taken_at_source or None),
        ("Recorded at (location tag)", place),
        ("Device", camera_label(video)),
        ("Software", video.software or None),
        ("Encoder", video.encoder or None),
        ("Duration", _duration(video.duration)),
        ("Frame size", size),
        ("Frame rate", f"{video.frame_rate:g} fps" if video.frame_rate else None),
        ("Codecs", codecs),
        ("Container", video.container or None),
        ("Bit rate", _bit_rate(video.bit_rate)),
    ]


def video_context(evidence: Evidence, video: Video, reader: Reader) -> dict:
    """The video page's own context: rows, keyframes, matches, map points."""
    exact = reader.shows_place(evidence)
    keyframes = [{"k": k, "timecode": timecode(k.time)} for k in keyframes_of(video=video)]
    photo_matches = [
        {
            "m": m,
            "e": m.photo.evidence,
            "timecode": timecode(m.keyframe.time),
            "source_name": reader.source_name(m.photo.evidence.source),
        }
        for m in photos_matching_video(video=video)
    ]
    video_matches = []
    for other, m in videos_matching_video(video=video):
        pair = (m.keyframe_a, m.keyframe_b)
        mine, theirs = pair if m.video_a_id == video.pk else pair[::-1]
        video_matches.append(
            {
                "m": m,
                "e": other.evidence,
                "timecode": timecode(mine.time),
                "other_timecode": timecode(theirs.time),
                "source_name": reader.source_name(other.evidence.source),
            }
        )
    points = []
    if video.gps_latitude is not None and exact:
        points.append(
            {
                "lat": video.gps_latitude,
                "lon": video.gps_longitude,
                "label": "Where the video's location tag says it was recorded",
                "kind": "exif",
            }
        )
    return {
        "video": video,
        "video_rows": video_rows(evidence, video, reader),
        "keyframes": keyframes,
        "keyframe_photo_matches": photo_matches,
        "video_matches": video_matches,
        "video_points": points,
        "video_tags": reader.video_tags(video),
    }
