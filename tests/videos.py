"""Videos made in the tests with PyAV, so that every expected value is known: duration, frame
rate, rotation, a location atom, a creation time, scene cuts at known times."""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def scene_frame(scene: int, index: int, width: int, height: int) -> np.ndarray:
    """A textured frame of scene `scene` (each scene its own pattern and colours), moving a
    little from frame to frame as a real shot does; the same picture at any size."""
    frame = _scene_frame(scene, index, 320, 240)
    if (width, height) != (320, 240):
        resized = Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR)
        frame = np.asarray(resized)
    return np.ascontiguousarray(frame)


def _scene_frame(scene: int, index: int, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(scene * 7919 + 17)
    colour = rng.integers(30, 226, size=3)
    texture = rng.integers(-50, 50, size=(height // 16 + 2, width // 16 + 2, 1))
    big = np.kron(texture, np.ones((16, 16, 1), dtype=np.int64)) + colour
    # A slow drift of the light, as in a real shot; no motion to confuse the encoder's
    # scene-cut detection.
    drift = (index % 50) // 10
    frame = np.clip(big[:height, :width] + drift, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def make_video(
    *,
    seconds: float = 4.0,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    cuts: tuple[float, ...] = (),
    rotation: int = 0,
    fmt: str = "mp4",
    codec: str = "libx264",
    metadata: dict[str, str] | None = None,
    audio: bool = False,
    gop: int | None = None,
    quicktime_tags: bool = False,
    seed: int = 0,
    faststart: bool = False,
) -> bytes:
    """A video of `seconds` at `fps` whose scene changes at each time in `cuts` (other
    footage for another `seed`)."""
    flags = (["use_metadata_tags"] if quicktime_tags else []) + (["faststart"] if faststart else [])
    options = {"movflags": "+".join(flags)} if flags else {}
    # The index first (faststart) means a second pass over a named file.
    temp = tempfile.NamedTemporaryFile(suffix=f".{fmt}") if faststart else None
    out = temp.name if temp is not None else io.BytesIO()
    container = av.open(out, mode="w", format=fmt, options=options)
    for key, value in (metadata or {}).items():
        container.metadata[key] = value
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p" if codec != "mjpeg" else "yuvj420p"
    if codec == "libx264":
        # x264's own scene-cut detection (on in every preset but ultrafast) puts a key frame at
        # each cut, as the encoders of phones, editors and platforms do.
        stream.codec_context.options = {"preset": "veryfast"}
    if gop:
        stream.codec_context.gop_size = gop
    if rotation:
        stream.set_display_rotation(rotation)
    astream = None
    if audio:
        astream = container.add_stream("aac", rate=48000)
        astream.layout = "stereo"
    total = round(seconds * fps)
    cut_frames = [round(c * fps) for c in cuts]
    for i in range(total):
        scene = sum(1 for c in cut_frames if i >= c) + 1000 * seed
        frame = av.VideoFrame.from_ndarray(scene_frame(scene, i, width, height), format="rgb24")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        if i in cut_frames:
            # A key frame at each cut, as encoders place one where the picture changes
            # (x264's scene-cut detection on real footage; editors at every edit).
            frame.pict_type = av.video.frame.PictureType.I
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    if astream is not None:
        samples = int(seconds * 48000)
        tone = (np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000) * 0.2).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = np.stack([tone[start : start + 1024]] * 2)
            aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            aframe.sample_rate = 48000
            aframe.pts = start
            for packet in astream.encode(aframe):
                container.mux(packet)
        for packet in astream.encode():
            container.mux(packet)
    container.close()
    if temp is not None:
        with temp:
            return open(temp.name, "rb").read()
    return out.getvalue()


def iphone_tags(
    *,
    location: str = "+40.1200+124.3900+012.500/",
    created: str = "2025-05-14T16:30:00+0800",
    make: str = "Apple",
    model: str = "iPhone 15",
    software: str = "17.4",
) -> dict[str, str]:
    """QuickTime metadata as an iPhone writes it (written with `quicktime_tags=True`)."""
    return {
        "com.apple.quicktime.location.ISO6709": location,
        "com.apple.quicktime.creationdate": created,
        "com.apple.quicktime.make": make,
        "com.apple.quicktime.model": model,
        "com.apple.quicktime.software": software,
    }
