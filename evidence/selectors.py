"""Reads of evidence that encode a rule; every door starts from these."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from cases.activity import Verb
from cases.models import Activity, Case, Claim
from cases.policy import require
from cases.selectors import get_for_member
from evidence.models import (
    Capture,
    CaptureFile,
    Comment,
    Evidence,
    EvidenceLink,
    Export,
    Photo,
    PhotoMatch,
    Provenance,
    Source,
)


def sources_of(*, case: Case) -> QuerySet[Source]:
    return case.sources.order_by("id")


def source_for_user(*, user, source_id) -> Source:
    return get_for_member(Source.objects.all(), user=user, pk=source_id)


def evidence_queryset(*, include_deleted: bool = False) -> QuerySet[Evidence]:
    """Evidence with what a list or a page shows of it, in a constant number of queries.

    Deleted evidence (a tombstone) is left out unless asked for: only its custody record and
    the owners' purge still reach it."""
    queryset = Evidence.objects.select_related(
        "source", "collected_by", "photo", "text_reading"
    ).prefetch_related(
        Prefetch("photo__flags"),
        Prefetch(
            "provenances",
            queryset=Provenance.objects.select_related("source", "received_by").order_by(
                "received_at", "id"
            ),
        ),
        # A link's captures, newest first (its `capture` is the latest): none for other kinds.
        Prefetch(
            "captures",
            queryset=Capture.objects.select_related("requested_by").prefetch_related(
                "files", "media"
            ),
        ),
    )
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    return queryset


def photo_text_matches(q: str) -> Q:
    """A search on what a photo's file says of it that hides nothing: its date created
    (IPTC/XMP). Its place, byline, caption and keywords are searched by
    `evidence.reader.place_matches`, and the text read in it by `evidence.reader.text_matches`,
    which know whom they are hidden from."""
    return Q(photo__date_created__icontains=q)


def evidence_of(*, case: Case) -> QuerySet[Evidence]:
    return evidence_queryset().filter(case=case).order_by("-created_at", "-id")


def evidence_for_user(*, user, evidence_id, include_deleted: bool = False) -> Evidence:
    return get_for_member(
        evidence_queryset(include_deleted=include_deleted), user=user, pk=evidence_id
    )


def link_for_user(*, user, link_id) -> EvidenceLink:
    return get_for_member(
        EvidenceLink.objects.select_related("evidence", "claim"),
        user=user,
        pk=link_id,
        case_path="claim__case",
    )


def comment_for_user(*, user, comment_id) -> Comment:
    return get_for_member(Comment.objects.select_related("author"), user=user, pk=comment_id)


def links_of(*, claim: Claim) -> dict[str, list[EvidenceLink]]:
    """The claim's links grouped by stance: supports, contradicts, context."""
    grouped: dict[str, list[EvidenceLink]] = {s: [] for s in EvidenceLink.Stance.values}
    links = (
        claim.links.filter(evidence__deleted_at__isnull=True)
        .select_related("evidence", "evidence__source", "evidence__photo", "created_by")
        .prefetch_related("evidence__photo__flags")
        .order_by("id")
    )
    for link in links:
        grouped[link.stance].append(link)
    return grouped


def links_listed() -> QuerySet[EvidenceLink]:
    """Links as `links_of` gives them (deleted evidence left out), for lists of many claims
    (prefetch) or of one claim's links."""
    return (
        EvidenceLink.objects.filter(evidence__deleted_at__isnull=True)
        .select_related("evidence", "evidence__source", "evidence__photo", "created_by")
        .order_by("id")
    )


def comments_on(*, claim: Claim | None = None, evidence: Evidence | None = None):
    target = {"claim": claim} if claim is not None else {"evidence": evidence}
    return Comment.objects.filter(**target).select_related("author").prefetch_related("revisions")


def near_duplicate_counts(*, evidence_ids: list[int]) -> dict[int, int]:
    """How many near-duplicates (not deleted) each of these photos has in its case: the stack
    a gallery card shows."""
    counts: dict[int, int] = {}
    if not evidence_ids:
        return counts
    rows = PhotoMatch.objects.filter(
        Q(photo_a__in=evidence_ids) | Q(photo_b__in=evidence_ids),
        photo_a__evidence__deleted_at__isnull=True,
        photo_b__evidence__deleted_at__isnull=True,
    ).values_list("photo_a", "photo_b")
    wanted = set(evidence_ids)
    for a, b in rows:
        for mine in (a, b):
            if mine in wanted:
                counts[mine] = counts.get(mine, 0) + 1
    return counts


def similar_photos(*, photo: Photo) -> list[tuple[Photo, PhotoMatch]]:
    """The photo's near-duplicates in its case, nearest first."""
    matches = PhotoMatch.objects.filter(
        photo_a=photo, photo_b__evidence__deleted_at__isnull=True
    ) | PhotoMatch.objects.filter(photo_b=photo, photo_a__evidence__deleted_at__isnull=True)
    matches = matches.select_related(
        "photo_a__evidence__source", "photo_b__evidence__source"
    ).order_by("distance", "id")
    return [(m.photo_b if m.photo_a_id == photo.pk else m.photo_a, m) for m in matches]


