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
- `window0` … `window8`: the pHash of nine windows of the content, 86 % of each side, on a
  3 × 3 grid (corners, edge centres, centre). A copy cropped by 10–15 % is close to one of them:
  its `full` lands near the original's window, or, when the crop came first, the original's
  window lands near the crop's `full`.

Every hash is 64 bits, so one multi-index search (evidence/similarity.py, `hash_matches`)
answers all of them from indexes, exactly. `hashes_compare` decides: whole-picture hashes
(`full`, `mirror`, `content`, `content_mirror`) within SURE_DISTANCE of each other, or a whole
hash within SURE_WINDOW_DISTANCE of a window, are the same picture; whole against whole up to
CANDIDATE_DISTANCE, or against a window up to WINDOW_DISTANCE, is a candidate checked with local
features (`orb_agreement`: OpenCV's ORB keypoints on both pictures without their borders,
matched and fitted with one RANSAC similarity transform), which tells a crop from an unrelated
picture that happens to be near. Window against window never counts.

Why not PDQ (Meta's 256-bit hash, as Check uses it): measured beside these in
benchmarks/near_dup_quality.py, PDQ of the whole frame (its dihedral hashes included) finds
what the whole-frame pHash finds and, like it, neither crops nor framed copies; a 256-bit hash
would also need a multi-index of its own (16 parts) for an exact indexed search at radius 31.
What finds those copies is trimming, windows and ORB, and they work with the 64-bit pHash the
search already indexes.

All of it is computed from the thumbnail the pipeline already has (`near_duplicate_hashes(image)`,
any PIL image: a video keyframe too): borders found at its size, the thirteen 32×32 reductions
taken from a 128-pixel copy and hashed in one matrix product, about 2 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

# The hashes are taken from the picture (or its content) reduced so that its long edge is this
# many pixels: enough for a 32×32 reduction, a tenth of the work of the thumbnail itself.
WORK_EDGE = 128
# Windows: this fraction of each side of the content, at the centre and the four corners.
WINDOW_SCALE = 0.86
WINDOW_KINDS = tuple(f"window{i}" for i in range(9))
WHOLE_KINDS = ("full", "mirror", "content", "content_mirror")
KINDS = WHOLE_KINDS + WINDOW_KINDS
# What is stored of a photo's hashes (evidence.models.PhotoHash): not the mirrored ones, since
# a mirrored copy is found by its own `mirror` against the stored `full` (whichever came
# first); the windows are, since the crop may come after the original or before it.
STORED_WHOLE_KINDS = ("full", "content")
STORED_KINDS = STORED_WHOLE_KINDS + WINDOW_KINDS
# The stored kinds that each kind of a new photo's hashes is compared with: its whole frame and
# content with everything (a window of the other is a crop of it), the rest with whole frames.
COMPARED_WITH = {
    kind: STORED_KINDS if kind in STORED_WHOLE_KINDS else STORED_WHOLE_KINDS for kind in KINDS
}


def stored(hashes: dict[str, int]) -> dict[str, int]:
    """The hashes of a photo that are kept for the photos that come after it."""
    return {kind: value for kind, value in hashes.items() if kind in STORED_KINDS}


# A row or column is plain (part of a border) when its pixels' standard deviation is at most
# this many grey levels (JPEG noise around a flat colour stays well below it, text does not).
PLAIN_STD = 4.0
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
    return lines.std(axis=1) <= PLAIN_STD


def _busiest_run(plain: np.ndarray) -> tuple[int, int]:
    """The longest run of non-plain lines, as (start, stop). A single plain line between busy
    ones (a flat line inside the picture) is bridged; longer plain runs cut."""
    busy = ~plain
    filled = busy.copy()
    filled[1:-1] |= busy[:-2] & busy[2:]
    edges = np.diff(np.concatenate(([0], filled.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return 0, len(plain)
    longest = int(np.argmax(stops - starts))
    return int(starts[longest]), int(stops[longest])


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


# The 8 lowest rows of the 32-point DCT-II as scipy.fftpack.dct computes it (unnormalised):
# the low 8×8 of the 2-D DCT of X is D @ X @ D.T.
_DCT = 2 * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(32) + 1) / 64)


def _phashes(stack: np.ndarray) -> list[int]:
    """imagehash's pHash of each 32×32 grey array of `stack` (the DCT's 8×8 lowest frequencies
    against their median), as signed 64-bit integers, in one pass."""
    low = (_DCT @ stack @ _DCT.T).reshape(len(stack), 64)
    bits = np.packbits(low > np.median(low, axis=1, keepdims=True), axis=1)
    return [signed64(int.from_bytes(row.tobytes(), "big")) for row in bits]


def _reduction(image: Image.Image, box=None) -> np.ndarray:
    return np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR, box=box), np.float64)


