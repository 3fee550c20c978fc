"""The image pipeline, step by step, on images generated with Pillow (every expected value is
known): metadata read back exactly, upright derivatives without metadata, perceptual hashes,
near-duplicates, consistency flags, and the claim that makes it safe to run twice."""

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image, ImageChops, ImageStat

from evidence.imaging import decode
from evidence.imaging.decode import analyse, fit
from evidence.imaging.hashes import hamming
from evidence.imaging.metadata import read_metadata
from evidence.models import Photo, PhotoFlag, PhotoMatch
from evidence.selectors import similar_photos
from evidence.services import photos as pipeline
from evidence.services.evidence import photo_ingest
from evidence.services.photos import photo_process, photo_reprocess
from evidence.tasks import photo_process_task
from tests.factories import ProtectedSourceFactory, SourceFactory
from tests.images import (
    as_stored,
    exif_for,
    is_upright_marked,
    jpeg_bytes,
    marked,
    png_bytes,
    scene,
    upload,
)

DANDONG = (40.1186, 124.3940)


def ingest(personas, data, name="photo.jpg", *, actor=None, **details):
    """Upload as the reporter; processing runs in-process when the transaction commits."""
    evidence, _ = photo_ingest(
        actor=actor or personas.reporter, case=personas.case, file=upload(data, name), **details
    )
    return evidence


@pytest.fixture
def process(django_capture_on_commit_callbacks, personas):
    def run(data, name="photo.jpg", **details) -> Photo:
        with django_capture_on_commit_callbacks(execute=True):
            evidence = ingest(personas, data, name, **details)
        return Photo.objects.get(pk=evidence.pk)

    return run


def derivative_files(media: Path) -> list[Path]:
    root = media / "derivatives"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- Metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gps",
    [
        (40.1186, 124.394, 35.5),  # north-east: Dandong
        (-33.8688, 151.2093, 58.0),  # south-east: Sydney
        (40.7128, -74.006, 10.0),  # north-west: New York
        (-34.6037, -58.3816, -2.5),  # south-west, below sea level
    ],
)
def test_exif_date_offset_camera_and_gps_read_back_exactly(process, gps):
    data = jpeg_bytes(
        taken_at="2026:05:14 09:30:15",
        offset="+08:00",
        make="Canon",
        model="EOS R6",
        lens="RF24-105mm F4 L IS USM",
        software="Firmware Version 1.8.1",
        gps=gps,
    )
    photo = process(data)
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert photo.taken_at == datetime(2026, 5, 14, 9, 30, 15, tzinfo=timezone(timedelta(hours=8)))
    assert photo.taken_at == datetime(2026, 5, 14, 1, 30, 15, tzinfo=UTC)
    assert photo.taken_at_offset == "+08:00"
    assert (photo.camera_make, photo.camera_model) == ("Canon", "EOS R6")
    assert photo.lens == "RF24-105mm F4 L IS USM"
    assert photo.software == "Firmware Version 1.8.1"
    assert photo.gps_latitude == pytest.approx(gps[0], abs=1e-7)
    assert photo.gps_longitude == pytest.approx(gps[1], abs=1e-7)
    assert photo.gps_altitude == pytest.approx(gps[2], abs=1e-3)
    assert (photo.width, photo.height) == (640, 480)
    # The complete EXIF is kept as JSON-safe data.
    assert photo.exif["Image"]["Make"] == "Canon"
    assert photo.exif["Exif"]["DateTimeOriginal"] == "2026:05:14 09:30:15"
    assert photo.exif["GPS"]["GPSLatitudeRef"] == ("N" if gps[0] > 0 else "S")


def test_date_without_offset_is_camera_local_time_with_blank_offset(process):
    photo = process(jpeg_bytes(taken_at="2026:05:25 16:05:00", make="Apple", model="iPhone 15"))
    assert photo.taken_at == datetime(2026, 5, 25, 16, 5, tzinfo=UTC)
    assert photo.taken_at_offset == ""


