"""Reads of the video pipeline's rows (issue #15): a video's keyframes and near-duplicates,
and the keyframes a photo appears in. Deleted items (tombstones) are left out."""

from __future__ import annotations

from django.db.models import Q

from evidence.models import KeyframeMatch, Photo, Video, VideoKeyframe, VideoMatch


def keyframes_of(*, video: Video) -> list[VideoKeyframe]:
    return list(video.keyframes.order_by("index"))


def keyframe_of(*, video: Video, index: int) -> VideoKeyframe | None:
    return video.keyframes.filter(index=index).first()


def photos_matching_video(*, video: Video) -> list[KeyframeMatch]:
    """The photos near-duplicate of one of the video's keyframes, nearest first."""
    return list(
        KeyframeMatch.objects.filter(keyframe__video=video, photo__evidence__deleted_at=None)
        .select_related("keyframe", "photo__evidence__source")
        .order_by("keyframe__index", "distance", "id")
    )


def videos_matching_video(*, video: Video) -> list[tuple[Video, VideoMatch]]:
    """The other videos sharing keyframes with this one: (other video, match)."""
    matches = (
        VideoMatch.objects.filter(Q(video_a=video) | Q(video_b=video))
        .select_related(
            "video_a__evidence__source",
            "video_b__evidence__source",
            "keyframe_a",
            "keyframe_b",
        )
        .order_by("distance", "id")
    )
    rows = []
    for match in matches:
        other = match.video_b if match.video_a_id == video.pk else match.video_a
        if other.evidence.deleted_at is None:
            rows.append((other, match))
    return rows


def videos_matching_photo(*, photo: Photo) -> list[KeyframeMatch]:
    """The keyframes of the case's videos a photo is a near-duplicate of."""
    return list(
        KeyframeMatch.objects.filter(photo=photo, keyframe__video__evidence__deleted_at=None)
        .select_related("keyframe__video__evidence__source")
        .order_by("distance", "id")
    )
