"""Near-duplicates of videos (issue #15): a video's keyframes against the photos of its case
(through the photo search's indexes, evidence/similarity.py), and a video against the other
videos of its case (their keyframes compared in memory: at most 60 per video). Recorded as
photo matches are, once per pair; "the same video from another source" is a flag on both.

Called by the video job once its keyframes are committed and by the photo job once a photo's
hash is, so that of a photo and a video processed at the same moment at least one sees the
other."""

from __future__ import annotations

from django.db.models import Q

from evidence.imaging.hashes import hamming
from evidence.imaging.video import timecode
from evidence.models import KeyframeMatch, Photo, Video, VideoFlag, VideoKeyframe, VideoMatch
from evidence.similarity import photos_within

# As for photos (evidence.services.photos.NEAR_DUPLICATE_DISTANCE).
NEAR_DUPLICATE_DISTANCE = 10
# Two videos are the same video when at least this share of the shorter one's keyframes has
# a near-duplicate in the other (one similar frame alone is a coincidence: a black frame, a
# title card).
SHARED_KEYFRAMES = 0.5


def _cross(a_source: int | None, b_source: int | None) -> bool:
    return a_source is not None and b_source is not None and a_source != b_source


def _hashable(phash: int) -> bool:
    # A uniform frame (black, white, one colour) hashes to 0: it matches every other one.
    return phash not in (0, -1)


def keyframe_photo_matches_record(video: Video) -> int:
    """Record every photo of the case within the near-duplicate distance of one of `video`'s
    keyframes; returns how many pairs there are."""
    evidence = video.evidence
    found = []
    for keyframe in video.keyframes.all():
        if not _hashable(keyframe.phash):
            continue
        rows = (
            photos_within(
                phash=keyframe.phash,
                max_distance=NEAR_DUPLICATE_DISTANCE,
                case_id=evidence.case_id,
            )
            .filter(evidence__deleted_at__isnull=True)
            .values_list("pk", "distance", "evidence__source_id")
        )
        for photo_id, distance, source_id in rows:
            found.append(
                KeyframeMatch(
                    case_id=evidence.case_id,
                    keyframe=keyframe,
                    photo_id=photo_id,
                    distance=distance,
                    cross_source=_cross(evidence.source_id, source_id),
                )
            )
    KeyframeMatch.objects.bulk_create(found, ignore_conflicts=True)
    return len(found)


def photo_keyframe_matches_record(photo: Photo, phash: int | None) -> int:
    """Record the keyframes of the case's videos within the near-duplicate distance of a photo
    just hashed; keeps the videos' flags in step. Returns how many pairs there are."""
    if phash is None or not _hashable(phash):
        return 0
    evidence = photo.evidence
    rows = VideoKeyframe.objects.filter(
        video__evidence__case_id=evidence.case_id, video__evidence__deleted_at__isnull=True
    ).values_list("pk", "phash", "video_id", "video__evidence__source_id")
    found = []
    videos = set()
    for keyframe_id, other, video_id, source_id in rows:
        distance = hamming(phash, other)
        if distance <= NEAR_DUPLICATE_DISTANCE and _hashable(other):
            found.append(
                KeyframeMatch(
                    case_id=evidence.case_id,
                    keyframe_id=keyframe_id,
                    photo_id=photo.pk,
                    distance=distance,
                    cross_source=_cross(evidence.source_id, source_id),
                )
            )
            videos.add(video_id)
    KeyframeMatch.objects.bulk_create(found, ignore_conflicts=True)
    for video_id in videos:
        duplicate_flag_sync(video_id)
    return len(found)


def video_matches_record(video: Video) -> int:
    """Record every other video of the case that shares near-duplicate keyframes with `video`
    (at least SHARED_KEYFRAMES of the shorter one's); returns how many."""
    evidence = video.evidence
    mine = [k for k in video.keyframes.all() if _hashable(k.phash)]
    if not mine:
        return 0
    theirs: dict[int, list[VideoKeyframe]] = {}
    others = (
        VideoKeyframe.objects.filter(
            video__evidence__case_id=evidence.case_id, video__evidence__deleted_at__isnull=True
        )
        .exclude(video_id=video.pk)
        .select_related("video__evidence")
    )
    for keyframe in others:
        if _hashable(keyframe.phash):
            theirs.setdefault(keyframe.video_id, []).append(keyframe)
    found = []
    for other_id, frames in theirs.items():
        best = None
        shared = 0
        for keyframe in mine:
            closest = min(frames, key=lambda f, k=keyframe: hamming(k.phash, f.phash))
            distance = hamming(keyframe.phash, closest.phash)
            if distance <= NEAR_DUPLICATE_DISTANCE:
                shared += 1
                if best is None or distance < best[0]:
                    best = (distance, keyframe, closest)
        shorter = min(len(mine), len(frames))
        if best is None or shared < max(1, SHARED_KEYFRAMES * shorter):
            continue
        distance, here, there = best
        other_evidence = there.video.evidence
        ordered = (here, there) if video.pk < other_id else (there, here)
        found.append(
            VideoMatch(
                case_id=evidence.case_id,
                video_a_id=ordered[0].video_id,
                video_b_id=ordered[1].video_id,
                keyframe_a=ordered[0],
                keyframe_b=ordered[1],
                distance=distance,
                shared_keyframes=min(shared, 32767),
                cross_source=_cross(evidence.source_id, other_evidence.source_id),
            )
        )
    VideoMatch.objects.filter(Q(video_a=video) | Q(video_b=video)).delete()
    VideoMatch.objects.bulk_create(found, ignore_conflicts=True)
    for other in [video.pk] + [
        m.video_a_id if m.video_b_id == video.pk else m.video_b_id for m in found
    ]:
        duplicate_flag_sync(other)
    return len(found)


def duplicate_flag_sync(video_id: int) -> None:
    """The "same video from another source" flag of one video: raised while a video or a photo
    from another source matches it, with what and where (safe names only: a protected
    source shows its pseudonym)."""
    same = (
        VideoMatch.objects.filter(
            Q(video_a_id=video_id) | Q(video_b_id=video_id), cross_source=True
        )
        .select_related("video_a__evidence__source", "video_b__evidence__source")
        .order_by("distance", "id")
    )
    named = []
    for match in same:
        other = match.video_b if match.video_a_id == video_id else match.video_a
        if other.evidence.deleted_at is None:
            named.append(f"video “{other.evidence.label}” from {other.evidence.source}")
    photos = (
        KeyframeMatch.objects.filter(keyframe__video_id=video_id, cross_source=True)
        .select_related("photo__evidence__source", "keyframe")
        .order_by("distance", "id")
    )
    for match in photos:
        evidence = match.photo.evidence
        if evidence.deleted_at is None:
            named.append(
                f"photo “{evidence.label}” from {evidence.source} "
                f"(the frame at {timecode(match.keyframe.time)})"
            )
    code = VideoFlag.Code.DUPLICATE_OTHER_SOURCE
    if not named:
        VideoFlag.objects.filter(video_id=video_id, code=code).delete()
        return
    more = f" and {len(named) - 3} more" if len(named) > 3 else ""
    message = (
        f"The same pictures came from another source: {', '.join(named[:3])}{more}. The "
        "sources may not be independent of each other."
    )
    VideoFlag.objects.update_or_create(
        video_id=video_id, code=code, defaults={"message": message[:500]}
    )