def test_negative_offset_is_kept(process):
    photo = process(jpeg_bytes(taken_at="2026:01:02 03:04:05", offset="-05:30", make="Nikon"))
    assert photo.taken_at == datetime(2026, 1, 2, 8, 34, 5, tzinfo=UTC)
    assert photo.taken_at_offset == "-05:30"


def test_xmp_comment_and_icc_are_kept_on_the_record(process):
    photo = process(jpeg_bytes(make="Sony", comment="shot from the footbridge", icc=True, xmp=True))
    assert photo.status == Photo.Status.READY
    assert "CreatorTool" in photo.exif["XMP"]
    assert photo.exif["Comment"] == "shot from the footbridge"


def test_broken_exif_yields_what_can_be_read_never_a_failed_photo(process):
    # An EXIF block whose IFD offsets point nowhere.
    broken = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x0f\x01\x02\x00\xff\xff\x00\x00"
    photo = process(jpeg_bytes(exif=broken + b"\x00" * 8))
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert photo.thumbnail and photo.preview


def test_impossible_exif_date_is_ignored(process):
    photo = process(jpeg_bytes(taken_at="0000:00:00 00:00:00", make="Canon", model="X"))
    assert photo.status == Photo.Status.READY
    assert photo.taken_at is None


# --- Derivatives ----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_gives_an_upright_preview_and_thumbnail(process, orientation):
    upright = marked((800, 600))
    data = jpeg_bytes(as_stored(upright, orientation), orientation=orientation, make="Canon")
    photo = process(data)
    assert photo.orientation == orientation
    assert (photo.width, photo.height) == (800, 600)
    for name in (photo.preview.name, photo.thumbnail.name):
        with default_storage.open(name) as f, Image.open(f) as image:
            assert is_upright_marked(image), (orientation, name)


def test_derivatives_have_the_expected_sizes(process):
    photo = process(jpeg_bytes(size=(3000, 2000), make="Canon"))
    with default_storage.open(photo.preview.name) as f:
        assert Image.open(f).size == (1600, 1067)
    with default_storage.open(photo.thumbnail.name) as f:
        assert Image.open(f).size == (400, 267)


def test_small_images_are_never_enlarged(process):
    photo = process(png_bytes(size=(300, 200)), "small.png")
    with default_storage.open(photo.preview.name) as f:
        assert Image.open(f).size == (300, 200)


def test_derivatives_carry_no_metadata_at_all(process):
    data = jpeg_bytes(
        taken_at="2026:05:14 09:30:00",
        offset="+08:00",
        make="Canon",
        model="EOS R6",
        gps=DANDONG,
        comment="source: the tea house contact",
        icc=True,
        xmp=True,
        orientation=1,
    )
    photo = process(data)
    for name in (photo.preview.name, photo.thumbnail.name):
        raw = default_storage.open(name).read()
        for marker in (b"Exif", b"GPS", b"Canon", b"xmpmeta", b"ns.adobe.com", b"ICC_PROFILE"):
            assert marker not in raw, (name, marker)
        assert b"tea house" not in raw
        assert b"\xff\xfe" not in raw[: raw.index(b"\xff\xda")]  # no COM segment before the scan
        assert b"\xff\xe1" not in raw[: raw.index(b"\xff\xda")]  # no APP1 (EXIF/XMP)
        with Image.open(io.BytesIO(raw)) as image:
            assert not image.getexif()
            assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)


def test_jpeg_is_decoded_at_the_reduced_scale_the_preview_needs(monkeypatch, tmp_path):
    from PIL import JpegImagePlugin

    asked = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        asked.append(size)
        return original_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = jpeg_bytes(size=(4800, 3200), quality=80)
    analysis = analyse(io.BytesIO(data), max_pixels=60_000_000)
    # The size actually produced, not the (1600, 1600) bounding box: a 3:2 photo is scaled by
    # libjpeg to 1/2 (2400 × 1600) instead of being decoded whole.
    assert asked == [(1600, 1067)]
    assert (analysis.width, analysis.height) == (4800, 3200)


def _rms(a: Image.Image, b: Image.Image) -> float:
    difference = ImageChops.difference(a, b)
    return sum(ImageStat.Stat(difference).rms) / len(difference.getbands())


