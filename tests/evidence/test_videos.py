"""The video pipeline (issue #15), on videos made in the test with PyAV so that every expected
value is known: duration, frame rate, rotation, a location atom, a creation time, scene cuts at
known times; the kinds told from the bytes; near-duplicates with photos and between videos;
flags; safe to run twice."""

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from cases.models import Activity
from evidence.imaging.sniff import file_kind
from evidence.imaging.video import parse_iso6709, parse_media_time, timecode, video_analyse
from evidence.models import Evidence, KeyframeMatch, Photo, Video, VideoFlag, VideoMatch
from evidence.services.evidence import evidence_ingest, photo_ingest
from evidence.services.exports import export_request
from evidence.services.videos import video_process
from tests.factories import SourceFactory
from tests.images import jpeg_bytes, upload
from tests.videos import iphone_tags, make_video, scene_frame

FPS = 25


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def ingest_video(django_capture_on_commit_callbacks, personas):
    def run(data: bytes, name: str = "clip.mp4", **details) -> Video:
        with django_capture_on_commit_callbacks(execute=True):
            evidence, _ = evidence_ingest(
                actor=personas.reporter, case=personas.case, file=upload(data, name), **details
            )
        return Video.objects.get(pk=evidence.pk)

    return run


def derivative_files(media: Path) -> list[Path]:
    root = media / "derivatives" / "videos"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- Telling videos from their bytes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "codec", "content_type"),
    [
        ("mp4", "libx264", "video/mp4"),
        ("mov", "libx264", "video/quicktime"),
        ("ipod", "libx264", "video/x-m4v"),
        ("webm", "libvpx", "video/webm"),
        ("matroska", "libx264", "video/x-matroska"),
        ("3gp", "libx264", "video/3gpp"),
        ("avi", "mpeg4", "video/x-msvideo"),
    ],
)
def test_each_container_is_told_from_its_bytes_and_processed(
    ingest_video, fmt, codec, content_type
):
    data = make_video(seconds=1.0, fps=10, fmt=fmt, codec=codec)
    kind = file_kind(data[:65536])
    assert (kind.category, kind.content_type) == ("video", content_type)
    # The name says photo: the bytes decide.
    video = ingest_video(data, name="holiday.jpg")
    assert video.evidence.kind == Evidence.Kind.VIDEO
    assert video.evidence.content_type == content_type
    assert video.status == Video.Status.READY, video.failure_reason
    assert video.keyframes.count() >= 1
    assert video.preview_error == "" and video.preview  # with or without sound


