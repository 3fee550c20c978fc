"""The video part of the evidence resource (issue #15): what `EvidenceSerializer` writes for
a video, and the serializers that describe it for the schema. Rendered through the Reader: the
recorded location is hidden where a photo's GPS is, the full tags are for editors."""

from __future__ import annotations

from rest_framework import serializers

from api.schema import FreeFormField
from evidence.imaging.metadata import capture_time_text
from evidence.imaging.video import timecode
from evidence.video_selectors import keyframes_of, photos_matching_video, videos_matching_video


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value & ((1 << 64) - 1):016x}"


class KeyframeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    time = serializers.FloatField(help_text="Seconds from the start.")
    timecode = serializers.CharField()
    phash = serializers.CharField()
    dhash = serializers.CharField()
    thumbnail_url = serializers.URLField()
    image_url = serializers.URLField(help_text="The frame (at most 1280 px), to download.")


class KeyframePhotoMatchSerializer(serializers.Serializer):
    keyframe = serializers.IntegerField(help_text="The keyframe's index.")
    time = serializers.FloatField()
    evidence = serializers.IntegerField(help_text="The photo's evidence id.")
    title = serializers.CharField()
    source_name = serializers.CharField(allow_null=True)
    distance = serializers.IntegerField()
    cross_source = serializers.BooleanField()


class VideoMatchSerializer(serializers.Serializer):
    evidence = serializers.IntegerField(help_text="The other video's evidence id.")
    title = serializers.CharField()
    source_name = serializers.CharField(allow_null=True)
    distance = serializers.IntegerField()
    shared_keyframes = serializers.IntegerField()
    time = serializers.FloatField(help_text="This video's closest keyframe.")
    other_time = serializers.FloatField(help_text="The other video's closest keyframe.")
    cross_source = serializers.BooleanField()


class VideoSerializer(serializers.Serializer):
    """A video's own fields; the ones it shares with photos (status, size, date, device,
    location, flags) are the evidence's."""

    duration = serializers.FloatField(allow_null=True)
    container = serializers.CharField()
    video_codec = serializers.CharField()
    audio_codec = serializers.CharField()
    rotation = serializers.IntegerField()
    frame_rate = serializers.FloatField(allow_null=True)
    bit_rate = serializers.IntegerField(allow_null=True)
    encoder = serializers.CharField()
    tags = FreeFormField(
        allow_null=True,
        help_text=(
            "Every container and stream tag as read (name → text; a stream's as "
            "`stream<N>:<name>`): editors and owners only, null below."
        ),
        reason="The tags as the file carries them: which ones depends on the device and tool.",
    )
    poster_url = serializers.URLField(allow_null=True)
    contact_sheet_url = serializers.URLField(allow_null=True)
    preview_url = serializers.URLField(
        allow_null=True, help_text="H.264/AAC MP4, at most 720p, no metadata."
    )
    preview_error = serializers.CharField(allow_null=True)
    keyframes = KeyframeSerializer(many=True)
    photo_matches = KeyframePhotoMatchSerializer(many=True)
    video_matches = VideoMatchSerializer(many=True)


def video_representation(*, evidence, video, reader, url, located: bool) -> tuple[dict, dict]:
    """(the evidence's shared fields, its `video` object) for a video; `url(name, pk)` makes
    an absolute API URL, `located` says whether this reader sees the recorded place."""
    pk = evidence.pk
    shared = {
        "status": video.status,
        "failure_reason": video.failure_reason,
        "width": video.width,
        "height": video.height,
        "taken_at": capture_time_text(video.taken_at, video.taken_at_offset),
        "taken_at_offset": video.taken_at_offset or None,
        "taken_at_source": video.taken_at_source or None,
        "camera_make": video.camera_make,
        "camera_model": video.camera_model,
        "software": video.software,
        "gps_latitude": video.gps_latitude if located else None,
        "gps_longitude": video.gps_longitude if located else None,
        "gps_altitude": video.gps_altitude if located else None,
        "flags": [{"code": f.code, "message": f.message} for f in video.flags.all()],
        "thumbnail_url": url("api:evidence-video-file", pk, "poster") if video.poster else None,
        "preview_url": url("api:evidence-video-file", pk, "preview") if video.preview else None,
    }
    keyframes = [
        {
            "index": k.index,
            "time": k.time,
            "timecode": timecode(k.time),
            "phash": _hex(k.phash),
            "dhash": _hex(k.dhash),
            "thumbnail_url": url("api:evidence-keyframe-thumbnail", pk, k.index),
            "image_url": url("api:evidence-keyframe", pk, k.index),
        }
        for k in keyframes_of(video=video)
    ]
    photo_matches = [
        {
            "keyframe": m.keyframe.index,
            "time": m.keyframe.time,
            "evidence": m.photo.evidence_id,
            "title": m.photo.evidence.label,
            "source_name": reader.source_name(m.photo.evidence.source),
            "distance": m.distance,
            "cross_source": m.cross_source,
        }
        for m in photos_matching_video(video=video)
    ]
    video_matches = []
    for other, m in videos_matching_video(video=video):
        mine, theirs = (
            (m.keyframe_a, m.keyframe_b)
            if m.video_a_id == video.pk
            else (m.keyframe_b, m.keyframe_a)
        )
        video_matches.append(
            {
                "evidence": other.evidence_id,
                "title": other.evidence.label,
                "source_name": reader.source_name(other.evidence.source),
                "distance": m.distance,
                "shared_keyframes": m.shared_keyframes,
                "time": mine.time,
                "other_time": theirs.time,
                "cross_source": m.cross_source,
            }
        )
    own = {
        "duration": video.duration,
        "container": video.container,
        "video_codec": video.video_codec,
        "audio_codec": video.audio_codec,
        "rotation": video.rotation,
        "frame_rate": video.frame_rate,
        "bit_rate": video.bit_rate,
        "encoder": video.encoder,
        "tags": reader.video_tags(video),
        "poster_url": shared["thumbnail_url"],
        "contact_sheet_url": (
            url("api:evidence-video-file", pk, "contact-sheet") if video.contact_sheet else None
        ),
        "preview_url": shared["preview_url"],
        "preview_error": video.preview_error or None,
        "keyframes": keyframes,
        "photo_matches": photo_matches,
        "video_matches": video_matches,
    }
    return shared, own