@pytest.mark.parametrize("size", [(4000, 3000), (4800, 3200), (6000, 4000)])
def test_the_preview_of_a_dct_scaled_jpeg_is_as_good_as_a_box_filter(size):
    """Decoded at 1/2 (1.25×, 1.5×, 1.875× the preview), the last step costs a fraction of
    Pillow's filters but must not be nearest-neighbour in disguise: measured against a Lanczos
    resize of the full decode, within 10% of the box filter and better than nearest."""
    data = jpeg_bytes(scene(7, size), quality=92)
    target = fit(size, decode.PREVIEW_EDGE)
    with Image.open(io.BytesIO(data)) as full:
        reference = full.convert("RGB").resize(target, Image.Resampling.LANCZOS)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.draft("RGB", target)
        decoded.load()
        assert decoded.size == (size[0] // 2, size[1] // 2)
        ours = decode._preview(decoded, target, dct_scaled=True)
        box = decoded.resize(target, Image.Resampling.BOX)
        nearest = decoded.resize(target, Image.Resampling.NEAREST)
    assert ours.size == target
    assert _rms(ours, reference) <= 1.15 * _rms(box, reference)
    assert _rms(ours, reference) < _rms(nearest, reference)


def test_the_thumbnail_is_a_box_reduction_of_the_preview_when_the_sizes_allow():
    preview = scene(8, (1600, 1067))
    thumbnail = decode._thumbnail(preview, fit((6000, 4000), decode.THUMBNAIL_EDGE))
    assert thumbnail.size == (400, 267)
    assert _rms(thumbnail, preview.reduce(4)) == 0
    # Sizes that a reduction cannot reach exactly end with a small bicubic step.
    assert decode._thumbnail(preview, (390, 260)).size == (390, 260)


@pytest.fixture
def pillow_pool():
    saved = Image.core.get_block_size(), Image.core.get_blocks_max()
    yield
    Image.core.set_block_size(saved[0])
    Image.core.set_blocks_max(saved[1])


def test_a_worker_keeps_freed_image_memory_for_the_next_photo(pillow_pool, settings):
    from celery.signals import worker_init

    from evidence.tasks import worker_image_memory_pool

    # Connected to the worker's start (sending the signal here would also run Celery's Django
    # fixup, which expects a real worker).
    assert worker_image_memory_pool in [receiver() for _, receiver in worker_init.receivers]
    Image.core.set_blocks_max(0)
    settings.CASEFILE_IMAGE_MEMORY_POOL_MB = 48
    worker_image_memory_pool()
    assert Image.core.get_blocks_max() == 48
    assert Image.core.get_block_size() == 1024 * 1024


def test_an_image_memory_pool_of_zero_leaves_pillow_as_it_is(pillow_pool):
    Image.core.set_blocks_max(3)
    decode.image_memory_pool(0)
    assert Image.core.get_blocks_max() == 3


def test_fit_keeps_the_aspect_ratio_and_never_enlarges():
    assert fit((6000, 4000), 1600) == (1600, 1067)
    assert fit((4000, 6000), 400) == (267, 400)
    assert fit((300, 200), 1600) == (300, 200)


# --- Perceptual hashes and near-duplicates --------------------------------------------------


def test_hashes_come_from_one_canonical_input_whatever_the_original_size():
    large = analyse(io.BytesIO(jpeg_bytes(scene(3, (3000, 2250)), quality=92)), max_pixels=10**8)
    small = analyse(
        io.BytesIO(jpeg_bytes(scene(3, (3000, 2250)).resize((800, 600)))), max_pixels=10**8
    )
    assert hamming(large.phash, small.phash) <= 4
    assert hamming(large.dhash, small.dhash) <= 6


def test_resized_and_recompressed_copies_are_near_duplicates_and_an_unrelated_photo_is_not(
    process, personas
):
    original = scene(7, (1600, 1200))
    first = process(jpeg_bytes(original, quality=92, make="Canon"), "original.jpg")
    resized = process(jpeg_bytes(original.resize((640, 480)), quality=85), "resized.jpg")
    recompressed = process(jpeg_bytes(original, quality=35), "recompressed.jpg")
    unrelated = process(jpeg_bytes(scene(8, (1600, 1200))), "unrelated.jpg")

    pairs = {
        (m.photo_a_id, m.photo_b_id): m.distance
        for m in PhotoMatch.objects.filter(case=personas.case)
    }
    ids = lambda a, b: tuple(sorted((a.pk, b.pk)))  # noqa: E731
    assert ids(first, resized) in pairs
    assert ids(first, recompressed) in pairs
    assert ids(resized, recompressed) in pairs
    assert all(unrelated.pk not in pair for pair in pairs)
    assert all(distance <= 10 for distance in pairs.values())
    # Recorded once per pair, and listed from either side.
    assert len(pairs) == 3 == PhotoMatch.objects.filter(case=personas.case).count()
    similar = similar_photos(photo=first)
    assert {p.pk for p, _ in similar} == {resized.pk, recompressed.pk}
    assert [p.pk for p, _ in similar_photos(photo=unrelated)] == []


def test_near_duplicate_from_another_source_is_flagged_on_both_photos(process, personas):
    photographer = SourceFactory(case=personas.case, name="Newsroom photographer")
    secret = ProtectedSourceFactory(case=personas.case, pseudonym="Source in China")
    picture = scene(11, (1200, 900))
    ours = process(jpeg_bytes(picture, make="Canon"), "ours.jpg", source=photographer)
    theirs = process(jpeg_bytes(picture, quality=50), "theirs.jpg", source=secret)

    match = PhotoMatch.objects.get()
    assert match.cross_source
    for photo, other_name in ((ours, "Source in China"), (theirs, "Newsroom photographer")):
        flag = photo.flags.get(code=PhotoFlag.Code.DUPLICATE_OTHER_SOURCE)
        assert other_name in flag.message
        assert "not be independent" in flag.message
    # A protected source is named by its pseudonym only.
    for flag in PhotoFlag.objects.all():
        assert secret.name not in flag.message


def test_near_duplicate_from_the_same_source_is_matched_but_not_flagged(process, personas):
    photographer = SourceFactory(case=personas.case)
    picture = scene(12, (1200, 900))
    a = process(jpeg_bytes(picture, make="Canon"), "a.jpg", source=photographer)
    process(jpeg_bytes(picture, quality=40, make="Canon"), "b.jpg", source=photographer)
    assert not PhotoMatch.objects.get().cross_source
    assert not a.flags.filter(code=PhotoFlag.Code.DUPLICATE_OTHER_SOURCE).exists()


def test_deleted_photo_is_no_near_duplicate_of_a_new_upload(process, personas):
    from evidence.services.custody import evidence_delete

    picture = scene(13, (1200, 900))
    first = process(
        jpeg_bytes(picture, make="Canon"), "first.jpg", source=SourceFactory(case=personas.case)
    )
    evidence_delete(actor=personas.editor, evidence=first.evidence, reason="Wrong case")
    second = process(
        jpeg_bytes(picture, quality=50), "second.jpg", source=SourceFactory(case=personas.case)
    )
    assert not PhotoMatch.objects.exists()
    assert not second.flags.filter(code=PhotoFlag.Code.DUPLICATE_OTHER_SOURCE).exists()


def test_photos_of_other_cases_are_never_matched(
    process, personas, django_capture_on_commit_callbacks
):
    from tests.factories import CaseFactory, MembershipFactory

    picture = scene(13, (1000, 750))
    process(jpeg_bytes(picture))
    other = CaseFactory(created_by=personas.reporter)
    MembershipFactory(case=other, user=personas.reporter, role="owner")
    with django_capture_on_commit_callbacks(execute=True):
        photo_ingest(
            actor=personas.reporter, case=other, file=upload(jpeg_bytes(picture, quality=60))
        )
    assert PhotoMatch.objects.count() == 0


# --- Consistency flags ----------------------------------------------------------------------


def codes(photo: Photo) -> set[str]:
    return set(photo.flags.values_list("code", flat=True))


def test_a_camera_photo_matching_what_the_reporter_said_has_no_flags(process):
    photo = process(
        jpeg_bytes(
            taken_at="2026:05:25 10:40:00", offset="+08:00", make="Canon", model="R6", gps=DANDONG
        ),
        observed_at=datetime(2026, 5, 25, 12, 0, tzinfo=timezone(timedelta(hours=8))),
        place_name="Dandong station",
        latitude=40.12,
        longitude=124.39,
    )
    assert codes(photo) == set()


def test_exif_date_more_than_a_day_from_the_stated_date_is_flagged_with_an_explanation(process):
    photo = process(
        jpeg_bytes(taken_at="2026:05:14 10:40:00", offset="+08:00", make="Canon", model="R6"),
        observed_at=datetime(2026, 5, 25, 10, 40, tzinfo=UTC),
    )
    flag = photo.flags.get(code=PhotoFlag.Code.DATE_MISMATCH)
    assert "14 May 2026 10:40 (UTC+08:00)" in flag.message
    assert "25 May 2026" in flag.message
    assert "11 days" in flag.message


def test_exif_gps_far_from_the_stated_place_is_flagged_with_the_distance(process):
    photo = process(
        jpeg_bytes(make="Canon", model="R6", gps=(37.8157, 120.7478)),  # Longkou
        place_name="Dandong station",
        latitude=DANDONG[0],
        longitude=DANDONG[1],
    )
    flag = photo.flags.get(code=PhotoFlag.Code.PLACE_MISMATCH)
    # The flag is shown to every member: it gives the distance, never the
    # stated place (hidden below editor when the source is protected).
    assert flag.message == "The GPS position in the file is 406 km from the place given."
    assert codes(photo) == {PhotoFlag.Code.PLACE_MISMATCH}


def test_gps_within_25_km_is_not_flagged(process):
    photo = process(
        jpeg_bytes(make="Canon", model="R6", gps=(40.2, 124.5)),
        latitude=DANDONG[0],
        longitude=DANDONG[1],
    )
    assert PhotoFlag.Code.PLACE_MISMATCH not in codes(photo)


@pytest.mark.parametrize("software", ["Adobe Photoshop 25.0 (Windows)", "GIMP 2.10.36", "Snapseed"])
def test_editing_software_is_flagged(process, software):
    photo = process(jpeg_bytes(make="Canon", model="R6", software=software))
    flag = photo.flags.get(code=PhotoFlag.Code.EDITING_SOFTWARE)
    assert software in flag.message


def test_no_camera_metadata_is_flagged(process):
    photo = process(png_bytes(), "shared.png")
    flag = photo.flags.get(code=PhotoFlag.Code.NO_CAMERA_METADATA)
    assert "re-shared" in flag.message


# --- Safe to repeat --------------------------------------------------------------------------


def test_running_twice_duplicates_nothing(process, settings, personas):
    picture = scene(21, (1000, 750))
    first = process(jpeg_bytes(picture, software="GIMP 2.10"))
    second = process(jpeg_bytes(picture, quality=50, software="GIMP 2.10"))
    before = (
        PhotoFlag.objects.count(),
        PhotoMatch.objects.count(),
        derivative_files(Path(settings.MEDIA_ROOT)),
    )
    # A redelivered task finds nothing to do.
    assert photo_process(photo_id=first.pk).status == Photo.Status.READY
    # A photo run again from scratch (as after a crash) replaces rather than adds.
    Photo.objects.filter(pk=second.pk).update(status=Photo.Status.PENDING)
    assert photo_process(photo_id=second.pk).status == Photo.Status.READY
    after = (
        PhotoFlag.objects.count(),
        PhotoMatch.objects.count(),
        derivative_files(Path(settings.MEDIA_ROOT)),
    )
    assert before == after
    assert len(after[2]) == 4  # one thumbnail and one preview per photo


def test_a_photo_being_processed_is_not_claimed_twice(process, personas):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PROCESSING)
    outcome = photo_process(photo_id=photo.pk)
    assert outcome.status == Photo.Status.PROCESSING
    assert outcome.busy_for and outcome.busy_for > 0


