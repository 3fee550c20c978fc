"""The video pipeline against the floor of decoding only the key frames (issue #15).

For 1080p H.264 clips of 1, 5 and 20 minutes (made here, with PyAV, a key frame every 2 s as
phones write them and a scene cut every 10 s; kept in a temporary folder between runs), in one
process, interleaved, the median of BENCH_VIDEO_RUNS (default 3) runs:

- *ours*: `evidence.imaging.video.video_analyse`: the header, metadata, the key frames decoded
  with `skip_frame="NONKEY"`, scene changes, keyframes (thumbnail, 1280-px image, pHash, dHash),
  poster and contact sheet;
- *floor*: opening the file and decoding its key frames alone (`skip_frame="NONKEY"`), nothing
  else: what no keyframe extraction can go below. Target: ours within 1.5× the floor.

The web-playable preview (H.264/AAC 720p transcode) is timed separately, once, on the
1-minute clip. Peak RSS (VmHWM growth) of `video_analyse` in a fresh process on a clip of about
1 GB (BENCH_VIDEO_BIG_MB, default 1024): target under 300 MB.

    .venv/bin/python benchmarks/video.py            # appends to benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._common import ROOT, machine, median, record, table, timed  # noqa: E402
from evidence.imaging.video import video_analyse, video_preview  # noqa: E402

RUNS = max(1, int(os.environ.get("BENCH_VIDEO_RUNS", "3")))
BIG_MB = int(os.environ.get("BENCH_VIDEO_BIG_MB", "1024"))
CACHE = Path(tempfile.gettempdir()) / "casefile-bench-videos"
FPS = 25
GOP = 2 * FPS
SCENE_SECONDS = 10
WIDTH, HEIGHT = 1920, 1080
MAX_PIXELS = 60_000_000


def _scenes(count: int, noise: int) -> list[np.ndarray]:
    frames = []
    for scene in range(count):
        rng = np.random.default_rng(scene)
        colour = rng.integers(30, 226, size=3)
        blocks = rng.integers(-60, 60, size=(HEIGHT // 24 + 1, WIDTH // 24 + 1, 1))
        frame = np.kron(blocks, np.ones((24, 24, 1), dtype=np.int64))[:HEIGHT, :WIDTH] + colour
        if noise:
            frame = frame + rng.integers(-noise, noise + 1, size=frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def make_clip(path: Path, *, minutes: float, crf: int = 23, noise: int = 0) -> Path:
    """A 1080p25 H.264 clip: a key frame every 2 s, a scene cut every 10 s (a key frame there
    too), light moving on the scene between cuts."""
    if path.exists():
        return path
    partial = path.with_suffix(".partial.mp4")
    scenes = _scenes(8, noise)
    with av.open(str(partial), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.codec_context.options = {"preset": "ultrafast", "crf": str(crf)}
        total = int(minutes * 60 * FPS)
        for i in range(total):
            scene = (i // (SCENE_SECONDS * FPS)) % len(scenes)
            drift = (i % FPS) // 5
            base = scenes[scene]
            # Light drifting over the scene (and for the big clip, its grain moving) keeps the
            # frames between key frames from being free to code.
            pixels = base if not noise else np.roll(base, i % 7, axis=1)
            frame = av.VideoFrame.from_ndarray(pixels + np.uint8(drift), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            if i % (SCENE_SECONDS * FPS) == 0:
                frame.pict_type = av.video.frame.PictureType.I
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def repeated(source: Path, path: Path, *, times: int) -> Path:
    """`source` played `times` over, remuxed into one file (no re-encoding: making 20 minutes
    of 1080p takes the encoder far longer than the benchmark itself)."""
    if path.exists():
        return path
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(source)) as first:
        vin = first.streams.video[0]
        span = None
    with av.open(str(partial), mode="w", format="mp4") as out:
        with av.open(str(source)) as template:
            vout = out.add_stream_from_template(template.streams.video[0])
        for copy in range(times):
            with av.open(str(source)) as container:
                vin = container.streams.video[0]
                if span is None:
                    span = int(vin.duration or round(vin.frames / FPS / vin.time_base))
                for packet in container.demux(vin):
                    if packet.dts is None:
                        continue
                    packet.pts += copy * span
                    packet.dts += copy * span
                    packet.stream = vout
                    out.mux(packet)
    partial.rename(path)
    return path


def floor(path: Path) -> int:
    """Open, decode the key frames alone: the least any keyframe extraction does."""
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONKEY"
        for _ in container.decode(stream):
            decoded += 1
    return decoded


def ours(path: Path):
    return video_analyse(str(path), max_pixels=MAX_PIXELS)


def peak_rss(path: Path) -> float:
    out = subprocess.run(  # noqa: S603 - this script, run by the same interpreter
        [sys.executable, __file__, "--memory", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory_child(path: Path) -> None:
    small = CACHE / "clip-0.1min.mp4"
    make_clip(small, minutes=0.1)
    ours(small)  # what the first video imports and allocates once
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current size
    ours(path)
    print((_status_kb("VmHWM") - before) / 1024)


def main() -> None:
    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    one = make_clip(CACHE / "clip-1min.mp4", minutes=1)
    clips = [(1, one)] + [
        (minutes, repeated(one, CACHE / f"clip-{minutes}min.mp4", times=minutes))
        for minutes in (5, 20)
    ]
    print(f"clips ready ({time.perf_counter() - started:.0f} s)", flush=True)
    rows = []
    for minutes, path in clips:
        keyframes = ours(path)
        key_frames = floor(path)  # warm both
        times = {"ours": [], "floor": []}
        for _ in range(RUNS):
            times["floor"].append(timed(lambda p=path: floor(p)))
            times["ours"].append(timed(lambda p=path: ours(p)))
        f, o = median(times["floor"]), median(times["ours"])
        rows.append(
            [
                f"{minutes} min",
                f"{path.stat().st_size / 1e6:.0f}",
                key_frames,
                len(keyframes.keyframes),
                f"{f:.2f}",
                f"{o:.2f}",
                f"**{o / f:.2f}×**",
            ]
        )
        print(rows[-1], flush=True)
    preview_rows = []
    for minutes, path in clips[:1]:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "preview.mp4"
            took = timed(lambda p=path, o=out: video_preview(str(p), str(o)))
            preview_rows.append(
                [
                    f"{minutes} min",
                    f"{took:.1f}",
                    f"{took / (minutes * 60):.2f}×",
                    f"{out.stat().st_size / 1e6:.1f}",
                ]
            )
        print(preview_rows[-1], flush=True)
    # About BIG_MB: 12 s of high-bit-rate 1080p (fine grain, crf 8), repeated.
    grain = make_clip(CACHE / "clip-grain-12s.mp4", minutes=0.2, crf=8, noise=12)
    times = max(1, round(BIG_MB * 1024 * 1024 / grain.stat().st_size))
    big = repeated(grain, CACHE / f"clip-big-{times}x.mp4", times=times)
    rss = peak_rss(big)
    body = "\n".join(
        [
            "1080p25 H.264 clips made with PyAV (a key frame every 2 s, a scene cut every 10 s), "
            f"median of {RUNS} interleaved runs in one process, seconds. *floor*: open and "
            'decode the key frames alone (`skip_frame="NONKEY"`). *ours*: `video_analyse` '
            "(metadata, key frames, scene changes, keyframes with thumbnails, 1280-px images, "
            "pHash/dHash, poster, contact sheet). Target: ours ≤ 1.5× floor.",
            "",
            table(
                ["clip", "MB", "key frames", "keyframes kept", "floor s", "ours s", "ours/floor"],
                rows,
            ),
            "",
            "The web-playable preview (decode every frame, scale to 720p, H.264 veryfast + AAC), "
            "timed once, separately:",
            "",
            table(["clip", "seconds", "× real time", "preview MB"], preview_rows),
            "",
            f"Peak RSS growth of `video_analyse` in a fresh process on a "
            f"{big.stat().st_size / 1e6:.0f} MB 1080p clip: **{rss:.0f} MB** (target < 300 MB).",
            "",
            "Re-run: `.venv/bin/python benchmarks/video.py` (clips cached in "
            f"`{CACHE}`; BENCH_VIDEO_RUNS, BENCH_VIDEO_BIG_MB).",
        ]
    )
    print(body)
    record(f"Video keyframes vs the key-frame decode floor ({machine()})", body)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        memory_child(Path(sys.argv[2]))
    else:
        main()
