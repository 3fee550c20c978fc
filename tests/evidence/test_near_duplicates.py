"""Copies that came back changed (issue #15): each social-media change of a test picture is
found as a near-duplicate through the real pipeline (ingest → processing → match recorded,
with its kind), unrelated pictures are not, the search stays exact, the match is shown in the
API, the photo page and the compare view, and photos processed before the new hashes get them
from `backfill_near_duplicates`."""

import random

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from PIL import Image

from cases.models import Activity
from evidence.imaging.hashes import (
    CANDIDATE_DISTANCE,
    COMPARED_WITH,
    STORED_WHOLE_KINDS,
    WINDOW_DISTANCE,
    content_box,
    hamming,
    hashes_compare,
    near_duplicate_hashes,
    orb_agreement,
    stored,
)
from evidence.models import Photo, PhotoHash, PhotoMatch
from evidence.services.evidence import photo_ingest
from evidence.similarity import hash_matches
from tests.api.conftest import token_client
from tests.api.test_visibility import make_photo
from tests.factories import ProtectedSourceFactory
from tests.images import jpeg_bytes, scene, upload
from tests.social_copies import TRANSFORMS, jpeg

# The transformations the issue names, and the kind each copy is recorded as.
EXPECTED = {
    "resize": "same",
    "recompress": "same",
    "greyscale": "same",
    "colour filter": "same",
    "mirror": "mirrored",
    "borders": "framed",
    "caption bar": "framed",
    "screenshot": "framed",
    "crop 10–15 %": "cropped",
}


@pytest.fixture
def process(django_capture_on_commit_callbacks, personas):
    def run(data, name="photo.jpg", **details) -> Photo:
        with django_capture_on_commit_callbacks(execute=True):
            evidence, _ = photo_ingest(
                actor=personas.reporter, case=personas.case, file=upload(data, name), **details
            )
        return Photo.objects.get(pk=evidence.pk)

    return run


def _match(a: Photo, b: Photo) -> PhotoMatch | None:
    low, high = sorted((a.pk, b.pk))
    return PhotoMatch.objects.filter(photo_a_id=low, photo_b_id=high).first()


def test_every_social_media_copy_is_found_with_its_kind_and_unrelated_photos_are_not(
    process, personas
):
    picture = scene(21, (1200, 800))
    original = process(jpeg(picture, 92), "original.jpg")
    rng = random.Random(5)  # noqa: S311 - reproducible parameters
    copies = {}
    for name in EXPECTED:
        changed, quality = TRANSFORMS[name](picture, rng)
        copies[name] = process(jpeg(changed, quality), f"{name}.jpg")
        assert copies[name].status == Photo.Status.READY
    unrelated = [process(jpeg(scene(seed, (1200, 800))), f"other-{seed}.jpg") for seed in (31, 32)]

    found = {}
    for name, copy in copies.items():
        match = _match(original, copy)
        assert match is not None, f"{name}: not found"
        found[name] = match.kind
        assert match.distance <= WINDOW_DISTANCE
    assert found == EXPECTED
    # The hashes were sure of these without local features.
    assert not _match(original, copies["resize"]).verified
    assert not _match(original, copies["mirror"]).verified
    for other in unrelated:
        assert not PhotoMatch.objects.filter(photo_a=other).exists()
        assert not PhotoMatch.objects.filter(photo_b=other).exists()
    # Every photo keeps its hashes: whole frame, mirrored, windows; the framed ones trimmed.
    kinds = set(
        PhotoHash.objects.filter(photo=copies["caption bar"]).values_list("kind", flat=True)
    )
    assert kinds == {"full", "content", *(f"window{i}" for i in range(9))}
    assert not PhotoHash.objects.filter(photo=original, kind="content").exists()


def test_a_crop_the_hashes_are_unsure_of_is_confirmed_by_local_features(process, personas):
    picture = scene(21, (1200, 800))
    original = process(jpeg(picture, 92), "original.jpg")
    # This crop's nearest hashes are 10 bits apart: a candidate, not sure (checked below).
    changed, quality = TRANSFORMS["crop 10–15 %"](picture, random.Random(6))  # noqa: S311
    crop = process(jpeg(changed, quality), "crop.jpg")
    candidate = hashes_compare(
        near_duplicate_hashes(Image.open(crop.thumbnail.path)).hashes,
        dict(original.near_hashes.values_list("kind", "value")),
    )
    assert candidate.kind == "cropped" and not candidate.sure
    match = _match(original, crop)
    assert (match.kind, match.verified, match.distance) == ("cropped", True, candidate.distance)
    # An unrelated picture is matched with neither.
    other = process(jpeg(scene(33, (1200, 800)), 90), "other.jpg")
    assert _match(original, other) is None and _match(crop, other) is None


def test_trimming_finds_the_picture_inside_a_caption_bar_letterbox_and_screenshot():
    picture = scene(22, (600, 400))
    rng = random.Random(1)  # noqa: S311
    for name in ("caption bar", "borders", "screenshot"):
        changed, _ = TRANSFORMS[name](picture, rng)
        changed.thumbnail((400, 400))
        left, top, right, bottom = content_box(np.asarray(changed.convert("L"), dtype=np.float32))
        scale = changed.width / (right - left)
        # The box holds the picture's shape (to a few pixels), not the bars.
        assert abs((bottom - top) * scale - changed.width * 400 / 600) < 8, name
    # A plain picture is left whole.
    plain = np.asarray(picture.convert("L"), dtype=np.float32)
    assert content_box(plain) == (0, 0, 600, 400)