def test_an_abandoned_attempt_is_taken_over_once_its_lease_runs_out(process, settings):
    photo = process(jpeg_bytes())
    lapsed = datetime.now(UTC) - timedelta(seconds=settings.CASEFILE_LEASE_SECONDS + 1)
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PROCESSING, heartbeat_at=lapsed)
    assert photo_process(photo_id=photo.pk).status == Photo.Status.READY


def test_a_live_lease_keeps_the_photo_with_its_attempt(process, settings):
    photo = process(jpeg_bytes())
    recent = datetime.now(UTC) - timedelta(seconds=settings.CASEFILE_LEASE_SECONDS - 5)
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PROCESSING, heartbeat_at=recent)
    outcome = photo_process(photo_id=photo.pk)
    assert outcome.status == Photo.Status.PROCESSING
    assert 1 <= outcome.busy_for <= 6


def test_a_photo_that_keeps_killing_workers_fails_for_good(process):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.PENDING, attempts=pipeline.MAX_ATTEMPTS
    )
    assert photo_process(photo_id=photo.pk).status == Photo.Status.FAILED
    photo.refresh_from_db()
    assert "interrupted" in photo.failure_reason


def test_transient_storage_error_is_retried_and_then_succeeds(process, monkeypatch, personas):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)
    real_open = default_storage.open
    calls = []

    def flaky(name, mode="rb"):
        calls.append(name)
        if len(calls) == 1:
            raise ConnectionResetError("storage went away")
        return real_open(name, mode)

    monkeypatch.setattr(default_storage, "open", flaky)
    # The task asks Celery for a retry (with backoff) and gives the photo back meanwhile.
    with pytest.raises(Retry) as retry:
        photo_process_task.delay(photo.pk)
    assert isinstance(retry.value.exc, pipeline.StorageUnavailable)
    assert retry.value.when >= 0
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.PENDING
    # The retry, delivered later, finds the photo free and finishes it.
    assert photo_process_task.delay(photo.pk).get() == Photo.Status.READY
    assert len(calls) == 2
    # The released try does not count as an interrupted one: the upload's run and the retry.
    assert Photo.objects.get(pk=photo.pk).attempts == 2


