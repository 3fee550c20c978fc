"""Claims, their history and review, and their evidence links."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api import filters, serializers
from api.views.base import CaseChildView, ListMixin, ObjectChildView
from cases import services as case_services
from cases.models import Claim, ClaimTransition
from cases.selectors import claim_for_user, claims_of
from evidence.corroboration import claims_corroboration
from evidence.models import EvidenceLink
from evidence.selectors import link_for_user, links_listed
from evidence.services import links as link_services


def _links_by_claim(claims) -> dict[int, list[dict]]:
    """The claims' links as the claim serializer reads them, in one query: rows of
    `.values(*serializers.LINK_COLUMNS)` from the rows `evidence.selectors.links_listed` gives.
    Model instances (link, evidence, source, photo, user: ~1,250 for a page of 50 claims) were
    a third of the claim list's time (benchmarks/api_scale.py)."""
    rows: dict[int, list[dict]] = {claim.pk: [] for claim in claims}
    if rows:
        links = links_listed().filter(claim__in=list(rows)).values(*serializers.LINK_COLUMNS)
        for row in links:
            rows[row["claim"]].append(row)
    return rows


class ClaimsRendered:
    # Claims are rendered with their links, read for all of them in one query. (A comment: a
    # view's docstring is its description in the schema.)

    def render_claims(self, claims, *, many: bool = False) -> serializers.ClaimSerializer:
        context = self.get_serializer_context()
        listed = list(claims) if many else [claims]
        context["links"] = _links_by_claim(listed)
        context["corroboration"] = claims_corroboration(
            claims=listed,
            reader=context["reader"],
            links=[row for rows in context["links"].values() for row in rows],
        )
        return serializers.ClaimSerializer(claims, many=many, context=context)


class ClaimList(ClaimsRendered, ListMixin, CaseChildView):
    serializer_class = serializers.ClaimSerializer
    filterset_class = filters.ClaimFilter
    actions = {"POST": "claim.add"}
    ordering_fields = ["id", "created_at", "updated_at", "status", "occurred_on"]
    ordering = ["created_at", "id"]

    def get_queryset(self):
        if self.fake():
            return Claim.objects.none()
        return claims_of(case=self.get_case())

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.render_claims(page, many=True).data)

    @extend_schema(
        request=serializers.ClaimCreateSerializer, responses={201: serializers.ClaimSerializer}
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(serializers.ClaimCreateSerializer)
        claim = case_services.claim_create(actor=request.user, case=case, **data)
        return Response(self.render_claims(claim).data, status=status.HTTP_201_CREATED)


class ClaimDetail(ClaimsRendered, ObjectChildView):
    serializer_class = serializers.ClaimSerializer
    actions = {"PATCH": "claim.edit"}
    http_method_names = ["get", "patch", "head", "options"]

    def fetch_parent(self, pk) -> Claim:
        return claim_for_user(user=self.request.user, claim_id=pk)

    def render_claim(self, claim: Claim, code=status.HTTP_200_OK):
        return Response(self.render_claims(claim).data, status=code)

    def get(self, request, pk):
        return self.render_claim(self.get_parent())

    @extend_schema(request=serializers.ClaimUpdateSerializer)
    def patch(self, request, pk):
        claim = self.get_parent()
        data = self.parse(serializers.ClaimUpdateSerializer, partial=True)
        claim = case_services.claim_update(actor=request.user, claim=claim, **data)
        return self.render_claim(claim)


class ClaimSubmit(ClaimDetail):
    actions = {"POST": "claim.submit"}
    http_method_names = ["post", "options"]

    @extend_schema(request=serializers.ClaimSubmitSerializer)
    def post(self, request, pk):
        claim = self.get_parent()
        data = self.parse(serializers.ClaimSubmitSerializer)
        claim = case_services.claim_submit(actor=request.user, claim=claim, **data)
        return self.render_claim(claim)


class ClaimReview(ClaimDetail):
    actions = {"POST": "claim.review"}
    http_method_names = ["post", "options"]

    @extend_schema(request=serializers.ClaimReviewSerializer)
    def post(self, request, pk):
        claim = self.get_parent()
        data = self.parse(serializers.ClaimReviewSerializer)
        claim = case_services.claim_review(actor=request.user, claim=claim, **data)
        return self.render_claim(claim)


class ClaimHistory(ListMixin, ClaimDetail):
    serializer_class = serializers.TransitionSerializer
    http_method_names = ["get", "head", "options"]
    ordering_fields = ["id", "created_at"]
    ordering = ["created_at", "id"]

    def get_queryset(self):
        if self.fake():
            return ClaimTransition.objects.none()
        return self.get_parent().transitions.select_related("actor")


class ClaimLinks(ListMixin, ObjectChildView):
    """A claim's evidence links. Linking evidence to a decided claim sends the claim back to
    `in_review` (see its history): a decision rests on the evidence it was made on."""

    serializer_class = serializers.LinkSerializer
    filterset_class = filters.LinkFilter
    actions = {"POST": "link.add"}
    ordering_fields = ["id", "created_at", "stance"]
    ordering = ["id"]

    def fetch_parent(self, pk) -> Claim:
        return claim_for_user(user=self.request.user, claim_id=pk)

    def get_queryset(self):
        if self.fake():
            return EvidenceLink.objects.none()
        return links_listed().filter(claim=self.get_parent())

    @extend_schema(
        request=serializers.LinkCreateSerializer, responses={201: serializers.LinkSerializer}
    )
    def post(self, request, pk):
        claim = self.get_parent()
        data = self.parse(serializers.LinkCreateSerializer)
        link = link_services.evidence_link(actor=request.user, claim=claim, **data)
        return self.render(serializers.LinkSerializer, link, code=status.HTTP_201_CREATED)


class LinkDetail(ObjectChildView):
    """One evidence link. Changing its stance or removing it sends a decided claim back to
    `in_review` (see the claim's history); a new note alone does not."""

    serializer_class = serializers.LinkSerializer
    actions = {
        "PATCH": "link.edit",
        "DELETE": "link.remove",
    }
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def fetch_parent(self, pk) -> EvidenceLink:
        return link_for_user(user=self.request.user, link_id=pk)

    def get(self, request, pk):
        link = self.get_parent()
        return self.render(serializers.LinkSerializer, link)

    @extend_schema(request=serializers.LinkUpdateSerializer)
    def patch(self, request, pk):
        link = self.get_parent()
        data = self.parse(serializers.LinkUpdateSerializer, partial=True)
        link = link_services.link_update(actor=request.user, link=link, **data)
        return self.render(serializers.LinkSerializer, link)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        link_services.link_remove(actor=request.user, link=self.get_parent())
        return Response(status=status.HTTP_204_NO_CONTENT)