def test_sniff_does_not_take_audio_or_html_for_video():
    assert file_kind(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00").category == "other"
    assert file_kind(b"<!doctype html><html><body>").category == "other"


# --- Metadata -------------------------------------------------------------------------------


def test_iphone_metadata_read_back_exactly(ingest_video, media_root):
    data = make_video(
        seconds=6.0,
        fps=30,
        width=320,
        height=240,
        rotation=90,
        fmt="mov",
        audio=True,
        metadata=iphone_tags(),
        quicktime_tags=True,
    )
    video = ingest_video(data, name="IMG_0001.MOV")
    assert video.status == Video.Status.READY, video.failure_reason
    assert video.duration == pytest.approx(6.0, abs=0.05)
    assert video.frame_rate == 30.0
    assert (video.width, video.height, video.rotation) == (240, 320, 90)
    assert (video.video_codec, video.audio_codec) == ("h264", "aac")
    assert video.container.startswith("mov")
    assert video.bit_rate and video.bit_rate > 0
    assert video.taken_at == datetime(2025, 5, 14, 8, 30, tzinfo=UTC)
    assert (video.taken_at_offset, video.taken_at_source) == ("+08:00", "quicktime:creationdate")
    assert (video.gps_latitude, video.gps_longitude, video.gps_altitude) == (40.12, 124.39, 12.5)
    assert (video.camera_make, video.camera_model, video.software) == ("Apple", "iPhone 15", "17.4")
    assert video.encoder.startswith("Lavf")
    # Derivatives are upright: the poster is portrait like the video as shown.
    poster = Image.open(default_storage.open(video.poster.name))
    assert poster.height > poster.width
    codes = set(video.flags.values_list("code", flat=True))
    # PyAV's muxer names itself (Lavf): a re-encoding tool, flagged; the device is named.
    assert codes == {VideoFlag.Code.EDITING_SOFTWARE}


def test_android_creation_time_is_utc_and_location_is_read(ingest_video):
    data = make_video(
        seconds=2.0,
        metadata={
            "creation_time": "2025-05-25T01:02:03.000000Z",
            "location": "-33.8688+151.2093/",
        },
    )
    video = ingest_video(data)
    assert video.taken_at == datetime(2025, 5, 25, 1, 2, 3, tzinfo=UTC)
    assert (video.taken_at_offset, video.taken_at_source) == ("+00:00", "creation_time")
    assert (video.gps_latitude, video.gps_longitude, video.gps_altitude) == (
        -33.8688,
        151.2093,
        None,
    )
    codes = set(video.flags.values_list("code", flat=True))
    assert VideoFlag.Code.NO_CAMERA_METADATA in codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+40.1186+124.3940+035.500/", (40.1186, 124.394, 35.5)),
        ("-3352.128+15112.558/", (-33.8688, 151.2093, None)),  # ±DDMM.MMM
        ("+404243.20-0740021.60/", (40.712, -74.006, None)),  # ±DDMMSS.SS
        ("+91.0000+000.0000/", None),
        ("nonsense", None),
    ],
)
def test_iso6709_forms(text, expected):
    parsed = parse_iso6709(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed[0] == pytest.approx(expected[0], abs=1e-4)
        assert parsed[1] == pytest.approx(expected[1], abs=1e-4)
        assert parsed[2] == expected[2]


def test_media_times_keep_the_offset_they_state_and_no_other():
    assert parse_media_time("2025-05-14T16:30:00+0800") == (
        datetime(2025, 5, 14, 8, 30, tzinfo=UTC),
        "+08:00",
    )
    assert parse_media_time("2025-05-14 16:30:00") == (
        datetime(2025, 5, 14, 16, 30, tzinfo=UTC),
        "",
    )
    assert parse_media_time("1904-01-01T00:00:00Z") is None  # QuickTime's unset clock
    assert timecode(3725.5) == "1:02:05.500"


def test_date_and_place_disagreeing_with_the_reporter_are_flagged(ingest_video):
    data = make_video(seconds=2.0, fmt="mov", metadata=iphone_tags(), quicktime_tags=True)
    video = ingest_video(
        data,
        observed_at=datetime(2025, 3, 1, tzinfo=UTC),
        place_name="Nampo",
        latitude=38.73,
        longitude=125.4,
    )
    flags = dict(video.flags.values_list("code", "message"))
    assert "74 days" in flags[VideoFlag.Code.DATE_MISMATCH]
    assert "km from the place given" in flags[VideoFlag.Code.PLACE_MISMATCH]
    assert "125" not in flags[VideoFlag.Code.PLACE_MISMATCH]  # no coordinates in a flag


def test_capcut_is_named_as_editing_software(ingest_video):
    tags = iphone_tags(software="CapCut 12.1")
    video = ingest_video(make_video(seconds=1.0, fmt="mov", metadata=tags, quicktime_tags=True))
    assert "CapCut" in video.flags.get(code=VideoFlag.Code.EDITING_SOFTWARE).message


# --- Keyframes -----------------------------------------------------------------------------


def test_keyframes_found_within_one_frame_of_each_cut():
    cuts = (2.0, 3.52, 7.24, 11.0)
    data = make_video(seconds=14.0, fps=FPS, cuts=cuts)
    analysis = video_analyse(io.BytesIO(data), max_pixels=60_000_000)
    times = [k.time for k in analysis.keyframes]
    assert times[0] == 0.0
    for cut in cuts:
        assert min(abs(t - cut) for t in times) <= 1 / FPS, (cut, times)
    # Scene changes only (and the opening frame): no keyframe without a cut in 14 s but
    # the ones the 10 s rule asks for.
    assert len(times) == len(cuts) + 1
    for keyframe in analysis.keyframes:
        assert Image.open(io.BytesIO(keyframe.thumbnail)).width == 320
        assert keyframe.phash != 0


def test_at_least_one_keyframe_every_ten_seconds_and_at_most_sixty():
    # One scene of 35 s, a key frame every 2 s: the 10 s rule keeps one at least every 10 s.
    data = make_video(seconds=35.0, fps=10, gop=20)
    analysis = video_analyse(io.BytesIO(data), max_pixels=60_000_000)
    times = [k.time for k in analysis.keyframes] + [35.0]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 10.0
    # 80 cuts in 80 s: capped at 60, spread over the video.
    many = make_video(seconds=81.0, fps=5, cuts=tuple(float(s) for s in range(1, 81)), width=64)
    capped = video_analyse(io.BytesIO(many), max_pixels=60_000_000)
    assert len(capped.keyframes) == 60
    assert capped.keyframes[0].time == 0.0 and capped.keyframes[-1].time > 70


def test_a_gop_longer_than_ten_seconds_still_gets_a_keyframe_every_ten_seconds():
    data = make_video(seconds=25.0, fps=10, gop=1000)  # one key frame, at the start
    analysis = video_analyse(io.BytesIO(data), max_pixels=60_000_000)
    times = [k.time for k in analysis.keyframes] + [25.0]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 10.0


def test_derivatives_contact_sheet_and_web_preview(ingest_video, media_root):
    data = make_video(
        seconds=4.0,
        cuts=(2.0,),
        fmt="mov",
        metadata=iphone_tags(),
        audio=True,
        quicktime_tags=True,
        width=1280,
        height=960,
    )
    video = ingest_video(data)
    assert video.status == Video.Status.READY, video.failure_reason
    assert video.preview_error == ""
    keyframes = list(video.keyframes.all())
    assert [k.index for k in keyframes] == [0, 1]
    sheet = Image.open(default_storage.open(video.contact_sheet.name))
    assert sheet.width == 2 * 240
    with av.open(default_storage.path(video.preview.name)) as preview:
        stream = preview.streams.video[0]
        assert (stream.codec_context.name, preview.streams.audio[0].codec_context.name) == (
            "h264",
            "aac",
        )
        assert (stream.codec_context.width, stream.codec_context.height) == (960, 720)
        tags = dict(preview.metadata)
        assert not any("apple" in key or "location" in key for key in tags), tags
        assert "creation_time" not in tags
    # The original was only read.
    with default_storage.open(video.evidence.original.name) as original:
        assert original.read() == data


def test_running_twice_keeps_one_set_of_derivatives(ingest_video, media_root):
    video = ingest_video(make_video(seconds=3.0, cuts=(1.0, 2.0)))
    files = derivative_files(media_root)
    rows = list(video.keyframes.values_list("index", "time", "phash"))
    Video.objects.filter(pk=video.pk).update(status=Video.Status.PENDING)
    assert video_process(video_id=video.pk).status == Video.Status.READY
    assert derivative_files(media_root) == files
    assert list(video.keyframes.values_list("index", "time", "phash")) == rows
    assert Activity.objects.filter(verb="video.processed", target_id=video.pk).count() == 2


# --- Near-duplicates -------------------------------------------------------------------------


def frame_jpeg(scene: int, index: int = 0) -> bytes:
    out = io.BytesIO()
    Image.fromarray(scene_frame(scene, index, 320, 240)).resize((640, 480)).save(out, "JPEG")
    return out.getvalue()


def test_keyframe_and_photo_matches_either_order(
    ingest_video, personas, django_capture_on_commit_callbacks
):
    other = SourceFactory(case=personas.case, name="Agency")
    video = ingest_video(
        make_video(seconds=4.0, cuts=(2.0,)), source=SourceFactory(case=personas.case)
    )
    # A photo of the second scene, uploaded after the video.
    with django_capture_on_commit_callbacks(execute=True):
        photo_ev, _ = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(frame_jpeg(1)), source=other
        )
    match = KeyframeMatch.objects.get(photo_id=photo_ev.pk)
    assert match.keyframe.video_id == video.pk and match.keyframe.time == 2.0
    assert match.cross_source
    flag = video.flags.get(code=VideoFlag.Code.DUPLICATE_OTHER_SOURCE)
    assert "the frame at 0:02.000" in flag.message
    # A video uploaded after the photo finds it too.
    later = ingest_video(make_video(seconds=3.0, cuts=(1.0,), fps=20, width=480, height=360))
    assert KeyframeMatch.objects.filter(keyframe__video=later, photo_id=photo_ev.pk).exists()