def test_a_bad_image_is_never_retried(process, monkeypatch):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)
    monkeypatch.setattr(
        pipeline, "analyse", lambda *a, **k: (_ for _ in ()).throw(decode.PhotoRejected("bad"))
    )
    assert photo_process_task.delay(photo.pk).get() == Photo.Status.FAILED
    photo.refresh_from_db()
    assert (photo.status, photo.failure_reason, photo.attempts) == ("failed", "bad", 2)


def test_soft_time_limit_is_a_failure_with_a_reason(process, monkeypatch):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING)

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "analyse", slow)
    assert photo_process(photo_id=photo.pk).status == Photo.Status.FAILED
    photo.refresh_from_db()
    assert "took longer than" in photo.failure_reason


def test_reprocessing_a_failed_photo_runs_it_again(
    process, personas, django_capture_on_commit_callbacks
):
    photo = process(jpeg_bytes())
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, failure_reason="Storage was down."
    )
    with django_capture_on_commit_callbacks(execute=True):
        photo_reprocess(actor=personas.editor, evidence=photo.evidence)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY
    assert photo.failure_reason == ""


# --- Re-queueing stuck photos ---------------------------------------------------------------


def test_requeue_stale_photos_processes_stuck_photos_only(
    process, settings, django_capture_on_commit_callbacks
):
    stuck = process(jpeg_bytes(seed=31))
    fresh = process(jpeg_bytes(seed=32))
    long_ago = datetime.now(UTC) - timedelta(seconds=settings.CASEFILE_STALE_AFTER_SECONDS + 5)
    Photo.objects.filter(pk=stuck.pk).update(
        status=Photo.Status.PENDING, status_changed_at=long_ago
    )
    Photo.objects.filter(pk=fresh.pk).update(status=Photo.Status.PENDING)
    out = io.StringIO()
    call_command("requeue_stale_photos", stdout=out)
    assert "Queued 1 stuck photo(s)" in out.getvalue()
    assert Photo.objects.get(pk=stuck.pk).status == Photo.Status.READY
    assert Photo.objects.get(pk=fresh.pk).status == Photo.Status.PENDING


