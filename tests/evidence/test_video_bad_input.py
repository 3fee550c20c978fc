"""Bad videos never crash anything (issue #15): each ends in a clear refusal at upload (nothing
stored) or, for a file already in storage, in a `failed` video with its reason, the original
intact. Both doors are tried for each: `evidence_ingest`, and the pipeline on the stored file."""

import hashlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from config.refusals import refusal_status
from evidence.models import Evidence, Video
from evidence.services.evidence import evidence_ingest, original_storage_name, video_ingest
from evidence.services.videos import video_process
from tests.hostile_videos import declaring, half_random, lasting, many_streams, without_moov
from tests.images import upload
from tests.videos import make_video

HTML = b"<!DOCTYPE html><html><head><title>Video</title></head><body>watch</body></html>"

# name, bytes, file name, refusal code, HTTP status, words the message must contain
REFUSED = [
    ("truncated mp4 (no moov)", without_moov, "clip.mp4", "invalid_video", 400, "'moov' box"),
    ("10,000 streams", many_streams, "clip.mp4", "invalid_video", 400, "10,000 streams"),
    ("zero-length", lambda: b"", "clip.mp4", "empty_file", 400, "empty"),
    ("html named .mp4", lambda: HTML, "clip.mp4", "unsupported_media_type", 415, "web page"),
    (
        "30000x30000 frames",
        lambda: declaring(30000, 30000),
        "clip.avi",
        "video_too_large",
        413,
        "30,000 × 30,000 pixels",
    ),
    (
        "4 hours, over the 2 h limit",
        lambda: lasting(4 * 3600),
        "clip.mp4",
        "video_too_long",
        413,
        "lasts 4:00:01, above the 2:00:00 limit",
    ),
]


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("make", "name", "code", "status", "words"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_refused_at_upload_with_a_clear_message_and_nothing_stored(
    personas, settings, make, name, code, status, words
):
    for ingest in (evidence_ingest, video_ingest):
        with pytest.raises(ValidationError) as refused:
            ingest(actor=personas.reporter, case=personas.case, file=upload(make(), name))
        error = refused.value.error_dict["file"][0]
        assert error.code == code
        assert words in " ".join(refused.value.messages)
        assert refusal_status(refused.value) == status
    assert not Evidence.objects.exists()
    assert stored_files(settings) == []


def test_the_duration_limit_is_a_setting(personas, settings):
    settings.CASEFILE_MAX_VIDEO_SECONDS = 2
    with pytest.raises(ValidationError, match="above the 0:02 limit"):
        video_ingest(
            actor=personas.reporter, case=personas.case, file=upload(make_video(seconds=3.0))
        )


def test_a_video_stated_as_a_photo_is_refused_with_a_hint(personas):
    with pytest.raises(ValidationError, match="Add it as a video instead"):
        evidence_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(make_video(seconds=1.0), "clip.mp4"),
            kind="photo",
        )


def stored_video(personas, data: bytes) -> Video:
    """A video whose file is already in storage (let in by an older check, or damaged there)."""
    sha256 = hashlib.sha256(data).hexdigest()
    name = default_storage.save(original_storage_name(sha256), ContentFile(data))
    evidence = Evidence.objects.create(
        case=personas.case,
        kind=Evidence.Kind.VIDEO,
        collected_by=personas.reporter,
        original=name,
        sha256=sha256,
        size=len(data),
        content_type="video/mp4",
    )
    return Video.objects.create(evidence=evidence)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (without_moov, "'moov' box) is missing"),
        (many_streams, "10,000 streams"),
        (lambda: declaring(30000, 30000), "30,000 × 30,000 pixels"),
        (lambda: lasting(4 * 3600), "above the 2:00:00 limit"),
        (half_random, "The video's data is damaged: decoding stopped at about"),
        (lambda: HTML, "cannot be read"),
    ],
    ids=["no moov", "10,000 streams", "30000x30000", "4 hours", "half random", "html"],
)
def test_pipeline_fails_a_bad_file_with_its_reason_and_keeps_the_original(personas, make, reason):
    data = make()
    video = stored_video(personas, data)
    assert video_process(video_id=video.pk).status == Video.Status.FAILED
    video.refresh_from_db()
    assert reason in video.failure_reason
    assert video.keyframes.count() == 0
    with default_storage.open(video.evidence.original.name) as original:
        assert original.read() == data


def test_half_mp4_half_random_passes_the_header_check_then_fails_in_the_worker(
    personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = video_ingest(
            actor=personas.reporter, case=personas.case, file=upload(half_random(), "half.mp4")
        )
    video = Video.objects.get(pk=evidence.pk)
    assert video.status == Video.Status.FAILED
    assert "damaged" in video.failure_reason


def test_an_original_altered_in_storage_fails_as_a_hash_mismatch(personas):
    video = stored_video(personas, make_video(seconds=1.0))
    with default_storage.open(video.evidence.original.name, "wb") as original:
        original.write(make_video(seconds=1.0, seed=3))
    assert video_process(video_id=video.pk).status == Video.Status.FAILED
    video.refresh_from_db()
    assert "no longer matches the SHA-256" in video.failure_reason
