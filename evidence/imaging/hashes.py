"""Perceptual hashes as signed 64-bit integers (what PostgreSQL's bigint holds), the Hamming
distance between two of them, and the hashes that find a picture again after social media has
changed it. No ORM here.

Why several hashes per picture. A 64-bit pHash of the whole frame survives resizing,
re-encoding, greyscale and colour filters, but not what platforms and people do to the frame:
a mirrored copy flips about half the bits; a caption bar, letterbox or screenshot border adds
content the original does not have; a 10–15 % crop moves everything. So besides the pHash of the
whole picture (`full`) each picture gets:

- `mirror`: the pHash of the picture mirrored left to right, so that a mirrored copy's `full`
  lands near the original's `mirror` (and the other way round);
- `content` and `content_mirror`: the same two for the picture with its uniform borders
  trimmed (`content_box`: letterbox and pillarbox bars, a caption bar's plain background, the
  flat margins and bars of a screenshot), present only when something was trimmed;
- `window0` … `window4`: the pHash of five windows of the content, 86 % of each side, at the
  centre and the four corners. A copy cropped by 10–15 % is close to one of them: its `full`
  lands near the original's window, or, when the crop came first, the original's window lands
  near the crop's `full`.

Every hash is 64 bits, so one multi-index search (evidence/similarity.py) answers all of them
from indexes, exactly. A pair is a near-duplicate when a whole-picture hash (`full`, `mirror`,
`content`, `content_mirror`) of one is within the radius of any hash of the other; a pair that
only windows connect, or that is only just within reach, is checked with local features
(`orb_agreement`: OpenCV's ORB keypoints, matched and fitted with a RANSAC similarity), which
also tells a crop from an unrelated picture with the same layout. PDQ (`pdq`, Meta's 256-bit
hash, as ThreatExchange and Check use it) is kept beside them as a second opinion on the
candidates and for exchange with other tools.

All of it is computed from one small greyscale image made once from the thumbnail the pipeline
already has (`near_duplicate_hashes(image)`, a PIL image of any size): a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
import scipy.fftpack
from PIL import Image

# The working size: the thumbnail reduced so its long edge is this many pixels; the borders are
# found and the windows cut on it.
WORK_EDGE = 400
# Windows: this fraction of each side of the content, at the centre and the four corners.
WINDOW_SCALE = 0.86
WINDOW_KINDS = tuple(f"window{i}" for i in range(9))
WHOLE_KINDS = ("full", "mirror", "content", "content_mirror")
KINDS = WHOLE_KINDS + WINDOW_KINDS

# A row or column is plain (part of a border) when its pixels' spread stays within this many
# grey levels (robust to JPEG noise around a flat colour).
PLAIN_SPREAD = 10.0
# Plain runs this short (in pixels of the thumbnail) inside busy content are bridged.
BRIDGE = 1
# Trimming stops short of leaving less than this fraction of a side.
MIN_CONTENT = 0.2


def signed64(value: imagehash.ImageHash | int) -> int:
    unsigned = value if isinstance(value, int) else int(str(value), 16)
    unsigned &= (1 << 64) - 1
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


# --- Borders -------------------------------------------------------------------------------------


def _plain(lines: np.ndarray) -> np.ndarray:
    """For each row of `lines` (rows × pixels), whether it is a flat colour."""
    low, high = np.percentile(lines, [4, 96], axis=1)
    return (high - low) <= PLAIN_SPREAD


def _busiest_run(plain: np.ndarray) -> tuple[int, int]:
    """The longest run of non-plain lines, as (start, stop). Plain runs inside the picture (a
    flat sky, a uniform wall) cut it only when they reach an edge or are longer than 2 % of the
    side: shorter ones are bridged."""
    n = len(plain)
    busy = ~plain
    bridge = BRIDGE
    # Bridge short plain gaps between busy lines.
    filled = busy.copy()
    index = 0
    while index < n:
        if not busy[index]:
            end = index
            while end < n and not busy[end]:
                end += 1
            if index > 0 and end < n and end - index <= bridge:
                filled[index:end] = True
            index = end
        else:
            index += 1
    best, start = (0, n), None
    best_length = 0
    for i in range(n + 1):
        if i < n and filled[i]:
            if start is None:
                start = i
        elif start is not None:
            if i - start > best_length:
                best, best_length = (start, i), i - start
            start = None
    return best if best_length else (0, n)


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of a greyscale picture without its uniform borders:
    bars above and below (letterbox, a caption bar's background and the text on it, the status
    bar and app chrome of a screenshot), then bars left and right, then rows again within those
    columns. The whole picture when trimming would leave less than MIN_CONTENT of a side."""
    height, width = grey.shape
    top, bottom = _busiest_run(_plain(grey))
    left, right = _busiest_run(_plain(grey[top:bottom].T))
    top2, bottom2 = _busiest_run(_plain(grey[top:bottom, left:right]))
    top, bottom = top + top2, top + bottom2
    if (bottom - top) < MIN_CONTENT * height or (right - left) < MIN_CONTENT * width:
        return 0, 0, width, height
    return left, top, right, bottom


