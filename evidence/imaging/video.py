"""What a video is and what is derived from it, with PyAV (whose wheels carry FFmpeg's
libraries: no system ffmpeg is needed). No ORM here: `evidence.services.videos` keeps the rows.

- `video_probe(file)`: the container's header only (no frame decoded): duration, streams,
  declared frame size, tags; refuses what is not a video, what declares too many streams, too
  many pixels per frame or too long a duration. Ingest calls it before storing the original.
- `video_analyse(file)`: metadata (normalised: `video_metadata`), keyframes at scene changes,
  a poster frame and a contact sheet, from the stream's own key (I) frames alone
  (`skip_frame="NONKEY"`): encoders place a key frame at each scene cut (x264's `scenecut`),
  and decoding only those costs a few percent of decoding every frame (benchmarks/video.py).
  A cut inside a group of pictures is found at the next key frame.
- `video_preview(file, out)`: the web-playable copy, H.264/AAC MP4 at most 720p, upright, no
  metadata (the original is only read).
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av
import imagehash
import numpy as np
from PIL import Image, ImageDraw

from evidence.imaging.hashes import signed64

# A phone video has one video, one or two audio and a few data (timecode, metadata) streams;
# a file declaring more is refused before anything is decoded (FFmpeg would allocate each).
MAX_STREAMS = 32
# Keyframes kept per video, and the longest stretch without one.
MAX_KEYFRAMES = 60
KEYFRAME_EVERY_SECONDS = 10.0
# How different two key frames must be (mean absolute difference of 64×36 grey images, 0–1,
# or of their grey histograms) to count as a scene change.
SCENE_DIFFERENCE = 0.10
SCENE_HISTOGRAM = 0.35
THUMBNAIL_EDGE = 320
KEYFRAME_EDGE = 1280
POSTER_EDGE = 1280
PREVIEW_HEIGHT = 720
CONTACT_COLUMNS = 6


class VideoRejected(Exception):
    """A video that cannot be processed, with a reason a reporter can read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Probe:
    """What a video's header says (no frame decoded)."""

    container: str
    duration: float | None
    width: int
    height: int
    video_codec: str
    audio_codec: str
    frame_rate: float | None
    bit_rate: int | None
    streams: int
    tags: dict[str, str]


@dataclass
class Keyframe:
    index: int
    time: float
    thumbnail: bytes
    image: bytes
    phash: int
    dhash: int
    # How different it is from the key frame chosen before it (0–1): the scene change.
    change: float


@dataclass
class VideoAnalysis:
    metadata: dict[str, Any]
    keyframes: list[Keyframe]
    poster: bytes
    contact_sheet: bytes
    # How many key frames were decoded to find them.
    decoded: int = 0
    tags: dict[str, str] = field(default_factory=dict)


