# ruff: noqa: F811 - pytest fixtures imported by name
"""Videos on real Celery workers consuming from Redis (issue #15): one processes a video end to
end (and goes on after a bad one); one is SIGKILLed mid-video, and the video still ends ready
with one set of derivatives once another worker takes over. The helpers (Worker, the Redis and
database plumbing) are the photo pipeline's, in test_worker.py and test_faults.py.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/casefile_x \
.venv/bin/pytest tests/evidence/test_video_worker.py
"""

from pathlib import Path

import pytest

from cases.models import Activity
from evidence.models import OutboxTask, Video
from evidence.services.evidence import video_ingest
from tests.evidence.test_faults import (  # noqa: F401, F811 - fixtures
    RECOVERY,
    own_redis,
    settled,
    statuses,
    wait_until,
    workers,
)
from tests.evidence.test_worker import (  # noqa: F401, F811 - fixtures
    redis_url,
    wait_for,
    worker_env,
)
from tests.hostile_videos import half_random
from tests.images import upload
from tests.videos import iphone_tags, make_video

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CUTS = (2.0, 4.0)


def video_files(media: Path, video_id: int) -> list[str]:
    folder = media / "derivatives" / "videos" / str(video_id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


EXPECTED_FILES = sorted(
    ["poster.jpg", "contact-sheet.jpg", "preview.mp4"]
    + [f"keyframe-{i:02d}{suffix}.jpg" for i in range(3) for suffix in ("", "-thumb")]
)


def ingest(personas, data: bytes, name: str = "clip.mov") -> int:
    evidence, _ = video_ingest(actor=personas.reporter, case=personas.case, file=upload(data, name))
    return evidence.pk


def clip() -> bytes:
    return make_video(
        seconds=6.0, cuts=CUTS, fmt="mov", metadata=iphone_tags(), quicktime_tags=True, audio=True
    )


def test_a_real_worker_processes_a_video_end_to_end(personas, worker_env, settings):
    worker = worker_env()
    pk = ingest(personas, clip())
    wait_for(
        lambda: Video.objects.get(pk=pk).status in ("ready", "failed"),
        timeout=120,
        worker=worker,
        what="the video processed",
    )
    video = Video.objects.get(pk=pk)
    assert video.status == Video.Status.READY, video.failure_reason
    assert [k.time for k in video.keyframes.all()] == [0.0, *CUTS]
    assert (video.camera_model, video.gps_latitude, video.taken_at_offset) == (
        "iPhone 15",
        40.12,
        "+08:00",
    )
    assert video_files(Path(settings.MEDIA_ROOT), pk) == EXPECTED_FILES
    # A damaged one fails with its reason; the worker goes on to the next.
    bad = ingest(personas, half_random(), "half.mp4")
    wait_for(
        lambda: Video.objects.get(pk=bad).status == "failed",
        timeout=120,
        worker=worker,
        what="the damaged video failed",
    )
    assert "damaged" in Video.objects.get(pk=bad).failure_reason
    after = ingest(personas, make_video(seconds=2.0, seed=4), "after.mp4")
    wait_for(
        lambda: Video.objects.get(pk=after).status == "ready",
        timeout=120,
        worker=worker,
        what="the next video ready",
    )
    assert worker.alive


def test_a_video_of_a_killed_worker_ends_ready_once_when_another_starts(
    personas, workers, settings
):
    media = Path(settings.MEDIA_ROOT)
    # The first worker pauses after writing every derivative, before recording anything.
    first = workers(CASEFILE_PIPELINE_TEST_DELAY_SECONDS=60)
    pk = ingest(personas, clip())
    wait_until(
        lambda: video_files(media, pk) == EXPECTED_FILES,
        within=120,
        what="the video mid-task",
        logs=workers.logs,
    )
    first.kill()
    assert statuses(Video, [pk]) == {pk: "processing"}
    assert Video.objects.get(pk=pk).keyframes.count() == 0

    workers()
    wait_until(
        lambda: settled(Video, [pk]),
        within=RECOVERY + 60,
        what="the video settled",
        logs=workers.logs,
    )
    video = Video.objects.get(pk=pk)
    assert video.status == Video.Status.READY, video.failure_reason
    assert video.attempts == 2
    assert [k.index for k in video.keyframes.all()] == [0, 1, 2]
    assert video_files(media, pk) == EXPECTED_FILES
    assert Activity.objects.filter(verb="video.processed", target_id=pk).count() == 1
    assert OutboxTask.objects.count() == 0