# --- Hashes --------------------------------------------------------------------------------------


def _phash(grey: Image.Image) -> int:
    """imagehash's pHash (32×32 DCT, the 8×8 lowest frequencies against their median), from a
    greyscale image, as a signed 64-bit integer."""
    pixels = np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    bits = (dct > np.median(dct)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return signed64(value)


def _pair(grey: Image.Image) -> tuple[int, int]:
    return _phash(grey), _phash(grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def working_image(image: Image.Image) -> Image.Image:
    """The greyscale working copy: long edge at most WORK_EDGE pixels (never enlarged)."""
    grey = image.convert("L")
    scale = WORK_EDGE / max(grey.size)
    if scale < 1:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BOX)
    return grey


def pdq(image: Image.Image) -> tuple[str, int]:
    """Meta's PDQ hash of an RGB image, as 64 hex digits, and its quality (0–100; below 50 the
    picture is too flat for the hash to mean much)."""
    import pdqhash  # a compiled extension: loaded once, on first use

    pixels = np.asarray(image.convert("RGB"))
    bits, quality = pdqhash.compute(pixels)
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:064x}", int(quality)


def pdq_distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class NearDuplicateHashes:
    """The hashes of one picture, by kind (see the module docstring), and whether borders were
    trimmed (then `content` and `content_mirror` are present)."""

    hashes: dict[str, int]
    trimmed: bool
    box: tuple[int, int, int, int]