def _read_at(file, offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


def _iso_boxes(file, start: int, end: int):
    """(type, offset, header size, size) of the ISO boxes from start to end, headers only."""
    at = start
    while at + 8 <= end:
        head = _read_at(file, at, 16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1 and len(head) == 16:
            size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif size == 0:
            size = end - at
        if size < header:
            return
        yield kind, at, header, size
        at += size


def _iso_check(file, *, max_pixels: int, streams_limit: int) -> None:
    """Before FFmpeg reads an MP4/MOV: its index must be there, with at most `streams_limit`
    tracks, none declaring frames of more than `max_pixels` (FFmpeg allocates per track and
    per frame, and answers a missing index with a bare "invalid data")."""
    end = file.seek(0, 2)
    top = list(_iso_boxes(file, 0, end))
    if not top or top[0][0] not in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return
    moov = next((box for box in top if box[0] == b"moov"), None)
    if moov is None or moov[1] + moov[3] > end:
        raise VideoRejected(
            "The video cannot be read: its index (the MP4 'moov' box) is missing, so the file "
            "was cut short while it was copied or uploaded. Ask for the complete file."
        )
    _, at, header, size = moov
    tracks = 0
    for kind, trak_at, trak_header, trak_size in _iso_boxes(file, at + header, at + size):
        if kind != b"trak":
            continue
        tracks += 1
        if tracks > streams_limit:
            continue  # counted, not read
        for inner, tkhd_at, _, tkhd_size in _iso_boxes(
            file, trak_at + trak_header, trak_at + trak_size
        ):
            if inner == b"tkhd" and tkhd_size >= 16:
                # The track's display size, 16.16 fixed point, ends the box.
                w, h = struct.unpack(">II", _read_at(file, tkhd_at + tkhd_size - 8, 8))
                w, h = w >> 16, h >> 16
                if w * h > max_pixels:
                    raise VideoRejected(_too_many_pixels(w, h, max_pixels))
    if tracks > streams_limit:
        raise VideoRejected(_too_many_streams(tracks, streams_limit))


def _avi_check(head: bytes, *, max_pixels: int, streams_limit: int) -> None:
    # The main AVI header (avih) comes first: its stream count, width and height.
    if len(head) < 72 or head[:4] != b"RIFF" or head[8:12] != b"AVI " or head[24:28] != b"avih":
        return
    streams, _, width, height = struct.unpack("<IIII", head[32 + 24 : 32 + 40])
    if streams > streams_limit:
        raise VideoRejected(_too_many_streams(streams, streams_limit))
    if width * height > max_pixels:
        raise VideoRejected(_too_many_pixels(width, height, max_pixels))


def _too_many_streams(count: int, limit: int) -> str:
    return (
        f"The video declares {count:,} streams (at most {limit} are accepted): the file is "
        "damaged or made to exhaust the decoder."
    )


def _too_many_pixels(width: int, height: int, limit: int) -> str:
    return (
        f"The video declares frames of {width:,} × {height:,} pixels, above the limit of "
        f"{limit / 1_000_000:.0f} megapixels per frame."
    )


def _precheck(file, *, max_pixels: int, streams_limit: int) -> None:
    """The checks made on the bytes before FFmpeg opens the file."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as opened:
            return _precheck(opened, max_pixels=max_pixels, streams_limit=streams_limit)
    try:
        head = _read_at(file, 0, 128)
        if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
            _iso_check(file, max_pixels=max_pixels, streams_limit=streams_limit)
        _avi_check(head, max_pixels=max_pixels, streams_limit=streams_limit)
    finally:
        file.seek(0)


def _open(file, *, max_pixels: int, streams_limit: int = MAX_STREAMS):
    """Open a container, its errors turned into refusals a reporter reads."""
    _precheck(file, max_pixels=max_pixels, streams_limit=streams_limit)
    try:
        container = av.open(file, mode="r", metadata_errors="replace")
    except av.error.InvalidDataError as exc:
        raise VideoRejected(_unreadable(exc)) from None
    except (av.error.FFmpegError, ValueError, OSError, MemoryError) as exc:
        raise VideoRejected(_unreadable(exc)) from None
    if len(container.streams) > streams_limit:
        count = len(container.streams)
        container.close()
        raise VideoRejected(_too_many_streams(count, streams_limit))
    return container


def _unreadable(exc: Exception) -> str:
    text = str(exc)
    if "moov atom not found" in text:
        return (
            "The video cannot be read: its index (the MP4 'moov' box) is missing, so the file "
            "was cut short while it was copied or uploaded. Ask for the complete file."
        )
    return (
        "The video cannot be read: its container is damaged or not a video FFmpeg knows "
        f"({text[:200]})."
    )


def _rate(value) -> float | None:
    if not value:
        return None
    try:
        rate = float(Fraction(value))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(rate, 3) if math.isfinite(rate) and 0 < rate < 10_000 else None


def _tags(container) -> dict[str, str]:
    """Every tag of the container and its streams ("stream1:handler_name" for a stream's)."""
    tags = {str(k): str(v)[:500] for k, v in (container.metadata or {}).items()}
    for stream in container.streams:
        for key, value in (stream.metadata or {}).items():
            tags.setdefault(str(key), str(value)[:500])
            tags[f"stream{stream.index}:{key}"] = str(value)[:500]
    return tags


def video_probe(file, *, max_pixels: int, max_seconds: float | None = None) -> Probe:
    """Read the header of a video: refuse one with no video stream, more than MAX_STREAMS
    streams, frames of more than `max_pixels`, or (when given) longer than `max_seconds`."""
    container = _open(file, max_pixels=max_pixels)
    try:
        return _probe(container, max_pixels=max_pixels, max_seconds=max_seconds)
    finally:
        container.close()


def _probe(container, *, max_pixels: int, max_seconds: float | None) -> Probe:
    if not container.streams.video:
        raise VideoRejected("The file has no video stream (it may be audio only).")
    video = container.streams.video[0]
    context = video.codec_context
    width, height = int(context.width or 0), int(context.height or 0)
    if width <= 0 or height <= 0:
        raise VideoRejected(
            "The video's frames have no size the decoder accepts: the file is damaged, or "
            "declares frames too large to decode."
        )
    if width * height > max_pixels:
        raise VideoRejected(_too_many_pixels(width, height, max_pixels))
    duration = None
    if container.duration is not None and container.duration > 0:
        duration = container.duration / av.time_base
    elif video.duration and video.time_base:
        duration = float(video.duration * video.time_base)
    if max_seconds is not None and duration is not None and duration > max_seconds:
        raise VideoRejected(
            f"The video lasts {_hms(duration)}, above the {_hms(max_seconds)} limit for videos."
        )
    audio = container.streams.audio[0] if container.streams.audio else None
    return Probe(
        container=container.format.name,
        duration=round(duration, 3) if duration is not None else None,
        width=width,
        height=height,
        video_codec=context.name or "",
        audio_codec=(audio.codec_context.name or "") if audio is not None else "",
        frame_rate=_rate(video.average_rate) or _rate(video.guessed_rate),
        bit_rate=int(container.bit_rate) if container.bit_rate else None,
        streams=len(container.streams),
        tags=_tags(container),
    )


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- Metadata ---------------------------------------------------------------------------------

_ISO6709 = re.compile(r"^\s*([+-][\d.]+)([+-][\d.]+)([+-][\d.]+)?(?:CRS[^/]*)?/?\s*$")


def _iso6709_part(text: str, degree_digits: int) -> float | None:
    """One ISO 6709 coordinate: ±DD.D, ±DDMM.M or ±DDMMSS.S (latitude; one more D for
    longitude), told apart by the number of digits before the decimal point."""
    sign = -1.0 if text[0] == "-" else 1.0
    whole, _, fraction = text[1:].partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        return None
    number = float(text[1:])
    digits = len(whole)
    if digits <= degree_digits:
        value = number
    elif digits == degree_digits + 2:
        value = int(whole[:degree_digits]) + float(text[1 + degree_digits :]) / 60
    elif digits == degree_digits + 4:
        degrees = int(whole[:degree_digits])
        minutes = int(whole[degree_digits : degree_digits + 2])
        seconds = float(text[1 + degree_digits + 2 :])
        value = degrees + minutes / 60 + seconds / 3600
    else:
        return None
    return sign * value


def parse_iso6709(text: str) -> tuple[float, float, float | None] | None:
    """(latitude, longitude, altitude) from an ISO 6709 string as QuickTime (©xyz,
    com.apple.quicktime.location.ISO6709) and Android write it: "+39.9042+116.4074+043.000/"."""
    match = _ISO6709.match(text or "")
    if not match:
        return None
    lat = _iso6709_part(match.group(1), 2)
    lon = _iso6709_part(match.group(2), 3)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    altitude = float(match.group(3)) if match.group(3) else None
    return round(lat, 7), round(lon, 7), altitude


_WITH_OFFSET = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_media_time(text: str) -> tuple[datetime, str] | None:
    """A tag's time as (UTC datetime, offset): "2024-05-14T16:30:00+0800" keeps "+08:00";
    "…Z" (what MP4's creation_time always is: UTC) gives "+00:00"; no zone gives "" (a local
    time, held as if UTC, as photos' taken_at does)."""
    match = _WITH_OFFSET.match((text or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(7)
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    if year < 1971:  # QuickTime's zero epoch (1904) or an unset clock: no date at all
        return None
    if not zone:
        return local, ""
    if zone == "Z":
        return local, "+00:00"
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes) * sign
    return local - offset, f"{zone[0]}{hours:02d}:{minutes:02d}"


def _first(tags: dict[str, str], *keys: str) -> str:
    lowered = {k.lower(): v for k, v in tags.items() if ":" not in k}
    for key in keys:
        value = lowered.get(key.lower(), "").strip()
        if value:
            return value
    return ""


TIME_TAGS = (
    # QuickTime's own creation date carries the phone's UTC offset; creation_time is UTC.
    ("com.apple.quicktime.creationdate", "quicktime:creationdate"),
    ("date", "date"),
    ("creation_time", "creation_time"),
)
LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")


def video_metadata(probe: Probe, *, rotation: int = 0) -> dict[str, Any]:
    """The normalised fields of a video from its header and the rotation of its frames."""
    tags = probe.tags
    taken_at, offset, source = None, "", ""
    for key, name in TIME_TAGS:
        parsed = parse_media_time(_first(tags, key))
        if parsed:
            taken_at, offset = parsed
            source = name
            break
    place = None
    for key in LOCATION_TAGS:
        place = parse_iso6709(_first(tags, key))
        if place:
            break
    turned = abs(rotation) % 180 == 90
    make = _first(tags, "com.apple.quicktime.make", "com.android.manufacturer", "make")
    model = _first(tags, "com.apple.quicktime.model", "com.android.model", "model")
    software = _first(
        tags, "com.apple.quicktime.software", "software", "com.android.version", "comment"
    )
    encoder = _first(tags, "encoder", "encoded_by", "writing_application", "muxing_app")
    return {
        "duration": probe.duration,
        "container": probe.container,
        "video_codec": probe.video_codec,
        "audio_codec": probe.audio_codec,
        "width": probe.height if turned else probe.width,
        "height": probe.width if turned else probe.height,
        "rotation": rotation,
        "frame_rate": probe.frame_rate,
        "bit_rate": probe.bit_rate,
        "taken_at": taken_at,
        "taken_at_offset": offset,
        "taken_at_source": source,
        "gps_latitude": place[0] if place else None,
        "gps_longitude": place[1] if place else None,
        "gps_altitude": place[2] if place else None,
        "camera_make": make[:100],
        "camera_model": model[:100],
        "software": software[:200],
        "encoder": encoder[:200],
    }


# --- Keyframes, poster, contact sheet --------------------------------------------------------


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def _fit(width: int, height: int, edge: int) -> tuple[int, int]:
    scale = min(1.0, edge / max(width, height))
    return max(2, round(width * scale) // 2 * 2), max(2, round(height * scale) // 2 * 2)


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    # FFmpeg's rotation is counter-clockwise in degrees (the display matrix's angle).
    turn = rotation % 360
    if turn == 90:
        return image.transpose(Image.Transpose.ROTATE_90)
    if turn == 180:
        return image.transpose(Image.Transpose.ROTATE_180)
    if turn == 270:
        return image.transpose(Image.Transpose.ROTATE_270)
    return image


def _signature(frame) -> np.ndarray:
    """A 64×36 grey picture of the frame: its luma plane sampled, no scaling pass (a few
    microseconds where swscale takes milliseconds at 1080p)."""
    if frame.format.name in LUMA_FIRST:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        luma = luma[:, : plane.width]
        ys = np.linspace(0, plane.height - 1, 36).astype(int)
        xs = np.linspace(0, plane.width - 1, 64).astype(int)
        return luma[np.ix_(ys, xs)].astype(np.float32)
    return frame.reformat(width=64, height=36, format="gray").to_ndarray().astype(np.float32)


# 8-bit pixel formats whose first plane is the luma (what phones and platforms write).
LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    mean = float(np.abs(a - b).mean()) / 255
    ha, _ = np.histogram(a, bins=16, range=(0, 256))
    hb, _ = np.histogram(b, bins=16, range=(0, 256))
    histogram = float(np.abs(ha - hb).sum()) / (2 * a.size)
    # A cut changes both what is where and the tones; a pan changes the first only partly.
    return max(mean / SCENE_DIFFERENCE, histogram / SCENE_HISTOGRAM) * SCENE_DIFFERENCE


@dataclass
class _Candidate:
    time: float
    rendered: Future  # of the KEYFRAME_EDGE image, upright
    signature: np.ndarray
    change: float

    @property
    def image(self) -> Image.Image:
        return self.rendered.result()


def _render(frame, rotation: int) -> Image.Image:
    w, h = _fit(frame.width, frame.height, KEYFRAME_EDGE)
    image = frame.reformat(
        width=w, height=h, format="rgb24", interpolation="FAST_BILINEAR"
    ).to_image()
    return _upright(image, rotation)


def _candidate(
    frame, *, time: float, rotation: int, change: float, signature, pool=None
) -> _Candidate:
    """A key frame kept for now; its image is made beside the decoding (in `pool`: swscale
    and Pillow release the GIL), so that the decoder's threads keep going meanwhile."""
    if pool is not None:
        rendered = pool.submit(_render, frame, rotation)
    else:
        rendered = Future()
        rendered.set_result(_render(frame, rotation))
    return _Candidate(time=time, rendered=rendered, signature=signature, change=change)


def _keyframe(index: int, chosen: _Candidate) -> Keyframe:
    image = chosen.image
    factor = max(1, max(image.size) // THUMBNAIL_EDGE)
    # A box reduction by a whole factor first (fast), then the last step.
    thumb = image.reduce(factor) if factor > 1 else image.copy()
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE), Image.Resampling.BILINEAR)
    return Keyframe(
        index=index,
        time=round(chosen.time, 3),
        thumbnail=_jpeg(thumb, 80),
        image=_jpeg(chosen.image, 88),
        # As for photos: hashed from the thumbnail, one canonical reduced input.
        phash=signed64(imagehash.phash(thumb)),
        dhash=signed64(imagehash.dhash(thumb)),
        change=round(chosen.change, 4),
    )


def _frame_time(frame, stream) -> float | None:
    if frame.pts is None:
        return None
    start = stream.start_time or 0
    return float((frame.pts - start) * stream.time_base)


def _pick(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """At most `limit`, spread over the video: the greatest scene change of each of `limit`
    equal stretches of time (the first frame always kept)."""
    if len(candidates) <= limit:
        return candidates
    end = candidates[-1].time or 1.0
    buckets: dict[int, _Candidate] = {}
    for candidate in candidates:
        slot = min(limit - 1, int(candidate.time / end * limit))
        best = buckets.get(slot)
        if best is None or candidate.change > best.change:
            buckets[slot] = candidate
    picked = {id(candidates[0]): candidates[0]}  # the opening frame, always
    for slot in sorted(buckets):
        if len(picked) < limit:
            picked.setdefault(id(buckets[slot]), buckets[slot])
    # Stretches with no candidate leave room: the greatest changes elsewhere fill it.
    for candidate in sorted(candidates, key=lambda c: -c.change):
        if len(picked) >= limit:
            break
        picked.setdefault(id(candidate), candidate)
    return sorted(picked.values(), key=lambda c: c.time)


def video_analyse(
    file,
    *,
    max_pixels: int,
    max_seconds: float | None = None,
    max_keyframes: int = MAX_KEYFRAMES,
    every: float = KEYFRAME_EVERY_SECONDS,
) -> VideoAnalysis:
    """Probe, then decode the key frames alone: each one that differs from the last one kept
    by more than the scene threshold is a scene change and kept; where no change has been kept
    for `every` seconds, the last key frame before that point is kept (a frame is decoded
    there by seeking when the stream has no key frame in the stretch). At most
    `max_keyframes`, spread over the video."""
    container = _open(file, max_pixels=max_pixels)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keyframes")
    try:
        probe = _probe(container, max_pixels=max_pixels, max_seconds=max_seconds)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONKEY"
        candidates: list[_Candidate] = []
        pending: _Lazy | None = None  # the last key frame seen and not kept
        rotation = 0
        decoded = 0

        def keep(seen: _Lazy) -> None:
            candidates.append(seen.materialise(pool))

        try:
            for frame in container.decode(stream):
                time = _frame_time(frame, stream)
                if time is None:
                    continue
                decoded += 1
                if decoded == 1:
                    rotation = int(frame.rotation or 0)
                seen = _Lazy(frame, time, rotation, 1.0, _signature(frame))
                if not candidates:
                    keep(seen)
                    continue
                seen.change = _difference(seen.signature, candidates[-1].signature)
                if seen.change < SCENE_DIFFERENCE and time - candidates[-1].time > every:
                    # Too long without a keyframe: the key frame before this one, if it is
                    # past the last one kept; then this one too if still too far.
                    if pending is not None:
                        keep(pending)
                        seen.change = _difference(seen.signature, candidates[-1].signature)
                if seen.change >= SCENE_DIFFERENCE or time - candidates[-1].time > every:
                    keep(seen)
                    pending = None
                else:
                    pending = seen
        except av.error.FFmpegError as exc:
            where = candidates[-1].time if candidates else 0.0
            length = f" of {timecode(probe.duration)}" if probe.duration else ""
            raise VideoRejected(
                f"The video's data is damaged: decoding stopped at about {timecode(where)}"
                f"{length} ({str(exc)[:120]}). The file may be cut short, or be part video "
                "and part other data; ask for a complete copy."
            ) from None
        if not candidates:
            raise VideoRejected("The video has no frame that can be decoded.")
        end = probe.duration or candidates[-1].time
        # Where the stream has no key frame for longer than `every`, seek for a frame.
        filled = _fill_gaps(container, stream, candidates, end=end, every=every, rotation=rotation)
        chosen = _pick(filled, max_keyframes)
        keyframes = list(pool.map(_keyframe, range(len(chosen)), chosen))
        poster = _poster(chosen, keyframes)
        sheet = contact_sheet(keyframes)
        metadata = video_metadata(probe, rotation=rotation)
        return VideoAnalysis(
            metadata=metadata,
            keyframes=keyframes,
            poster=poster,
            contact_sheet=sheet,
            decoded=decoded,
            tags=probe.tags,
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        container.close()


class _Lazy:
    """A key frame seen but not (yet) kept: converted to an image only if it is kept."""

    def __init__(self, frame, time, rotation, change, signature):
        self.frame, self.time, self.rotation = frame, time, rotation
        self.change, self.signature = change, signature

    def materialise(self, pool=None) -> _Candidate:
        return _candidate(
            self.frame,
            time=self.time,
            rotation=self.rotation,
            change=self.change,
            signature=self.signature,
            pool=pool,
        )


def _fill_gaps(container, stream, candidates, *, end: float, every: float, rotation: int):
    out = sorted(candidates, key=lambda c: c.time)
    times = [c.time for c in out] + [end]
    wanted = []
    for a, b in zip(times, times[1:], strict=False):
        t = a + every
        while b - (t - every) > every and t < b:
            wanted.append(t)
            t += every
    if not wanted:
        return out
    stream.codec_context.skip_frame = "DEFAULT"
    for t in wanted[: MAX_KEYFRAMES * 2]:
        frame = _frame_at(container, stream, t)
        if frame is not None:
            signature = _signature(frame)
            out.append(
                _candidate(frame, time=t, rotation=rotation, change=0.0, signature=signature)
            )
    return sorted(out, key=lambda c: c.time)


def _frame_at(container, stream, t: float):
    """The first frame at or after `t` seconds (decoding from the key frame before it)."""
    start = stream.start_time or 0
    target = start + int(t / stream.time_base)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= target:
                return frame
    except av.error.FFmpegError:
        return None
    return None


def _poster(chosen: list[_Candidate], keyframes: list[Keyframe]) -> bytes:
    """The first keyframe that shows something (not a black or uniform opening frame): its
    image, as it is (POSTER_EDGE is the keyframes' own size)."""
    for candidate, keyframe in list(zip(chosen, keyframes, strict=True))[:10]:
        if float(candidate.signature.std()) > 12:
            return keyframe.image
    return keyframes[0].image


def contact_sheet(keyframes: list[Keyframe], *, columns: int = CONTACT_COLUMNS) -> bytes:
    """The keyframes on one JPEG, six to a row, each with its time."""
    thumbs = [Image.open(io.BytesIO(k.thumbnail)) for k in keyframes]
    for thumb in thumbs:
        thumb.draft("RGB", (240, 240))  # JPEG: decoded at half or quarter size
    cell_w = 240
    cell_h = max(round(cell_w * t.height / t.width) for t in thumbs) + 18
    rows = math.ceil(len(thumbs) / columns)
    sheet = Image.new("RGB", (cell_w * min(columns, len(thumbs)), cell_h * rows), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for i, (thumb, keyframe) in enumerate(zip(thumbs, keyframes, strict=True)):
        thumb = thumb.convert("RGB")
        thumb.thumbnail((cell_w, cell_h - 18), Image.Resampling.BILINEAR, reducing_gap=2.0)
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        sheet.paste(thumb, (x + (cell_w - thumb.width) // 2, y))
        draw.text((x + 4, y + cell_h - 16), timecode(keyframe.time), fill=(235, 235, 235))
    return _jpeg(sheet, 82)


def timecode(seconds: float) -> str:
    """12.5 → "0:12.500"; 3725 → "1:02:05.000"."""
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    head = f"{hours}:{minutes:02d}" if hours else f"{minutes}"
    return f"{head}:{secs:02d}.{millis:03d}"


# --- Preview ---------------------------------------------------------------------------------


def video_preview(file, out, *, max_height: int = PREVIEW_HEIGHT) -> None:
    """Write the web-playable copy of `file` to `out` (a path or a writable file): H.264
    (yuv420p, at most `max_height` lines, upright) and AAC, MP4 with its index first
    (faststart), and no metadata at all: no tag, no location, no creation time."""
    source = _open(file, max_pixels=1 << 62)  # probed already, at ingest and by the analysis
    try:
        if not source.streams.video:
            raise VideoRejected("The file has no video stream.")
        vin = source.streams.video[0]
        vin.thread_type = "AUTO"
        ain = source.streams.audio[0] if source.streams.audio else None
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        if not (0 < float(rate) <= 240):
            rate = Fraction(25)
        target = av.open(
            out,
            mode="w",
            format="mp4",
            # Nothing of the original's tags is copied; these keep the muxer from adding its
            # own (encoder name) and put the index first so that playback starts at once.
            options={"movflags": "+faststart", "fflags": "+bitexact"},
        )
        try:
            _transcode(source, target, vin, ain, rate=rate, max_height=max_height)
        finally:
            target.close()
    except av.error.FFmpegError as exc:
        raise VideoRejected(f"The preview could not be made: {str(exc)[:200]}.") from None
    finally:
        source.close()


def _first_rotation(source, vin) -> int | None:
    """The rotation of the first frame (None: no frame decodes), the container rewound."""
    rotation = None
    try:
        for frame in source.decode(vin):
            rotation = int(frame.rotation or 0)
            break
    except av.error.FFmpegError:
        pass
    source.seek(0)
    return rotation


def _transcode(source, target, vin, ain, *, rate, max_height: int) -> None:
    rotation = _first_rotation(source, vin)
    if rotation is None:
        raise VideoRejected("The video has no frame that can be decoded.")
    turned = abs(rotation) % 180 == 90
    width, height = vin.codec_context.width, vin.codec_context.height
    shown = (height, width) if turned else (width, height)
    # "720p": the shorter side at most 720 lines, whichever way up the video is.
    scale = min(1.0, max_height / min(shown))
    size = (max(2, round(shown[0] * scale / 2) * 2), max(2, round(shown[1] * scale / 2) * 2))
    # Frames are scaled before they are turned upright.
    scaled = (size[1], size[0]) if turned else size
    vout = target.add_stream("libx264", rate=rate)
    vout.pix_fmt = "yuv420p"
    vout.width, vout.height = size
    frame_time_base = Fraction(1) / Fraction(rate)
    vout.codec_context.options = {"preset": "veryfast", "crf": "26", "tune": "fastdecode"}
    aout = None
    resampler = None
    if ain is not None:
        aout = target.add_stream("aac", rate=48000)
        aout.layout = "stereo"
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
    streams = [vin] + ([ain] if ain is not None else [])
    written = 0
    try:
        for packet in source.demux(*streams):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # one damaged packet: the rest of the video still plays
            for frame in frames:
                if packet.stream is vin:
                    image = frame.reformat(width=scaled[0], height=scaled[1], format="yuv420p")
                    if rotation % 360:
                        image = _rotate_frame(image, rotation)
                    # A constant frame rate, numbered from 0: the preview plays evenly even
                    # when the original's timestamps are irregular.
                    image.pts = written
                    image.time_base = frame_time_base
                    for out_packet in vout.encode(image):
                        target.mux(out_packet)
                    written += 1
                elif aout is not None:
                    frame.pts = None
                    for resampled in resampler.resample(frame):
                        for out_packet in aout.encode(resampled):
                            target.mux(out_packet)
    except av.error.FFmpegError:
        if not written:
            raise
        # Damaged after some point: the preview stops there.
    if not written:
        raise VideoRejected("The video has no frame that can be decoded.")
    for out_packet in vout.encode(None):
        target.mux(out_packet)
    if aout is not None:
        for resampled in resampler.resample(None):
            for out_packet in aout.encode(resampled):
                target.mux(out_packet)
        for out_packet in aout.encode(None):
            target.mux(out_packet)


def _rotate_frame(frame, rotation: int):
    image = _upright(frame.to_image(), rotation)
    return av.VideoFrame.from_image(image).reformat(format="yuv420p")


def pyav_versions() -> dict[str, str]:
    """What reads and transcodes the videos, for the custody record."""
    return {"av": av.__version__, "ffmpeg": getattr(av, "ffmpeg_version_info", "")}
