"""The search index: one `SearchEntry` per searchable item, and the one query over it, with a
backend per database.

- Writing: each item's searchable document is assembled by one function (`claim_document`
  here, `evidence.search.*_document` for evidence, comments, link notes and sources) and put by
  the service that wrote the item (`entry_put`, in its transaction): no save() or signal.
- What a reader may search: `title` and `body` in every case they are a member of; `private`
  (a protected source's identity, its evidence's place and byline) only in `revealing`, the
  cases where they see protected identities. A term that matches only private text elsewhere
  matches nothing: no hit, no count, no snippet.
- Matching: every term must match. PostgreSQL: the term as a word prefix in the generated
  tsvector (GIN) or as a substring through pg_trgm (GIN): partial words and Korean, Chinese or
  Japanese text, which the parsers do not split into words. SQLite: FTS5 with the trigram
  tokenizer (substrings of 3 characters or more), LIKE for shorter terms (two-character Chinese
  or Korean words).
- Ranking: ts_rank (titles weigh more) on PostgreSQL, bm25 on SQLite; newest first on ties.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, FloatField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from cases.models import Claim, SearchEntry

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
# The FTS5 trigram tokenizer indexes substrings of three characters.
TRIGRAM = 3


@dataclasses.dataclass(frozen=True)
class Document:
    """What one item says, as the index keeps it (see `SearchEntry`)."""

    title: str = ""
    body: str = ""
    private: str = ""
    kind: str = ""
    status: str = ""
    occurred: datetime | None = None
    source_id: int | None = None
    evidence_id: int | None = None
    claim_id: int | None = None


def joined(*parts) -> str:
    """The non-empty parts, one per line (lists, such as IPTC keywords, flattened)."""
    out = []
    for part in parts:
        if isinstance(part, list | tuple):
            out.extend(str(p) for p in part if p)
        elif part:
            out.append(str(part))
    return "\n".join(out)


def entry_put(*, case_id: int, type: str, object_id: int, document: Document) -> None:
    """Index (or index again) one item: called by the service that wrote it."""
    SearchEntry.objects.update_or_create(
        type=type,
        object_id=object_id,
        defaults={
            "case_id": case_id,
            **dataclasses.asdict(document),
            "indexed_at": timezone.now(),
        },
    )


def entries_remove(*, type: str, object_ids) -> None:
    """Take items out of the index (a deleted piece of evidence, a removed link)."""
    SearchEntry.objects.filter(type=type, object_id__in=list(object_ids)).delete()


def claim_document(claim: Claim) -> Document:
    """What a claim says: its statement, details and the editor's review note."""
    occurred = None
    if claim.occurred_on:
        occurred = timezone.make_aware(datetime.combine(claim.occurred_on, datetime.min.time()))
    return Document(
        title=claim.statement,
        body=joined(claim.details, claim.review_note),
        status=claim.status,
        occurred=occurred or claim.created_at,
        claim_id=claim.pk,
    )


def claim_index(claim: Claim) -> None:
    entry_put(
        case_id=claim.case_id, type="claim", object_id=claim.pk, document=claim_document(claim)
    )


# --- The query ------------------------------------------------------------------------------


def terms_of(q: str) -> list[str]:
    """The words of a query, lower-cased, each once (at most MAX_TERMS)."""
    terms = []
    for word in q.split():
        word = word.strip().lower()[:MAX_TERM_LENGTH]
        if word and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def entries_matching(
    *,
    terms: list[str],
    visible,
    revealing: list[int],
    where: Q | None = None,
    inside_words: bool = False,
) -> QuerySet[SearchEntry]:
    """The entries of the `visible` cases (case ids) in which every term matches text the
    reader may search (`private` only in `revealing`), annotated with `relevance`, best first.
    Empty terms match nothing.

    On PostgreSQL a term matches the start of a word (the GIN-indexed tsvector), or anywhere
    inside words with `inside_words` (pg_trgm); Korean, Chinese and Japanese terms always match
    inside (the parser does not split those scripts into words). SQLite's trigram FTS5 always
    matches inside words."""
    queryset = SearchEntry.objects.filter(case_id__in=visible)
    if where is not None:
        queryset = queryset.filter(where)
    if not terms:
        return queryset.none()
    if connection.vendor == "postgresql":
        match, rank = _postgres(terms, list(revealing), inside_words=inside_words)
    else:
        match, rank = _sqlite(terms, list(revealing))
    return (
        queryset.filter(match).annotate(relevance=rank).order_by("-relevance", "-occurred", "-id")
    )


def matches_inside_words_only() -> bool:
    """Whether this database's word search already matches inside words (SQLite)."""
    return connection.vendor != "postgresql"


