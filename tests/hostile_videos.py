"""Hostile and damaged videos, made from a good one by editing its bytes: an MP4 whose `moov`
declares 10,000 streams, frames declared 30000×30000, an MP4 cut before its index, half an MP4
followed by random bytes."""

from __future__ import annotations

import io
import os
import struct
from fractions import Fraction

import av

from tests.videos import make_video, scene_frame


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, offset, size) of the ISO boxes between start and end."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size < 8:
            break
        yield kind, at, size
        at += size


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def moov_at_end(seconds: float = 2.0) -> bytes:
    """An MP4 whose index (`moov`) comes after its data, as cameras write it."""
    data = make_video(seconds=seconds)
    order = [kind for kind, _, _ in boxes(data)]
    assert order.index(b"moov") > order.index(b"mdat"), order
    return data


def without_moov() -> bytes:
    """The MP4 cut where its index would begin: a copy that stopped short."""
    data = moov_at_end()
    moov = next(at for kind, at, _ in boxes(data) if kind == b"moov")
    return data[:moov]


def many_streams(count: int = 10_000) -> bytes:
    """The `moov` repeats its video track `count` times (offsets still point into mdat)."""
    data = moov_at_end()
    moov_at, moov_size = next((at, size) for kind, at, size in boxes(data) if kind == b"moov")
    inner = list(boxes(data, moov_at + 8, moov_at + moov_size))
    trak = next(data[at : at + size] for kind, at, size in inner if kind == b"trak")
    others = b"".join(data[at : at + size] for kind, at, size in inner if kind != b"trak")
    moov = _box(b"moov", others + trak * count)
    return data[:moov_at] + moov


def declaring(width: int, height: int) -> bytes:
    """An MJPEG AVI whose header and every frame's JPEG header declare width × height."""
    data = bytearray(make_video(seconds=1.0, fps=5, width=64, height=48, fmt="avi", codec="mjpeg"))
    # avih: dwWidth, dwHeight at offsets 32 and 36 of its payload.
    at = data.find(b"avih")
    struct.pack_into("<II", data, at + 8 + 32, width, height)
    # strf (BITMAPINFOHEADER): biWidth, biHeight at offsets 4 and 8.
    at = data.find(b"strf")
    struct.pack_into("<ii", data, at + 8 + 4, width, height)
    # Each JPEG's SOF0: ff c0, length, precision, height, width.
    at = data.find(b"\xff\xc0")
    while at != -1:
        struct.pack_into(">HH", data, at + 5, height, width)
        at = data.find(b"\xff\xc0", at + 2)
    return bytes(data)


def half_random(seconds: float = 8.0) -> bytes:
    """A complete MP4 (index first) whose second half is replaced by random bytes."""
    data = make_video(seconds=seconds, cuts=(1.0, 2.0, 3.0, 5.0, 7.0), fmt="mp4", faststart=True)
    assert [kind for kind, _, _ in boxes(data)][1] == b"moov"
    rng = os.urandom(len(data) - len(data) // 2)
    return data[: len(data) // 2] + rng


def lasting(seconds: int, *, every: int = 600) -> bytes:
    """A tiny MP4 that lasts `seconds`: one frame every `every` seconds (a variable frame rate,
    as screen recordings have), so that hours of video take a moment to make."""
    out = io.BytesIO()
    container = av.open(out, mode="w", format="mp4")
    stream = container.add_stream("libx264", rate=1)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i, pts in enumerate(range(0, seconds + 1, every)):
        frame = av.VideoFrame.from_ndarray(scene_frame(i, 0, 64, 48), format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, 1)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return out.getvalue()