def test_requeue_stale_photos_hands_an_abandoned_photo_to_a_new_attempt(process, settings):
    abandoned = process(jpeg_bytes(seed=33))
    held = process(jpeg_bytes(seed=34))
    now = datetime.now(UTC)
    lease = timedelta(seconds=settings.CASEFILE_LEASE_SECONDS)
    Photo.objects.filter(pk=abandoned.pk).update(
        status=Photo.Status.PROCESSING, heartbeat_at=now - lease - timedelta(seconds=1)
    )
    Photo.objects.filter(pk=held.pk).update(
        status=Photo.Status.PROCESSING, heartbeat_at=now - lease / 2
    )
    call_command("requeue_stale_photos", stdout=io.StringIO())
    assert Photo.objects.get(pk=abandoned.pk).status == Photo.Status.READY
    assert Photo.objects.get(pk=held.pk).status == Photo.Status.PROCESSING


def test_exif_for_helper_writes_what_the_pipeline_reads():
    # The generator and the reader agree on tag numbers (guards the test helpers themselves).
    exif = exif_for(make="Fujifilm", gps=(-1.5, -2.25))
    image = Image.new("RGB", (10, 10))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    _, metadata = read_metadata(Image.open(io.BytesIO(buffer.getvalue())))
    assert metadata["camera_make"] == "Fujifilm"
    assert (metadata["gps_latitude"], metadata["gps_longitude"]) == (-1.5, -2.25)