# Scripts written without spaces between words: Han, Hiragana, Katakana, Hangul.
_UNSPLIT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def unsplit(term: str) -> bool:
    """Whether a term is (partly) in a script PostgreSQL's parsers do not split into words."""
    return bool(_UNSPLIT.search(term))


def _like(term: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"


def _condition(sql: str, params: list) -> RawSQL:
    return RawSQL(sql, params, output_field=BooleanField())  # noqa: S611  # nosec B611


def _lexeme(term: str) -> str:
    """A term as a prefix lexeme of to_tsquery's syntax (quoted: its operators are text)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "':*"


# Only our own identifiers go into the SQL below; every value is a parameter.
_T = "cases_searchentry"
_PUBLIC_PG = f"({_T}.title || ' ' || {_T}.body)"


def _postgres(
    terms: list[str], revealing: list[int], *, inside_words: bool
) -> tuple[RawSQL, RawSQL]:
    """Word terms: one tsquery of their prefixes, ANDed (one GIN lookup answers it exactly),
    or with `inside_words` each a pg_trgm substring; unsplit-script terms always substrings.
    In `revealing`, rows with private text match on all their text (their own indexes)."""
    words = [t for t in terms if not unsplit(t) and not inside_words]
    inside = [t for t in terms if t not in words]
    tsquery = " & ".join(_lexeme(t) for t in words)

    def condition(document: str, text: str) -> tuple[str, list]:
        parts, params = [], []
        if words:
            parts.append(f"{document} @@ to_tsquery('simple', %s)")
            params.append(tsquery)
        for term in inside:
            parts.append(f"{text} ILIKE %s")
            params.append(_like(term))
        return " AND ".join(parts), params

    public_sql, public_params = condition(f"{_T}.document", _PUBLIC_PG)
    any_term = " | ".join(_lexeme(t) for t in terms)
    if not revealing:
        return (
            _condition(public_sql, public_params),
            RawSQL(  # noqa: S611  # nosec B611
                f"ts_rank({_T}.document, to_tsquery('simple', %s))",
                [any_term],
                output_field=FloatField(),
            ),
        )
    private_sql, private_params = condition(
        f"{_T}.private_document", f"({_PUBLIC_PG} || ' ' || {_T}.private)"
    )
    revealed = f"({_T}.private <> '' AND {_T}.case_id = ANY(%s))"
    return (
        _condition(
            f"(({public_sql}) OR ({revealed} AND {private_sql}))",
            [*public_params, revealing, *private_params],
        ),
        RawSQL(  # noqa: S611  # nosec B611
            f"ts_rank(CASE WHEN {revealed} THEN {_T}.private_document ELSE {_T}.document END, "
            "to_tsquery('simple', %s))",
            [revealing, any_term],
            output_field=FloatField(),
        ),
    )


def _fts5(terms: list[str], columns: str) -> str:
    quoted = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
    return f"{columns}({quoted})"


def _sqlite(terms: list[str], revealing: list[int]):
    long = [t for t in terms if len(t) >= TRIGRAM]
    short = [t for t in terms if len(t) < TRIGRAM]
    fts = f"{_T}_fts"

    def match(columns: str, text: str) -> tuple[str, list]:
        parts, params = [], []
        if long:
            parts.append(f"{_T}.id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH %s)")  # noqa: S608  # nosec B608
            params.append(_fts5(long, columns))
        for term in short:
            parts.append(f"{text} LIKE %s ESCAPE '\\'")
            params.append(_like(term))
        return " AND ".join(parts), params

    def score(columns: str) -> tuple[str, list]:
        if not long:
            return "0", []
        sql = (
            f"COALESCE((SELECT -bm25({fts}, 4.0, 1.0, 1.0) FROM {fts} "  # noqa: S608  # nosec B608
            f"WHERE {fts} MATCH %s AND rowid = {_T}.id), 0)"
        )
        return sql, [_fts5(long, columns)]

    public_sql, public_params = match("{title body}: ", f"({_T}.title || ' ' || {_T}.body)")
    public_rank, public_rank_params = score("{title body}: ")
    if not revealing:
        return (
            _condition(public_sql, public_params),
            RawSQL(public_rank, public_rank_params, output_field=FloatField()),  # noqa: S611  # nosec B611
        )
    within = f"{_T}.case_id IN ({', '.join(['%s'] * len(revealing))})"
    all_sql, all_params = match("", f"({_T}.title || ' ' || {_T}.body || ' ' || {_T}.private)")
    all_rank, all_rank_params = score("")
    return (
        _condition(
            f"(({public_sql}) OR ({within} AND {all_sql}))",
            [*public_params, *revealing, *all_params],
        ),
        RawSQL(  # noqa: S611  # nosec B611
            f"CASE WHEN {within} THEN {all_rank} ELSE {public_rank} END",
            [*revealing, *all_rank_params, *public_rank_params],
            output_field=FloatField(),
        ),
    )