def test_orb_tells_a_crop_and_a_mirror_from_an_unrelated_picture():
    picture = scene(23, (400, 300))
    crop = picture.crop((40, 30, 380, 285)).resize((400, 300))
    assert orb_agreement(picture, crop).same
    mirrored = orb_agreement(picture, picture.transpose(0))
    assert mirrored.same and mirrored.mirrored
    assert not orb_agreement(picture, scene(24, (400, 300))).same


def test_two_screenshots_of_different_pictures_do_not_match_by_their_shared_frame():
    rng = random.Random(3)  # noqa: S311
    one, _ = TRANSFORMS["screenshot"](scene(25, (900, 600)), rng)
    two, _ = TRANSFORMS["screenshot"](scene(26, (900, 600)), rng)
    a, b = near_duplicate_hashes(one), near_duplicate_hashes(two)
    assert a.trimmed and b.trimmed
    candidate = hashes_compare(a.hashes, stored(b.hashes))
    assert candidate is None or not candidate.sure


def _planted(rng, base: int, bits: int) -> int:
    value = base
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value


def test_hash_search_is_exact_against_every_pair(personas):
    """hash_matches answers from the part indexes; it must find every photo with a stored hash
    within reach of one of the query's (by COMPARED_WITH), as comparing them all would."""
    rng = random.Random(9)  # noqa: S311
    query = {kind: rng.getrandbits(64) for kind in ("full", "mirror", "content", "window0")}
    kept = {}
    for n in range(1, 41):
        photo = make_photo(personas.case, personas.reporter, n=n).photo
        hashes = {}
        for kind in ("full", "content", "window0", "window5"):
            base = rng.choice(list(query.values())) if rng.random() < 0.6 else rng.getrandbits(64)
            hashes[kind] = _planted(rng, base, rng.randint(0, 14))
        for kind, value in hashes.items():
            PhotoHash.objects.create(
                photo=photo, kind=kind, value=value, whole=kind in STORED_WHOLE_KINDS
            )
        kept[photo.pk] = hashes

    def reachable(theirs):
        return any(
            hamming(value, theirs[other]) <= max(CANDIDATE_DISTANCE, WINDOW_DISTANCE)
            for kind, value in query.items()
            for other in COMPARED_WITH[kind]
            if other in theirs
        )

    expected = {pk for pk, theirs in kept.items() if reachable(theirs)}
    got = hash_matches(hashes=query, case_id=personas.case.pk)
    assert expected and set(got) == expected
    # Each photo found comes with all its stored hashes.
    assert all(got[pk] == kept[pk] for pk in got)
    assert hash_matches(hashes=query, case_id=personas.case.pk + 1000) == {}


def test_the_match_kind_is_in_the_api_the_photo_page_and_the_compare_view(process, personas):
    secret = ProtectedSourceFactory(case=personas.case, pseudonym="Source in China")
    picture = scene(27, (1200, 800))
    original = process(jpeg_bytes(picture, quality=92), "original.jpg")
    mirrored = process(jpeg(picture.transpose(0), 85), "mirrored.jpg", source=secret)
    match = _match(original, mirrored)
    assert match.kind == "mirrored"

    body = token_client(personas.viewer).get(f"/api/v1/evidence/{original.pk}/similar/").json()
    row = body["results"][0]
    assert {k: row[k] for k in ("evidence", "kind", "verified", "distance", "source_name")} == {
        "evidence": mirrored.pk,
        "kind": "mirrored",
        "verified": match.verified,
        "distance": match.distance,
        "source_name": "Source in China",
    }
    client = Client()
    client.force_login(personas.viewer)
    page = client.get(f"/evidence/{original.pk}/").content.decode()
    assert "Mirrored" in page and secret.name not in page
    url = f"/cases/{personas.case.pk}/compare/?a={original.pk}&b={mirrored.pk}"
    compare = client.get(url).content.decode()
    assert "Near-duplicate: mirrored" in compare and secret.name not in compare


def test_backfill_gives_old_photos_their_hashes_and_records_what_they_find(process, personas):
    picture = scene(28, (1200, 800))
    old = process(jpeg(picture, 92), "old.jpg")
    rng = random.Random(2)  # noqa: S311
    caption, quality = TRANSFORMS["caption bar"](picture, rng)
    copy = process(jpeg(caption, quality), "caption.jpg")
    # As processed before this change: no hashes, no match.
    PhotoMatch.objects.all().delete()
    PhotoHash.objects.all().delete()

    call_command("backfill_near_duplicates", "--dry-run")
    assert not PhotoHash.objects.exists()
    call_command("backfill_near_duplicates")
    assert PhotoHash.objects.filter(photo=old, kind="full").exists()
    assert PhotoHash.objects.filter(photo=copy, kind="content").exists()
    assert _match(old, copy).kind == "framed"
    rows = Activity.objects.filter(verb="photo.hashed")
    assert sorted(rows.values_list("target_id", flat=True)) == sorted([old.pk, copy.pk])
    # Again: nothing left to do, nothing duplicated.
    call_command("backfill_near_duplicates")
    assert Activity.objects.filter(verb="photo.hashed").count() == 2
    assert PhotoMatch.objects.count() == 1
