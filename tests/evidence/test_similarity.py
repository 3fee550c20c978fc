"""The near-duplicate search answers from the part indexes exactly what a full scan answers."""

import random

import pytest
from django.db import connection

from evidence.models import Evidence, Photo
from evidence.similarity import (
    MAX_PROBES,
    hamming,
    phash_parts,
    photos_within,
    photos_within_scan,
    probes,
    thresholds,
    to_signed,
)
from tests.factories import CaseFactory, UserFactory
from tests.snapshot import session_snapshot

pytestmark = pytest.mark.django_db

EXTREMES = [0, -1, 1, -(2**63), 2**63 - 1, to_signed(0x8000_0000_0000_0001), 0x7FFF_0000_FFFF_0000]


def _flip(value: int, bits: int, rng: random.Random) -> int:
    """`value` with `bits` distinct random bits flipped."""
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return to_signed(value)


def _photos(case, user, hashes: list[int | None], start: int = 0) -> list[Photo]:
    evidence = Evidence.objects.bulk_create(
        Evidence(
            case=case,
            kind=Evidence.Kind.PHOTO,
            collected_by=user,
            sha256=f"{start + n:064x}",
            original_name=f"photo-{start + n}.jpg",
        )
        for n in range(len(hashes))
    )
    return Photo.objects.bulk_create(
        Photo(evidence=item, phash=phash) for item, phash in zip(evidence, hashes, strict=True)
    )


def build_archive():
    """Two cases: 3,000 random hashes, and clusters planted at every distance 0–14 around a few
    query hashes (some of them in the other case)."""
    rng = random.Random(20261128)  # noqa: S311 - test data, not a secret
    user = UserFactory()
    case, other = CaseFactory(created_by=user), CaseFactory(created_by=user)
    queries = [to_signed(rng.getrandbits(64)) for _ in range(4)] + EXTREMES[:3]
    hashes = [to_signed(rng.getrandbits(64)) for _ in range(3000)] + EXTREMES
    planted = [_flip(q, d, rng) for q in queries for d in range(15) for _ in range(2)]
    hashes += planted[::2] + [None, None]
    _photos(case, user, hashes)
    _photos(other, user, planted[1::2], start=len(hashes))
    return case, other, queries, hashes


# Made once and restored into each test (tests/snapshot.py).
_archive_snapshot = session_snapshot(build_archive)


@pytest.fixture
def archive(_archive_snapshot, db):
    return _archive_snapshot.restore()


def _brute_force(photos: list[tuple[int, int | None]], query: int, radius: int):
    return sorted(
        (hamming(query, phash), pk)
        for pk, phash in photos
        if phash is not None and hamming(query, phash) <= radius
    )


def test_database_computes_the_same_parts_as_python(archive):
    for pk, phash, *parts in Photo.objects.filter(phash__isnull=False).values_list(
        "pk", "phash", "phash_part0", "phash_part1", "phash_part2", "phash_part3"
    ):
        assert tuple(parts) == phash_parts(phash), (pk, phash)
    assert set(Photo.objects.filter(phash__isnull=True).values_list("phash_part0", flat=True)) == {
        None
    }


@pytest.mark.parametrize("radius", [0, 1, 3, 4, 5, 8, 10, 12, 14])
def test_index_search_returns_exactly_the_rows_of_a_full_scan(archive, radius):
    case, other, queries, _ = archive
    every = list(Photo.objects.values_list("pk", "phash"))
    in_case = list(Photo.objects.filter(evidence__case=case).values_list("pk", "phash"))
    found_any = 0
    for query in queries:
        expected = _brute_force(every, query, radius)
        fast = [(p.distance, p.pk) for p in photos_within(phash=query, max_distance=radius)]
        scan = [(p.distance, p.pk) for p in photos_within_scan(phash=query, max_distance=radius)]
        assert fast == expected
        assert scan == expected
        scoped = photos_within(phash=query, max_distance=radius, case_id=case.pk)
        assert [(p.distance, p.pk) for p in scoped] == _brute_force(in_case, query, radius)
        found_any += len(expected)
    # The planted clusters make every radius find something beyond the query hashes themselves.
    assert found_any > len(queries)


def test_random_queries_far_from_anything_agree_with_the_scan(archive):
    rng = random.Random(7)  # noqa: S311 - test data, not a secret
    every = list(Photo.objects.values_list("pk", "phash"))
    for _ in range(20):
        query = to_signed(rng.getrandbits(64))
        for radius in (8, 10, 16):
            fast = [(p.distance, p.pk) for p in photos_within(phash=query, max_distance=radius)]
            assert fast == _brute_force(every, query, radius)


def test_unsigned_query_is_the_same_hash_as_its_signed_form(archive):
    query = archive[2][0]
    unsigned = query & (2**64 - 1)
    assert list(photos_within(phash=unsigned, max_distance=8)) == list(
        photos_within(phash=query, max_distance=8)
    )


def test_exclude_leaves_out_the_photo_itself(archive):
    case, _, queries, _ = archive
    itself = Photo.objects.filter(evidence__case=case, phash=queries[0]).first()
    found = photos_within(phash=queries[0], max_distance=8, case_id=case.pk, exclude=itself.pk)
    assert found.exists()
    assert itself.pk not in {p.pk for p in found}
    everything = [itself.pk] + [p.pk for p in found]
    assert not photos_within(phash=queries[0], max_distance=8, case_id=case.pk, exclude=everything)
    assert not photos_within(phash=queries[0], max_distance=-1).exists()


def test_thresholds_leave_no_match_unprobed():
    # If every part differed by more than its threshold the total would exceed the radius.
    for radius in range(0, 20):
        assert sum(t + 1 for t in thresholds(radius)) == radius + 1
    assert thresholds(8) == (2, 1, 1, 1)
    assert thresholds(10) == (2, 2, 2, 1)
    assert sum(len(values) for _, values in probes(0, 8)) == 137 + 3 * 17


def test_wide_radius_is_answered_by_a_scan_with_the_same_rows(archive):
    assert sum(len(values) for _, values in probes(0, 16)) > MAX_PROBES
    every = list(Photo.objects.values_list("pk", "phash"))
    query = archive[2][1]
    fast = [(p.distance, p.pk) for p in photos_within(phash=query, max_distance=16)]
    assert fast == _brute_force(every, query, 16)


def test_probes_are_answered_from_the_part_indexes(archive):
    """On PostgreSQL by index-only scans of the covering indexes; on SQLite by index searches."""
    query = photos_within(phash=archive[2][0], max_distance=8)
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = "\n".join(str(row) for row in cursor.fetchall())
    for part in range(4):
        if connection.vendor == "postgresql":
            assert f"Index Only Scan using photo_phash_part{part} " in plan, plan
        else:
            assert f"USING COVERING INDEX photo_phash_part{part} " in plan or (
                f"USING INDEX photo_phash_part{part} " in plan
            ), plan