def test_same_video_from_two_sources_is_flagged(ingest_video, personas):
    a = SourceFactory(case=personas.case, name="Channel A")
    b = SourceFactory(case=personas.case, name="Channel B")
    first = ingest_video(make_video(seconds=5.0, cuts=(2.0, 4.0)), source=a)
    # The same pictures re-encoded: another size, frame rate and container.
    second = ingest_video(
        make_video(seconds=5.0, cuts=(2.0, 4.0), fps=30, width=480, height=360, fmt="matroska"),
        source=b,
    )
    match = VideoMatch.objects.get()
    assert {match.video_a_id, match.video_b_id} == {first.pk, second.pk}
    assert match.cross_source and match.shared_keyframes == 3
    for video in (first, second):
        assert video.flags.filter(code=VideoFlag.Code.DUPLICATE_OTHER_SOURCE).exists()
    # An unrelated video matches neither.
    ingest_video(make_video(seconds=3.0, cuts=(1.5,), fps=12, width=200, height=150, seed=1))
    assert VideoMatch.objects.count() == 1


def test_photo_side_keyframe_hook_ignores_uniform_frames(
    personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photo_ingest(actor=personas.reporter, case=personas.case, file=upload(jpeg_bytes()))
    assert Photo.objects.count() == 1 and KeyframeMatch.objects.count() == 0


# --- Export ----------------------------------------------------------------------------------


@pytest.mark.parametrize("originals", [False, True])
def test_export_carries_the_videos_derivatives_and_metadata_as_for_photos(
    ingest_video, personas, django_capture_on_commit_callbacks, tmp_path, originals
):
    video = ingest_video(
        make_video(seconds=3.0, cuts=(2.0,), fmt="mov", metadata=iphone_tags(), quicktime_tags=True)
    )
    with django_capture_on_commit_callbacks(execute=True):
        export = export_request(
            actor=personas.owner, case=personas.case, originals=originals, reveal_protected=False
        )
    export.refresh_from_db()
    assert export.status == "ready", export.error
    with default_storage.open(export.file.name, "rb") as bundle:
        with zipfile.ZipFile(io.BytesIO(bundle.read())) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
    row = next(e for e in json.loads(files["manifest.json"])["evidence"] if e["id"] == video.pk)
    own = row["video"]
    assert [k["time"] for k in own["keyframes"]] == [0.0, 2.0]
    for name in (own["poster"], own["contact_sheet"], own["preview"], own["keyframes"][1]["file"]):
        assert files[name]
    assert row["thumbnail"] == own["poster"] and row["preview"] == own["preview"]
    assert files[own["preview"]][4:8] == b"ftyp"
    # The metadata read from the file travels with the original only, as a photo's.
    assert ("gps_latitude" in own) is originals
    if originals:
        assert own["gps_latitude"] == 40.12 and own["camera_model"] == "iPhone 15"
        assert files[row["file"]] == default_storage.open(video.evidence.original.name).read()
