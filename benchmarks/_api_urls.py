"""The API benchmark's URLconf: every URL of the app, plus the baselines — minimal Django views
returning the same rows as the API's pages with `.values()` (no DRF, no serializers, no access
checks), served by the same gunicorn."""

from django.http import JsonResponse
from django.urls import include, path

from cases.models import Claim
from evidence.models import Evidence, EvidenceLink, PhotoFlag

EVIDENCE_VALUES = [
    "id",
    "case_id",
    "kind",
    "title",
    "description",
    "source_id",
    "source__name",
    "source__pseudonym",
    "source__protected",
    "collected_by__username",
    "created_at",
    "updated_at",
    "observed_at",
    "place_name",
    "latitude",
    "longitude",
    "url",
    "text",
    "stated_on",
    "sensitive",
    "original_name",
    "sha256",
    "size",
    "content_type",
    "photo__status",
    "photo__failure_reason",
    "photo__width",
    "photo__height",
    "photo__taken_at",
    "photo__taken_at_offset",
    "photo__camera_make",
    "photo__camera_model",
    "photo__lens",
    "photo__software",
    "photo__gps_latitude",
    "photo__gps_longitude",
    "photo__gps_altitude",
    "photo__orientation",
    "photo__phash",
    "photo__dhash",
    "photo__exif",
    "photo__thumbnail",
    "photo__preview",
]
CLAIM_VALUES = [
    "id",
    "case_id",
    "statement",
    "details",
    "status",
    "confidence",
    "occurred_on",
    "author__username",
    "reviewer__username",
    "reviewed_at",
    "review_note",
    "created_at",
    "updated_at",
]
LINK_VALUES = [
    "id",
    "claim_id",
    "stance",
    "note",
    "created_by__username",
    "created_at",
    "evidence_id",
    "evidence__kind",
    "evidence__title",
    "evidence__original_name",
    "evidence__source__name",
    "evidence__photo__status",
]


def _page_size(request) -> int:
    return min(200, int(request.GET.get("page_size", 50)))


def evidence_page(request, case_id):
    rows = list(
        Evidence.objects.filter(case_id=case_id, deleted_at__isnull=True)
        .order_by("-created_at", "-id")
        .values(*EVIDENCE_VALUES)[: _page_size(request)]
    )
    flags: dict[int, list] = {}
    for flag in PhotoFlag.objects.filter(photo_id__in=[r["id"] for r in rows]).values(
        "photo_id", "code", "message"
    ):
        flags.setdefault(flag["photo_id"], []).append(flag)
    for row in rows:
        row["flags"] = flags.get(row["id"], [])
    return JsonResponse({"results": rows})


def _with_links(claims: list[dict]) -> list[dict]:
    links: dict[int, list] = {}
    for link in (
        EvidenceLink.objects.filter(claim_id__in=[c["id"] for c in claims])
        .order_by("id")
        .values(*LINK_VALUES)
    ):
        links.setdefault(link["claim_id"], []).append(link)
    for claim in claims:
        claim["links"] = links.get(claim["id"], [])
    return claims


def claim_page(request, case_id):
    claims = list(
        Claim.objects.filter(case_id=case_id)
        .order_by("created_at", "id")
        .values(*CLAIM_VALUES)[: _page_size(request)]
    )
    return JsonResponse({"results": _with_links(claims)})


def claim_detail(request, pk):
    claims = list(Claim.objects.filter(pk=pk).values(*CLAIM_VALUES))
    return JsonResponse(_with_links(claims)[0])


urlpatterns = [
    path("baseline/cases/<int:case_id>/evidence/", evidence_page),
    path("baseline/cases/<int:case_id>/claims/", claim_page),
    path("baseline/claims/<int:pk>/", claim_detail),
    path("", include("config.urls")),
]
