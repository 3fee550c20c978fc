"""Search over a user's cases: what each item of evidence's app says (one `*_document` function
per kind of item, each the only place its searchable text is assembled), the index writes the
services call, and the search itself, rendered through each case's `Reader`.

The index and its two backends are `cases.search`'s. Here: what is private. Below editor, a
protected source is its pseudonym; its name and notes, and its evidence's stated place and what
the photo's file says that may place it or name who made it (`PHOTO_WITHHELD_FIELDS`), go to
the entry's `private` text, which only readers who see identities in that case search.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cases.models import Case, Claim, SearchEntry
from cases.policy import cases_where
from cases.search import (
    Document,
    claim_index,
    entries_matching,
    entries_remove,
    entry_put,
    joined,
    matches_inside_words_only,
    terms_of,
    unsplit,
)
from cases.selectors import cases_visible_to
from evidence.models import (
    Comment,
    Evidence,
    EvidenceLink,
    Photo,
    PhotoFlag,
    Source,
    TextReading,
)
from evidence.reader import PHOTO_WITHHELD_FIELDS, reader_for, text_shown

# Camera and editing software: what the file says of the device, never of a person or place.
PHOTO_DEVICE_FIELDS = ("camera_make", "camera_model", "lens", "software", "date_created")

# --- Documents: what each item says -----------------------------------------------------------


def _hidden(evidence: Evidence) -> bool:
    return evidence.source_id is not None and evidence.source.protected


def _text_read(evidence: Evidence) -> str:
    try:
        return evidence.text_reading.ocr_text
    except TextReading.DoesNotExist:
        return ""


def evidence_document(evidence: Evidence) -> Document:
    """What a piece of evidence says: title, description, link URL, testimony text, file name;
    a photo's camera, software and IPTC/XMP (caption, keywords, byline, place); the text read in
    it (OCR, a PDF's text layer). Its stated place and the photo's withheld fields are private
    for a protected source's evidence; a document's text is private always, as it is shown only
    to editors and owners (`evidence.reader.text_shown`)."""
    photo = evidence.photo_or_none
    # Every text of the item every member may read goes in `public` (a link's captured page
    # text, a photo's OCR text: one entry each here); what a protected source's evidence hides
    # below editor goes in `withheld`.
    public = [evidence.description, evidence.url, evidence.text, evidence.original_name]
    withheld = [evidence.place_name]
    text = _text_read(evidence)
    always_private = [] if text_shown(evidence, reveal=False) else [text]
    if not always_private:
        public.append(text)
    status = ""
    occurred = evidence.observed_at
    if evidence.stated_on and occurred is None:
        occurred = timezone.make_aware(datetime.combine(evidence.stated_on, time.min))
    if photo is not None:
        status = photo.status
        public += [getattr(photo, name) for name in PHOTO_DEVICE_FIELDS]
        withheld += [getattr(photo, name) for name in PHOTO_WITHHELD_FIELDS]
        occurred = occurred or photo.taken_at
    hidden = _hidden(evidence)
    return Document(
        title=evidence.title or evidence.original_name or evidence.url,
        body=joined(*public, *([] if hidden else withheld)),
        private=joined(*(withheld if hidden else []), *always_private),
        kind=evidence.kind,
        status=status,
        occurred=occurred or evidence.created_at,
        source_id=evidence.source_id,
        evidence_id=evidence.pk,
    )


def comment_document(comment: Comment) -> Document:
    """What a comment says."""
    return Document(
        body=comment.text,
        occurred=comment.created_at,
        evidence_id=comment.evidence_id,
        claim_id=comment.claim_id,
    )


def link_document(link: EvidenceLink) -> Document:
    """What a link's note says of how the evidence bears on the claim."""
    return Document(
        body=link.note,
        status=link.stance,
        occurred=link.created_at,
        evidence_id=link.evidence_id,
        claim_id=link.claim_id,
    )


def source_document(source: Source) -> Document:
    """A source as its pseudonym, when protected (its name and notes private), else its name
    and notes."""
    if source.protected:
        return Document(
            title=source.pseudonym,
            private=joined(source.name, source.notes),
            kind=source.kind,
            occurred=source.created_at,
            source_id=source.pk,
        )
    return Document(
        title=source.name,
        body=joined(source.pseudonym, source.notes),
        kind=source.kind,
        occurred=source.created_at,
        source_id=source.pk,
    )


# --- Index writes (each called by the service that wrote the item, in its transaction) ------


def search_index_evidence(evidence: Evidence) -> None:
    """Index a piece of evidence again (or take it out, once deleted), with its comments and
    link notes, which a deleted item takes with it."""
    if evidence.deleted_at is not None:
        entries_remove(type="evidence", object_ids=[evidence.pk])
        SearchEntry.objects.filter(type__in=("comment", "link"), evidence_id=evidence.pk).delete()
        return
    evidence = Evidence.objects.select_related("source", "photo", "text_reading").get(
        pk=evidence.pk
    )
    entry_put(
        case_id=evidence.case_id,
        type="evidence",
        object_id=evidence.pk,
        document=evidence_document(evidence),
    )


def search_index_photo(photo_id: int) -> None:
    """Index a photo's evidence again once the worker has read its file (or failed)."""
    evidence = Evidence.objects.filter(photo__pk=photo_id).first()
    if evidence is not None:
        search_index_evidence(evidence)


def search_index_comment(comment: Comment) -> None:
    entry_put(
        case_id=comment.case_id,
        type="comment",
        object_id=comment.pk,
        document=comment_document(comment),
    )


def search_index_link(link: EvidenceLink) -> None:
    entry_put(
        case_id=link.evidence.case_id, type="link", object_id=link.pk, document=link_document(link)
    )


def search_unindex_link(link_id: int) -> None:
    entries_remove(type="link", object_ids=[link_id])


def search_index_source(source: Source, *, evidence: bool = False) -> None:
    """Index a source again; with `evidence`, its evidence too (a source protected or no longer
    protected moves their place and byline between public and private text)."""
    entry_put(
        case_id=source.case_id, type="source", object_id=source.pk, document=source_document(source)
    )
    if evidence:
        for item in source.evidence.filter(deleted_at__isnull=True):
            search_index_evidence(item)


def search_reindex(*, case: Case) -> int:
    """Index every item of a case again (an imported case; `manage.py search_reindex`).
    Returns the number of entries written."""
    SearchEntry.objects.filter(case=case).delete()
    written = 0
    for claim in case.claims.all():
        claim_index(claim)
        written += 1
    for source in case.sources.all():
        search_index_source(source)
        written += 1
    for item in case.evidence.filter(deleted_at__isnull=True):
        search_index_evidence(item)
        written += 1
    for comment in Comment.objects.filter(case=case).filter(
        Q(evidence__isnull=True) | Q(evidence__deleted_at__isnull=True)
    ):
        search_index_comment(comment)
        written += 1
    links = EvidenceLink.objects.filter(claim__case=case, evidence__deleted_at__isnull=True)
    for link in links.select_related("evidence"):
        search_index_link(link)
        written += 1
    return written


# --- The search ------------------------------------------------------------------------------

TYPES = tuple(SearchEntry.Type.values)
# What `status` filters on: a claim's status, a photo's processing, a link's stance.
SEARCH_STATUS_CHOICES = [
    *Claim.Status.choices,
    *[(v, f"Photo {label.lower()}") for v, label in Photo.Status.choices],
    *[(v, f"Link: {label.lower()}") for v, label in EvidenceLink.Stance.choices],
]
PER_PAGE = 20
SNIPPET_LENGTH = 200


@dataclasses.dataclass(frozen=True)
class SearchQuery:
    """What was asked: the words, and the filters (each optional)."""

    q: str
    case_id: int | None = None
    types: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    source_id: int | None = None
    flag: str | None = None

    @property
    def terms(self) -> list[str]:
        return terms_of(self.q)

    @classmethod
    def of(cls, data: dict) -> SearchQuery:
        """From a search form's or the API's cleaned parameters (the same names)."""
        return cls(
            q=(data.get("q") or "").strip(),
            case_id=data.get("case"),
            types=tuple(data.get("type") or ()),
            kinds=tuple(data.get("kind") or ()),
            statuses=tuple(data.get("status") or ()),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            source_id=data.get("source"),
            flag=data.get("flag") or None,
        )


@dataclasses.dataclass
class Hit:
    type: str
    object_id: int
    case: Case
    label: str
    title: SafeString
    snippet: SafeString
    url: str
    kind: str
    status: str
    occurred: datetime | None
    relevance: float

    @property
    def type_label(self) -> str:
        return SearchEntry.Type(self.type).label


@dataclasses.dataclass
class Results:
    hits: list[Hit]
    total: int
    counts: dict[str, int]
    page: int
    per_page: int
    # Whether the words matched inside words (nothing matched at their start).
    inside_words: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _filters(query: SearchQuery) -> Q:
    where = Q()
    if query.case_id is not None:
        where &= Q(case_id=query.case_id)
    if query.kinds:
        where &= Q(type="evidence", kind__in=query.kinds)
    if query.statuses:
        where &= Q(status__in=query.statuses)
    if query.date_from:
        where &= Q(occurred__gte=_day_start(query.date_from))
    if query.date_to:
        where &= Q(occurred__lt=_day_start(query.date_to + timedelta(days=1)))
    if query.source_id is not None:
        where &= Q(source_id=query.source_id)
    if query.flag:
        flagged = PhotoFlag.objects.filter(code=query.flag).values("photo__evidence_id")
        where &= Q(type="evidence", evidence_id__in=flagged)
    return where


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def search(*, request, query: SearchQuery, page: int = 1, per_page: int = PER_PAGE, via: str):
    """The hits of `query` in the cases the user is a member of, best first, a page of them
    rendered through each case's reader; the total and the count of each type are of every
    hit the user may see (never of text they may not search)."""
    user = request.user
    terms = query.terms
    # Ids, not a subquery: the planner then knows how many rows the cases hold.
    visible = list(cases_visible_to(user).values_list("pk", flat=True))
    revealing = list(cases_where(user, "identity.see").values_list("case_id", flat=True))
    where = _filters(query)
    # Words first (where they start); when nothing matches that way, inside words too.
    inside_words = matches_inside_words_only()
    while True:
        matching = entries_matching(
            terms=terms,
            visible=visible,
            revealing=revealing,
            where=where,
            inside_words=inside_words,
        )
        counts = dict.fromkeys(TYPES, 0)
        if terms:
            for row in matching.order_by().values("type").annotate(n=Count("id")):
                counts[row["type"]] = row["n"]
        if inside_words or any(counts.values()) or all(unsplit(t) for t in terms):
            break
        inside_words = True
    selected = [t for t in TYPES if t in query.types] or list(TYPES)
    total = sum(counts[t] for t in selected)
    page = max(1, min(page, max(1, -(-total // per_page))))
    hits = []
    if total:
        if query.types:
            matching = matching.filter(type__in=selected)
        start = (page - 1) * per_page
        entries = list(matching.select_related("case")[start : start + per_page])
        hits = _render(request, entries, terms, via=via, revealing=set(revealing))
    return Results(
        hits=hits,
        total=total,
        counts=counts,
        page=page,
        per_page=per_page,
        inside_words=inside_words and not matches_inside_words_only(),
    )


def _render(
    request, entries: list[SearchEntry], terms: list[str], *, via: str, revealing: set[int]
) -> list[Hit]:
    """The entries as hits, each read from its item as this user's reader sees it."""
    ids: dict[str, list[int]] = {t: [] for t in TYPES}
    for entry in entries:
        ids[entry.type].append(entry.object_id)
    claims = Claim.objects.in_bulk(ids["claim"])
    evidence = Evidence.objects.select_related("source").in_bulk(ids["evidence"])
    comments = Comment.objects.select_related("claim", "evidence").in_bulk(ids["comment"])
    links = EvidenceLink.objects.select_related("claim", "evidence").in_bulk(ids["link"])
    sources = Source.objects.in_bulk(ids["source"])
    hits = []
    for entry in entries:
        reader = reader_for(request, entry.case, via=via, reveal=entry.case_id in revealing)
        text = entry.body
        if entry.private and reader.reveal:
            text = joined(entry.body, entry.private)
        if entry.type == "claim" and entry.object_id in claims:
            title, url = claims[entry.object_id].statement, _url("claim", entry.object_id)
        elif entry.type == "evidence" and entry.object_id in evidence:
            # Its place and byline, for an editor, as the item's page shows them (no reveal).
            item = evidence[entry.object_id]
            title, url = item.label, _url("evidence", item.pk)
        elif entry.type == "comment" and entry.object_id in comments:
            comment = comments[entry.object_id]
            on = comment.claim or comment.evidence
            title = f"Comment on {on.statement if comment.claim else on.label}"
            url = _url("claim" if comment.claim else "evidence", on.pk) + f"#comment-{comment.pk}"
        elif entry.type == "link" and entry.object_id in links:
            link = links[entry.object_id]
            title = f"{link.evidence.label} {link.get_stance_display().lower()} {link.claim}"
            url = _url("claim", link.claim_id)
        elif entry.type == "source" and entry.object_id in sources:
            source = sources[entry.object_id]
            source.case = entry.case
            title = reader.source_name(source)  # a reveal, for an editor, noted
            url = reverse("web:source_list", args=[entry.case_id])
        else:
            continue  # the item went away since the page's count
        hits.append(
            Hit(
                type=entry.type,
                object_id=entry.object_id,
                case=entry.case,
                label=title,
                title=highlight(title, terms),
                snippet=snippet(text, terms),
                url=url,
                kind=entry.kind,
                status=entry.status,
                occurred=entry.occurred,
                relevance=float(entry.relevance or 0),
            )
        )
    return hits


def _url(type: str, pk: int) -> str:
    if type == "claim":
        return reverse("web:claim_detail", args=[pk])
    return reverse("web:evidence_detail", args=[pk])


# --- Snippets -----------------------------------------------------------------------------


def _pattern(terms: list[str]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = sorted((re.escape(t) for t in terms), key=len, reverse=True)
    return re.compile("|".join(alternatives), re.IGNORECASE)


def highlight(text: str, terms: list[str]) -> SafeString:
    """`text` escaped, each occurrence of a term in <mark>: safe to put in a page."""
    pattern = _pattern(terms)
    if pattern is None:
        return mark_safe(html.escape(text))  # noqa: S308  # nosec B308, B703 - escaped
    out, last = [], 0
    for found in pattern.finditer(text):
        out.append(html.escape(text[last : found.start()]))
        out.append(f"<mark>{html.escape(found.group())}</mark>")
        last = found.end()
    out.append(html.escape(text[last:]))
    return mark_safe("".join(out))  # noqa: S308  # nosec B308, B703 - every piece escaped


def snippet(text: str, terms: list[str], *, length: int = SNIPPET_LENGTH) -> SafeString:
    """The part of `text` around its first match, highlighted (`highlight`), with … where it
    was cut."""
    text = " ".join(text.split())
    pattern = _pattern(terms)
    found = pattern.search(text) if pattern else None
    start = 0
    if found and found.start() > length // 3:
        start = found.start() - length // 3
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space > start - 20 else start
    end = min(len(text), start + length)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > end - 20 else end
    piece = highlight(text[start:end], terms)
    return mark_safe(("… " if start else "") + piece + (" …" if end < len(text) else ""))  # noqa: S308  # nosec B308, B703
