"""Near-duplicate search: every photo whose 64-bit perceptual hash is within a Hamming radius.

A multi-index hash, answered from indexes. The 64 bits are split into four 16-bit parts, stored
as generated columns of `Photo` (`phash_part0` … `phash_part3`, the database computes them from
`phash`, so every writer keeps them right) and indexed; on PostgreSQL each index also carries
`phash` and the primary key, so a probe is answered by an index-only scan.

Which rows can match: if every part i differed from the query in more than t_i bits, the hashes
would differ in at least Σ(t_i + 1) bits. So with thresholds t_i whose Σ(t_i + 1) exceeds the
radius r, any hash within r has some part i within t_i bits of the query's part i (the
generalised pigeonhole principle). For r = 8 the thresholds (2, 1, 1, 1) suffice: 137 + 3 × 17 =
188 index probes, and on uniformly spread hashes about 0.3 % of the rows are candidates — a
quarter of what the textbook split (2 bits in every part, 548 probes) reads. Each candidate is
then checked exactly, `bit_count(phash # q) <= r`, inside the index, so the answer is exact.

Why this scheme (1,000,000 uniform hashes in PostgreSQL 15 on this 2-core machine, the query
alone, median of 10): the sequential `bit_count` scan 120–160 ms; four 16-bit parts probed
(2, 2, 2, 2) through bitmap scans 22 ms, (2, 1, 1, 1) 7 ms, and (2, 1, 1, 1) through covering
indexes (index-only, the exact check on the index's phash) 1.1 ms; three parts of 21–22 bits
(2, 2, 2): 718 probes, 2–3 ms at radius 8 and 7 ms at radius 10 against 2.5 ms for four parts.
Three parts read a tenth of the candidates, so they should overtake four somewhere past 10M
rows at radius 8 (not measured); four parts win at the pipeline's radius 10 and at these sizes.
Through the app's code path on a busy machine (benchmarks/RESULTS.md): ~13 ms against 400 ms
at 1M, ~10 ms against 2.9 s at 10M.

SQLite (the embedded default) uses the same query: the parts and their (plain) indexes exist
there too, and `casefile_hamming` is registered as an SQL function on every connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import Expression, F, Func, IntegerField, QuerySet, Value
from django.db.models.expressions import RawSQL

from evidence.imaging.hashes import (
    CANDIDATE_DISTANCE,
    COMPARED_WITH,
    STORED_WHOLE_KINDS,
    WINDOW_DISTANCE,
)
from evidence.models import Photo, PhotoHash

BITS = 64
PART_BITS = 16
PARTS = BITS // PART_BITS
PART_FIELDS = tuple(f"phash_part{i}" for i in range(PARTS))
# Beyond this many index probes a sequential scan is cheaper (radius 16 and up).
MAX_PROBES = 4096

_MASK64 = (1 << BITS) - 1
_PART_MASK = (1 << PART_BITS) - 1
_PART_OFFSET = 1 << (PART_BITS - 1)


def to_unsigned(value: int) -> int:
    return value & _MASK64


def to_signed(value: int) -> int:
    """A 64-bit hash as the signed integer the database stores."""
    value &= _MASK64
    return value - (1 << BITS) if value >> (BITS - 1) else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()


def part_shift(index: int) -> int:
    """Part 0 holds the top 16 bits, part 3 the bottom 16."""
    return BITS - PART_BITS * (index + 1)


def phash_parts(phash: int) -> tuple[int, ...]:
    """The values of the stored parts: each 16-bit part offset by -32768 to fit a smallint."""
    unsigned = to_unsigned(phash)
    return tuple(((unsigned >> part_shift(i)) & _PART_MASK) - _PART_OFFSET for i in range(PARTS))


def part_expression(index: int) -> Expression:
    """What the database computes for part `index` (the GeneratedField's expression)."""
    return F("phash").bitrightshift(part_shift(index)).bitand(_PART_MASK) - _PART_OFFSET


def thresholds(max_distance: int) -> tuple[int, ...]:
    """Per-part bit thresholds t_i with Σ(t_i + 1) = max_distance + 1 (-1: part not probed)."""
    total = max_distance + 1
    return tuple((total // PARTS) + (1 if i < total % PARTS else 0) - 1 for i in range(PARTS))


@lru_cache(maxsize=32)
def _flip_masks(radius: int) -> tuple[int, ...]:
    """Every 16-bit mask with at most `radius` bits set."""
    masks = []
    for weight in range(radius + 1):
        for bits in itertools.combinations(range(PART_BITS), weight):
            masks.append(sum(1 << b for b in bits))
    return tuple(masks)


def probes(phash: int, max_distance: int) -> list[tuple[str, list[int]]]:
    """For each probed part, its field and the stored values a match may have there."""
    out = []
    for i, (value, radius) in enumerate(
        zip(phash_parts(phash), thresholds(max_distance), strict=True)
    ):
        if radius < 0:
            continue
        unsigned = value + _PART_OFFSET
        out.append(
            (PART_FIELDS[i], sorted((unsigned ^ m) - _PART_OFFSET for m in _flip_masks(radius)))
        )
    return out


class Hamming(Func):
    """The number of bits in which an integer column differs from a 64-bit value."""

    output_field = IntegerField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="bit_count((%(expressions)s)::bit(64))",
            arg_joiner=" # ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="casefile_hamming", **extra_context)


def _sqlite_hamming(a, b):
    if a is None or b is None:
        return None
    return ((a ^ b) & _MASK64).bit_count()


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """SQLite has no popcount: give every new connection one (wired in EvidenceConfig)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "casefile_hamming", 2, _sqlite_hamming, deterministic=True
        )


def connect_signals() -> None:
    connection_created.connect(register_sqlite_functions, dispatch_uid="casefile_hamming")


def _candidate_ids(phash: int, max_distance: int, using: str) -> RawSQL | None:
    """A subquery of the primary keys within the radius, from the part indexes; None when a
    sequential scan is cheaper.

    Written as SQL rather than composed with the ORM: composing four lookups of up to a few
    hundred values each cost ~5 ms of Python per query, five times what PostgreSQL needs to
    answer it. One index-only scan per part, the exact check on the index's copy of phash."""
    parts = probes(phash, max_distance)
    if sum(len(values) for _, values in parts) > MAX_PROBES:
        return None
    connection = connections[using]
    quote = connection.ops.quote_name
    table, key, column = (
        quote(Photo._meta.db_table),
        quote(Photo._meta.pk.column),
        quote(Photo._meta.get_field("phash").column),
    )
    postgres = connection.vendor == "postgresql"
    distance = (
        f"bit_count(({column} # %s)::bit(64))" if postgres else f"casefile_hamming({column}, %s)"
    )
    scans, params = [], []
    for field, values in parts:
        part = quote(Photo._meta.get_field(field).column)
        if postgres:
            member = f"{part} = ANY(%s)"
            params.append(values)
        else:
            member = f"{part} IN ({', '.join(['%s'] * len(values))})"
            params.extend(values)
        scans.append(f"SELECT {key} FROM {table} WHERE {member} AND {distance} <= %s")  # noqa: S608  # nosec B608
        params.extend([phash, max_distance])
    # Only our own identifiers and placeholders go into the text; every value is a parameter.
    return RawSQL(" UNION ".join(scans), params)  # noqa: S611  # nosec B611


def photos_within(
    *,
    phash: int,
    max_distance: int,
    case_id: int | None = None,
    exclude: int | Iterable[int] | None = None,
    using: str = "default",
) -> QuerySet[Photo]:
    """The photos whose phash is within `max_distance` bits of `phash` (in one case, or in all),
    nearest first, each annotated with `distance`. Exact: the same rows as a full scan."""
    phash = to_signed(phash)
    queryset = Photo.objects.using(using)
    if max_distance < 0:
        return queryset.none()
    candidates = _candidate_ids(phash, max_distance, using)
    if candidates is not None:
        queryset = queryset.filter(pk__in=candidates)
    queryset = queryset.annotate(distance=Hamming(F("phash"), Value(phash))).filter(
        phash__isnull=False, distance__lte=max_distance
    )
    if case_id is not None:
        queryset = queryset.filter(evidence__case_id=case_id)
    if exclude is not None:
        excluded = [exclude] if isinstance(exclude, int) else list(exclude)
        queryset = queryset.exclude(pk__in=excluded)
    return queryset.order_by("distance", "pk")


def photos_within_scan(
    *, phash: int, max_distance: int, case_id: int | None = None, using: str = "default"
) -> QuerySet[Photo]:
    """The same answer by a sequential scan: the baseline of tests and benchmarks."""
    phash = to_signed(phash)
    queryset = (
        Photo.objects.using(using)
        .annotate(distance=Hamming(F("phash"), Value(phash)))
        .filter(phash__isnull=False, distance__lte=max_distance)
    )
    if case_id is not None:
        queryset = queryset.filter(evidence__case_id=case_id)
    return queryset.order_by("distance", "pk")


# --- Every near-duplicate hash of a photo (evidence.models.PhotoHash) ----------------------------
#
# A photo keeps 11 hashes (evidence.imaging.hashes.STORED_KINDS: its whole frame, its content
# when it had borders, nine windows); a new photo asks with up to 13 (those and the mirrored
# ones). Its whole frame and content are compared with every stored hash, the other eleven only
# with stored whole frames and contents: those are probed through partial indexes of the whole
# rows (a tenth of the table), the rest through indexes of all rows. Both at radius 12, the
# pigeonhole thresholds (3, 2, 2, 2): 1,108 probes per hash, ~1.7 % of the rows read. (Radius 10
# would read about a third as much, but lost a tenth of the 10–15 % crops and some caption bars
# in benchmarks/near_dup_quality.py.) 827 ms per photo at 1M photos (benchmarks/RESULTS.md):
# the probes cover the whole archive and the case is applied afterwards.


def _hash_probe_sql(value: int, radius: int, *, whole_only: bool, using: str) -> tuple[str, list]:
    """One query hash: the photos with a stored hash within `radius` bits, from the four part
    indexes of PhotoHash (the same pigeonhole as `_candidate_ids`), each candidate checked
    exactly on the index's copy of the value."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(PhotoHash._meta.db_table)
    photo, column, whole = (
        quote(PhotoHash._meta.get_field(name).column) for name in ("photo", "value", "whole")
    )
    postgres = connection.vendor == "postgresql"
    distance = (
        f"bit_count(({column} # %s)::bit(64))" if postgres else f"casefile_hamming({column}, %s)"
    )
    # The partial indexes' own predicate, so that the planner takes them.
    restrict = f"{whole} AND " if whole_only else ""
    scans, params = [], []
    for field, values in probes(value, radius):
        part = quote(PhotoHash._meta.get_field(field.replace("phash_", "")).column)
        if postgres:
            member = f"{part} = ANY(%s)"
            params.append(values)
        else:
            member = f"{part} IN ({', '.join(['%s'] * len(values))})"
            params.extend(values)
        scans.append(
            f"SELECT {photo} FROM {table} WHERE {restrict}{member} AND {distance} <= %s"  # noqa: S608  # nosec B608
        )
        params.extend([value, radius])
    return " UNION ".join(scans), params


def hash_matches(
    *,
    hashes: dict[str, int],
    case_id: int | None = None,
    exclude: int | None = None,
    using: str = "default",
) -> dict[int, dict[str, int]]:
    """The photos (in one case, or in all) that some hash of `hashes` (a new photo's, all
    kinds) could match by `evidence.imaging.hashes.hashes_compare`, each with its stored hashes
    by kind. Exact (every stored hash within reach is found) and answered from the part
    indexes; the decision is `hashes_compare`'s, on what this returns."""
    radius = max(CANDIDATE_DISTANCE, WINDOW_DISTANCE)
    scans, params = [], []
    for kind, value in hashes.items():
        sql, values = _hash_probe_sql(
            to_signed(value),
            radius,
            whole_only=set(COMPARED_WITH[kind]) <= set(STORED_WHOLE_KINDS),
            using=using,
        )
        scans.append(sql)
        params.extend(values)
    if not scans:
        return {}
    with connections[using].cursor() as cursor:
        # Only our own identifiers and placeholders go into the text; every value a parameter.
        cursor.execute(" UNION ".join(scans), params)
        candidates = [row[0] for row in cursor.fetchall()]
    if not candidates:
        return {}
    rows = PhotoHash.objects.using(using).filter(photo_id__in=candidates)
    if case_id is not None:
        rows = rows.filter(photo__evidence__case_id=case_id)
    if exclude is not None:
        rows = rows.exclude(photo_id=exclude)
    found: dict[int, dict[str, int]] = {}
    for photo_id, kind, value in rows.values_list("photo_id", "kind", "value"):
        found.setdefault(photo_id, {})[kind] = value
    return found
