"""Reads of evidence that encode a rule; every door starts from these."""

from django.db.models import Prefetch, QuerySet

from cases.models import Case, Claim
from cases.selectors import get_for_member
from evidence.models import Comment, Evidence, EvidenceLink, Photo, PhotoMatch, Source


def sources_of(*, case: Case) -> QuerySet[Source]:
    return case.sources.order_by("id")


def source_for_user(*, user, source_id) -> Source:
    return get_for_member(Source.objects.all(), user=user, pk=source_id)


def evidence_queryset() -> QuerySet[Evidence]:
    """Evidence with what a list or a page shows of it, in a constant number of queries."""
    return Evidence.objects.select_related("source", "collected_by", "photo").prefetch_related(
        Prefetch("photo__flags")
    )


def evidence_of(*, case: Case) -> QuerySet[Evidence]:
    return evidence_queryset().filter(case=case).order_by("-created_at", "-id")


def evidence_for_user(*, user, evidence_id) -> Evidence:
    return get_for_member(evidence_queryset(), user=user, pk=evidence_id)


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
    links = claim.links.select_related(
        "evidence", "evidence__source", "evidence__photo", "created_by"
    ).order_by("id")
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


def similar_photos(*, photo: Photo) -> list[tuple[Photo, PhotoMatch]]:
    """The photo's near-duplicates in its case, nearest first."""
    matches = PhotoMatch.objects.filter(photo_a=photo) | PhotoMatch.objects.filter(photo_b=photo)
    matches = matches.select_related(
        "photo_a__evidence__source", "photo_b__evidence__source"
    ).order_by("distance", "id")
    return [(m.photo_b if m.photo_a_id == photo.pk else m.photo_a, m) for m in matches]