def near_duplicate_hashes(image: Image.Image) -> NearDuplicateHashes:
    """Every near-duplicate hash of a picture (a PIL image of any mode and size: a photo's
    thumbnail, a video keyframe). A few milliseconds for a 400-pixel thumbnail."""
    grey = working_image(image)
    width, height = grey.size
    box = content_box(np.asarray(grey, dtype=np.float32))
    hashes: dict[str, int] = {}
    hashes["full"], hashes["mirror"] = _pair(grey)
    trimmed = box != (0, 0, width, height)
    content = grey.crop(box) if trimmed else grey
    if trimmed:
        hashes["content"], hashes["content_mirror"] = _pair(content)
    cw, ch = content.size
    ww, wh = max(1, round(cw * WINDOW_SCALE)), max(1, round(ch * WINDOW_SCALE))
    origins = [((cw - ww) * i // 2, (ch - wh) * j // 2) for j in range(3) for i in range(3)]
    for kind, (x, y) in zip(WINDOW_KINDS, origins, strict=True):
        hashes[kind] = _phash(content.crop((x, y, x + ww, y + wh)))
    scale = image.width / width
    full_box = tuple(round(v * scale) for v in box)
    return NearDuplicateHashes(hashes=hashes, trimmed=trimmed, box=full_box)


# --- Local features ------------------------------------------------------------------------------

ORB_FEATURES = 500
# FAST's corner threshold: lower than OpenCV's 20, so that smooth pictures get keypoints too.
ORB_FAST_THRESHOLD = 8
# Agreement: at least this many keypoint matches consistent with one similarity transform.
ORB_MIN_INLIERS = 20
ORB_MIN_RATIO = 0.25


@dataclass(frozen=True)
class Agreement:
    """What local features say of two pictures: how many matched keypoints one similarity
    transform explains, whether that makes them the same picture, and whether the transform
    mirrors (a mirrored copy is matched against the mirrored picture)."""

    inliers: int
    matches: int
    same: bool
    mirrored: bool
    scale: float


def _orb_grey(image: Image.Image, edge: int = 400) -> np.ndarray:
    grey = image.convert("L")
    scale = edge / max(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
        )
    return np.asarray(grey)


def _orb_fit(cv2, orb, matcher, a_desc, a_points, b: np.ndarray) -> tuple[int, int, float]:
    b_points, b_desc = orb.detectAndCompute(b, None)
    if a_desc is None or b_desc is None or len(b_points) < 8:
        return 0, 0, 1.0
    pairs = matcher.knnMatch(a_desc, b_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 8:
        return 0, len(good), 1.0
    src = np.float32([a_points[m.queryIdx].pt for m in good])
    dst = np.float32([b_points[m.trainIdx].pt for m in good])
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0
    )
    if transform is None or mask is None:
        return 0, len(good), 1.0
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    return int(mask.sum()), len(good), scale


def orb_agreement(a: Image.Image, b: Image.Image) -> Agreement:
    """Whether two pictures show the same picture, by ORB keypoints: matched with Lowe's ratio
    test and fitted with one similarity transform (rotation, uniform scale, shift) by RANSAC;
    tried against `b` and `b` mirrored. Tens of milliseconds for two 400-pixel thumbnails."""
    import cv2  # OpenCV is large: loaded only when a candidate needs checking

    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=ORB_FAST_THRESHOLD)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    a_grey = _orb_grey(a)
    a_points, a_desc = orb.detectAndCompute(a_grey, None)
    if a_desc is None or len(a_points) < 8:
        return Agreement(0, 0, False, False, 1.0)
    b_grey = _orb_grey(b)
    best = None
    for mirrored, candidate in ((False, b_grey), (True, np.ascontiguousarray(b_grey[:, ::-1]))):
        inliers, matches, scale = _orb_fit(cv2, orb, matcher, a_desc, a_points, candidate)
        if best is None or inliers > best.inliers:
            same = (
                inliers >= ORB_MIN_INLIERS
                and inliers >= ORB_MIN_RATIO * matches
                and 0.2 <= scale <= 5.0
            )
            best = Agreement(inliers, matches, same, mirrored, scale)
    return best


# --- Deciding ------------------------------------------------------------------------------------

# A whole-picture hash of one within this many bits of a whole-picture hash of the other: the
# same picture, no further check (today's rule for the pHash, kept).
SURE_DISTANCE = 8
# Within this many bits (whole against whole, or whole against a window): a candidate, decided
# by local features. The database search uses this radius.
CANDIDATE_DISTANCE = 12
# A whole-picture hash against a window of the other (a crop): candidates within this many bits.
WINDOW_DISTANCE = 14


class MatchKind:
    """What kind of copy a match is, as shown beside it."""

    SAME = "same"  # resized, re-encoded, greyscale, colour filters: the whole frame
    MIRRORED = "mirrored"
    FRAMED = "framed"  # borders, letterbox, caption bar, screenshot
    CROPPED = "cropped"

    LABELS = {
        SAME: "same frame",
        MIRRORED: "mirrored",
        FRAMED: "borders, caption or screenshot",
        CROPPED: "cropped",
    }


def _kind_of(kind_a: str, kind_b: str) -> str:
    kinds = {kind_a, kind_b}
    if any(k.startswith("window") for k in kinds):
        return MatchKind.CROPPED
    if ("mirror" in kind_a) != ("mirror" in kind_b):
        return MatchKind.MIRRORED
    # The trimmed picture of one against the whole frame of the other: borders were added.
    if (kind_a.startswith("content")) != (kind_b.startswith("content")):
        return MatchKind.FRAMED
    return MatchKind.SAME


@dataclass(frozen=True)
class Candidate:
    """The nearest pair of hashes between two pictures: its distance, the kind of copy that
    pair says, and whether that is sure without looking at local features."""

    distance: int
    kind: str
    sure: bool


def hashes_compare(a: dict[str, int], b: dict[str, int]) -> Candidate | None:
    """The best reason to think two pictures (their `near_duplicate_hashes(...).hashes`) are
    the same, or None when no pair of their hashes is within reach: whole against whole within
    CANDIDATE_DISTANCE, whole against a window within WINDOW_DISTANCE. Window against window
    never counts (two crops of unrelated pictures look alike too often). Sure: whole against
    whole within SURE_DISTANCE, unless it is the full frames of two pictures that both had
    borders (two screenshots of one app share their frame, not their picture)."""
    framed = "content" in a and "content" in b
    best: tuple[int, int, str, str] | None = None
    for kind_a, value_a in a.items():
        whole_a = kind_a in WHOLE_KINDS
        for kind_b, value_b in b.items():
            whole = whole_a and kind_b in WHOLE_KINDS
            if not whole_a and kind_b not in WHOLE_KINDS:
                continue
            distance = hamming(value_a, value_b)
            if distance > (CANDIDATE_DISTANCE if whole else WINDOW_DISTANCE):
                continue
            frames = (
                framed and not kind_a.startswith("content") and not kind_b.startswith("content")
            )
            # Prefer what is sure, then the nearest, then whole-picture pairs.
            sure = whole and distance <= SURE_DISTANCE and not frames
            rank = (0 if sure else 1, distance, 0 if whole else 1)
            if best is None or rank < best[0]:
                best = (rank, kind_a, kind_b)
    if best is None:
        return None
    (unsure, distance, _), kind_a, kind_b = best
    return Candidate(distance=distance, kind=_kind_of(kind_a, kind_b), sure=not unsure)