# --- Custody --------------------------------------------------------------------------------

# The verbs that say a protected source's identity was shown to someone, and that a case left
# the building as a bundle (see evidence.services.custody and evidence.services.exports).
REVEAL_VERB = Verb.SOURCE_REVEALED
EXPORT_VERB = Verb.CASE_EXPORTED


def exports_carrying(*, case_id: int) -> list[tuple[int, frozenset[int]]]:
    """The case's export rows with the ids of the evidence each carried (for `custody_of`)."""
    rows = Activity.objects.filter(case_id=case_id, target_type="export", verb=EXPORT_VERB)
    return [
        (pk, frozenset((data or {}).get("evidence", [])))
        for pk, data in rows.values_list("pk", "data")
    ]


def custody_of(
    *, evidence: Evidence, exports: list[tuple[int, frozenset[int]]] | None = None
) -> QuerySet[Activity]:
    """The custody record of one evidence item, oldest first: every activity row about it —
    received, processed (with the hash derived from and the software), viewed and downloaded,
    edited, linked and unlinked, commented on, exported, deleted and purged — and every reveal
    of its source's protected identity. The rows are the case's hash-chained activity record,
    so `cases.activity.activity_chain_problems` vouches for them."""
    rows = Activity.objects.filter(case_id=evidence.case_id)
    about = Q(target_type="evidence", target_id=evidence.pk)
    # Links: created and removed rows name the evidence; updates name only the link.
    about |= Q(target_type="evidencelink", data__evidence=evidence.pk)
    about |= Q(target_type="evidencelink", target_id__in=evidence.links.values("pk"))
    about |= Q(target_type="comment", target_id__in=evidence.comments.values("pk"))
    if evidence.source_id is not None:
        about |= Q(target_type="source", target_id=evidence.source_id, verb=REVEAL_VERB)
    # An export row lists the evidence it carried; there are few exports per case, so the list
    # is read here rather than with a JSON lookup that SQLite cannot do. A caller reading many
    # items' records passes `exports_carrying(...)` once.
    if exports is None:
        exports = exports_carrying(case_id=evidence.case_id)
    exported = [pk for pk, carried in exports if evidence.pk in carried]
    if exported:
        about |= Q(pk__in=exported)
    return rows.filter(about).select_related("actor").order_by("id")


def deleted_evidence_of(*, case: Case) -> QuerySet[Evidence]:
    """The case's tombstones: deleted evidence, newest deletion first."""
    return (
        Evidence.objects.filter(case=case, deleted_at__isnull=False)
        .select_related("source", "deleted_by", "purged_by")
        .order_by("-deleted_at", "-id")
    )


def exports_of(*, case: Case) -> QuerySet[Export]:
    return case.exports.select_related("requested_by").order_by("-created_at", "-id")


def exports_past_retention(*, now: datetime) -> QuerySet[Export]:
    """Ready exports written more than CASEFILE_EXPORT_RETENTION_DAYS before `now`, oldest
    first: their bundles are due for deletion (`evidence.services.exports.exports_expire`)."""
    cutoff = now - timedelta(days=settings.CASEFILE_EXPORT_RETENTION_DAYS)
    return Export.objects.filter(status=Export.Status.READY, finished_at__lte=cutoff).order_by(
        "finished_at", "id"
    )


def exports_for_user(*, user, case: Case) -> QuerySet[Export]:
    """The exports of `case`, newest first, to a member who may see them (403 otherwise)."""
    require(user, case, "export.see")
    return exports_of(case=case)


def export_for_user(*, user, export_id) -> Export:
    """An export of a case the user belongs to (404 otherwise) and may see exports of (403)."""
    export = get_for_member(Export.objects.select_related("requested_by"), user=user, pk=export_id)
    require(user, export.case, "export.see")
    return export


def photo_match_between(*, a: Photo, b: Photo) -> PhotoMatch | None:
    """The recorded near-duplicate match of two photos, if any (for the compare view)."""
    low, high = sorted((a.pk, b.pk))
    return PhotoMatch.objects.filter(photo_a_id=low, photo_b_id=high).first()


def captures_of(*, evidence: Evidence) -> QuerySet[Capture]:
    """Every capture of a link, newest first, with its files and media."""
    return (
        Capture.objects.filter(evidence=evidence)
        .select_related("requested_by")
        .prefetch_related("files", "media")
        .order_by("-created_at", "-id")
    )


def capture_file_of(*, evidence: Evidence, capture_id: int, name: str):
    """A file of one of the link's captures, or None."""
    return (
        CaptureFile.objects.filter(capture__evidence=evidence, capture_id=capture_id, name=name)
        .select_related("capture")
        .first()
    )