def test_heic_with_an_orientation_gives_an_upright_preview(process):
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    as_stored(marked((800, 600)), 6).save(
        buffer,
        format="HEIF",
        exif=exif_for(orientation=6, make="Apple", model="iPhone 15").tobytes(),
    )
    photo = process(buffer.getvalue(), "IMG_0001.HEIC")
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert (photo.camera_make, photo.width, photo.height) == ("Apple", 800, 600)
    with default_storage.open(photo.preview.name) as f, Image.open(f) as image:
        assert is_upright_marked(image)


def test_the_task_is_acknowledged_late_and_retries_only_transient_errors():
    from evidence.tasks import TRANSIENT_ERRORS

    assert photo_process_task.acks_late
    assert photo_process_task.reject_on_worker_lost
    assert photo_process_task.autoretry_for == TRANSIENT_ERRORS
    assert decode.PhotoRejected not in TRANSIENT_ERRORS
    assert photo_process_task.retry_backoff and photo_process_task.retry_jitter


def _cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    scene(41).convert("CMYK").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _png_16bit() -> bytes:
    buffer = io.BytesIO()
    scene(42).convert("L").point(lambda v: v * 256, "I").convert("I;16").save(buffer, "PNG")
    return buffer.getvalue()


def _png_transparent() -> bytes:
    buffer = io.BytesIO()
    image = scene(43).convert("RGBA")
    image.putalpha(128)
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _animated_gif() -> bytes:
    buffer = io.BytesIO()
    frames = [scene(s, (320, 240)).convert("P", palette=Image.Palette.ADAPTIVE) for s in (44, 45)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _greyscale_jpeg() -> bytes:
    buffer = io.BytesIO()
    scene(46, (2400, 1600)).convert("L").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make",
    [_cmyk_jpeg, _png_16bit, _png_transparent, _animated_gif, _greyscale_jpeg],
    ids=["cmyk-jpeg", "16-bit-png", "transparent-png", "animated-gif", "greyscale-jpeg"],
)
def test_unusual_but_valid_images_are_processed(process, make):
    photo = process(make(), "unusual.bin")
    assert photo.status == Photo.Status.READY, photo.failure_reason
    for name in (photo.preview.name, photo.thumbnail.name):
        with default_storage.open(name) as f, Image.open(f) as image:
            assert image.mode == "RGB"