def _reduced(grey: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """A box of the picture, reduced (box filter) so that its long edge is WORK_EDGE."""
    width, height = box[2] - box[0], box[3] - box[1]
    scale = min(1.0, WORK_EDGE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return grey.resize(size, Image.Resampling.BOX, box=box)


@dataclass(frozen=True)
class NearDuplicateHashes:
    """The hashes of one picture, by kind (see the module docstring), and whether borders were
    trimmed (then `content` and `content_mirror` are present)."""

    hashes: dict[str, int]
    trimmed: bool
    box: tuple[int, int, int, int]


def near_duplicate_hashes(image: Image.Image) -> NearDuplicateHashes:
    """Every near-duplicate hash of a picture (a PIL image of any mode and size: a photo's
    thumbnail, a video keyframe). About a millisecond or two for a 400-pixel thumbnail: the
    borders are found at the thumbnail's size, the hashes taken from reductions of it to
    WORK_EDGE pixels."""
    grey = image.convert("L")
    width, height = grey.size
    box = content_box(np.asarray(grey, dtype=np.float32))
    trimmed = box != (0, 0, width, height)
    # The 32×32 reductions, mirrors read right to left (the filter is symmetric), hashed at once.
    kinds, stack = [], []
    whole = _reduction(_reduced(grey, (0, 0, width, height)))
    kinds += ["full", "mirror"]
    stack += [whole, whole[:, ::-1]]
    content = _reduced(grey, box)
    if trimmed:
        inside = _reduction(content)
        kinds += ["content", "content_mirror"]
        stack += [inside, inside[:, ::-1]]
    cw, ch = content.size
    ww, wh = cw * WINDOW_SCALE, ch * WINDOW_SCALE
    for index, kind in enumerate(WINDOW_KINDS):
        x, y = (cw - ww) * (index % 3) / 2, (ch - wh) * (index // 3) / 2
        kinds.append(kind)
        stack.append(_reduction(content, (x, y, x + ww, y + wh)))
    hashes = dict(zip(kinds, _phashes(np.stack(stack)), strict=True))
    return NearDuplicateHashes(hashes=hashes, trimmed=trimmed, box=box)


# --- Local features ------------------------------------------------------------------------------

ORB_FEATURES = 500
# FAST's corner threshold: lower than OpenCV's 20, so that smooth pictures get keypoints too.
ORB_FAST_THRESHOLD = 8
# Agreement: at least this many keypoint matches consistent with one similarity transform.
ORB_MIN_INLIERS = 12
ORB_MIN_RATIO = 0.15


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


def _trimmed(image: Image.Image) -> Image.Image:
    """The picture without its uniform borders (`content_box`), so that two screenshots of one
    app, or two photos with the same caption bar, are not matched by their shared frame."""
    box = content_box(np.asarray(image.convert("L"), dtype=np.float32))
    return image.crop(box) if box != (0, 0, *image.size) else image


def orb_agreement(a: Image.Image, b: Image.Image) -> Agreement:
    """Whether two pictures show the same picture, by ORB keypoints on each without its
    borders: matched with Lowe's ratio test and fitted with one similarity transform
    (rotation, uniform scale, shift) by RANSAC; tried against `b` and `b` mirrored. Tens of
    milliseconds for two 400-pixel thumbnails."""
    import cv2  # OpenCV is large: loaded only when a candidate needs checking

    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=ORB_FAST_THRESHOLD)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    a, b = _trimmed(a), _trimmed(b)
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
# A whole-picture hash within this many bits of a window of the other: a crop, sure without
# local features (flat pictures give ORB too few keypoints). Among the benchmark's unrelated
# pairs no whole hash came nearer than 14 bits to a window.
SURE_WINDOW_DISTANCE = 6
# A whole-picture hash against a window of the other (a crop): candidates within this many bits.
WINDOW_DISTANCE = 12


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


def hashes_compare(new: dict[str, int], earlier: dict[str, int]) -> Candidate | None:
    """The best reason to think two pictures are the same: `new`, every hash of the photo
    being processed (`near_duplicate_hashes(...).hashes`), against `earlier`, the stored hashes
    of one that came before (`stored(...)`); None when no pair is within reach: whole against
    whole within CANDIDATE_DISTANCE, whole against a window within WINDOW_DISTANCE. Window
    against window never counts (two crops of unrelated pictures look alike too often). Sure:
    whole against whole within SURE_DISTANCE, unless it is the full frames of two pictures that
    both had borders (two screenshots of one app share their frame, not their picture), or a
    whole frame within SURE_WINDOW_DISTANCE of a window."""
    framed = "content" in new and "content" in earlier
    best: tuple[tuple[int, int, int], str, str] | None = None
    for kind_a, value_a in new.items():
        for kind_b in COMPARED_WITH[kind_a]:
            value_b = earlier.get(kind_b)
            if value_b is None:
                continue
            whole = kind_a in WHOLE_KINDS and kind_b in WHOLE_KINDS
            distance = hamming(value_a, value_b)
            if distance > (CANDIDATE_DISTANCE if whole else WINDOW_DISTANCE):
                continue
            frames = (
                framed and not kind_a.startswith("content") and not kind_b.startswith("content")
            )
            # Prefer what is sure, then the nearest, then whole-picture pairs.
            sure = (whole and distance <= SURE_DISTANCE and not frames) or (
                not whole and distance <= SURE_WINDOW_DISTANCE
            )
            rank = (0 if sure else 1, distance, 0 if whole else 1)
            if best is None or rank < best[0]:
                best = (rank, kind_a, kind_b)
    if best is None:
        return None
    (unsure, distance, _), kind_a, kind_b = best
    return Candidate(distance=distance, kind=_kind_of(kind_a, kind_b), sure=not unsure)
