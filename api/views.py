"""API views: parse input, call one service, render.

Every view reaches its object through a selector of `cases.selectors` or `evidence.selectors`
(404 for non-members), then `CaseRole` asks `cases.policy` about the action the view names for
the method in `actions` (403 naming what is missing). The services ask the policy again.
"""

import mimetypes

from django.contrib.auth import authenticate, get_user_model, logout
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, mixins, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api import filters, serializers
from api.permissions import CaseRole, action_for
from api.throttles import AnonThrottle, LoginThrottle
from cases import services as case_services
from cases.models import Activity, ApiToken, Case, Claim, ClaimTransition, Membership
from cases.selectors import (
    activity_of,
    can_see_protected,
    case_for_user,
    cases_visible_to,
    claim_for_user,
    claims_of,
    members_of,
)
from cases.tokens import (
    REVOKED_AT_LOGOUT,
    REVOKED_AT_LOGOUT_ALL,
    REVOKED_BY_OWNER,
    token_create,
    token_revoke,
    tokens_of,
    tokens_revoke_all,
)
from evidence.models import Comment, Evidence, EvidenceLink, Source
from evidence.reader import activity_rows, identity_reveal_record, identity_reveal_record_ids
from evidence.selectors import (
    comment_for_user,
    comments_on,
    evidence_for_user,
    evidence_of,
    link_for_user,
    links_listed,
    similar_photos,
    source_for_user,
    sources_of,
)
from evidence.services import comments as comment_services
from evidence.services import evidence as evidence_services
from evidence.services import links as link_services
from evidence.services import photos as photo_services
from evidence.services import sources as source_services
from evidence.services.custody import original_download

MAX_ID = 2**63 - 1


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


# --- The base -------------------------------------------------------------------------------


class ThrottleRefusals:
    """Requests refused for missing or wrong credentials count against the address's anonymous
    rate too (DRF checks throttles only after authentication and permissions), so that hammering
    the API without a token, or guessing tokens, ends in 429 as well."""

    def initial(self, request, *args, **kwargs):
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.NotAuthenticated, exceptions.AuthenticationFailed):
            throttle = AnonThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            raise


class CaseScopedView(ThrottleRefusals, generics.GenericAPIView):
    """A view of something in one case.

    `actions` maps a method to the action of `cases.policy` it is; a method not listed is a
    read that any member may make.
    """

    permission_classes = [CaseRole]
    actions: dict[str, str] = {}
    _case: Case | None = None
    # OPTIONS answers 405: the schema at /api/schema/ describes every endpoint, and DRF's
    # metadata would describe the output serializers as if they were the input.
    metadata_class = None

    def fake(self) -> bool:
        """Whether drf-spectacular is calling the view to build the schema (no request)."""
        return getattr(self, "swagger_fake_view", False)

    def action_for(self, method: str) -> str:
        return action_for(self.actions, method)

    def case_of(self, obj) -> Case:
        if isinstance(obj, Case):
            return obj
        if isinstance(obj, EvidenceLink):
            return obj.claim.case
        return obj.case

    def checked(self, obj):
        """Record the object's case for the serializers, then check the method's role."""
        self._case = self.case_of(obj)
        self.check_object_permissions(self.request, obj)
        return obj

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if self._case is not None:
            context["case"] = self._case
            context["reveal"] = can_see_protected(user=self.request.user, case=self._case)
        return context

    def render(self, serializer_class, instance, *, code=status.HTTP_200_OK, many=False):
        serializer = serializer_class(instance, many=many, context=self.get_serializer_context())
        return Response(serializer.data, status=code)

    def parse(self, serializer_class, *, partial=False) -> dict:
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ListMixin(mixins.ListModelMixin):
    """GET lists the view's queryset: filtered, ordered, paginated."""

    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def sources_shown(self, page) -> list:
        """The sources a page of this list names (their identities, to an editor)."""
        return []

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page and self.get_serializer_context().get("reveal"):
            # Every protected identity a page shows is on the custody record.
            identity_reveal_record(
                actor=self.request.user, sources=self.sources_shown(page), via="api"
            )
        return page


class CaseChildView(CaseScopedView):
    """A list under `/cases/{case_id}/…`: the case comes from `case_for_user`."""

    def get_case(self) -> Case:
        if self._case is None:
            self.checked(case_for_user(user=self.request.user, case_id=self.kwargs["case_id"]))
        return self._case


class ObjectChildView(CaseScopedView):
    """Something under `/<objects>/{id}/…`: each subclass names its parent's selector in
    `fetch_parent(pk)`, which answers 404 to non-members."""

    def get_parent(self):
        if not hasattr(self, "_parent"):
            self._parent = self.checked(self.fetch_parent(self.kwargs["pk"]))
        return self._parent


def _as_id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 1 <= number <= MAX_ID:
        raise Http404("Not found.")
    return number


# --- Authentication -------------------------------------------------------------------------


class TokenCreateView(APIView):
    """Exchange a username and password for an API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=serializers.TokenRequestSerializer,
        responses={201: serializers.TokenSerializer},
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        data = serializers.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # With Django's own request (not DRF's wrapper), so that the login lockout
        # (django-axes) counts the attempt and flags the request its middleware answers 429 to.
        user = authenticate(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            return Response(
                {"detail": "Unable to sign in with this username and password."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, key = token_create(user=user, name=data.validated_data.get("name", ""))
        return Response(
            {"token": key, "prefix": token.prefix, "expires": token.expires},
            status=status.HTTP_201_CREATED,
        )


class LogoutView(ThrottleRefusals, APIView):
    """Revoke the token this request was made with (or all of yours); end a browser session."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=serializers.LogoutSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = serializers.LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["all"]:
            tokens_revoke_all(user=request.user, actor=request.user, reason=REVOKED_AT_LOGOUT_ALL)
        elif isinstance(request.auth, ApiToken):
            token_revoke(token=request.auth, actor=request.user, reason=REVOKED_AT_LOGOUT)
        if request.auth is None:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenList(ThrottleRefusals, generics.ListAPIView):
    """Your live tokens (prefix, name, when created, last used, expiring)."""

    serializer_class = serializers.ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = None
    ordering_fields = ["created", "last_used", "expires"]
    ordering = ["-created", "-id"]
    metadata_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return tokens_of(user=self.request.user)

    @extend_schema(tags=["auth"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TokenDetail(ThrottleRefusals, APIView):
    """Revoke one of your tokens (a lost laptop, a leaked script): any other id is 404."""

    permission_classes = [IsAuthenticated]
    metadata_class = None

    @extend_schema(responses={204: None}, tags=["auth"])
    def delete(self, request, pk):
        token = tokens_of(user=request.user).filter(pk=_as_id(pk)).first()
        if token is None:
            raise Http404("You have no live token with this id.")
        token_revoke(token=token, actor=request.user, reason=REVOKED_BY_OWNER)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Cases ----------------------------------------------------------------------------------


class CaseList(CaseScopedView, generics.ListAPIView):
    serializer_class = serializers.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["created_at", "updated_at", "title", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        user = self.request.user
        my_role = Membership.objects.filter(case=OuterRef("pk"), user=user).values("role")[:1]
        return (
            cases_visible_to(user).select_related("created_by").annotate(my_role=Subquery(my_role))
        )

    @extend_schema(
        request=serializers.CaseCreateSerializer, responses={201: serializers.CaseSerializer}
    )
    def post(self, request):
        data = self.parse(serializers.CaseCreateSerializer)
        case = case_services.case_create(actor=request.user, **data)
        return self.render(
            serializers.CaseSerializer, self.checked(case), code=status.HTTP_201_CREATED
        )


class CaseDetail(CaseScopedView):
    serializer_class = serializers.CaseSerializer
    actions = {"PATCH": "case.update"}
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> Case:
        return self.checked(case_for_user(user=self.request.user, case_id=self.kwargs["case_id"]))

    def get(self, request, case_id):
        return self.render(serializers.CaseSerializer, self.get_object())

    @extend_schema(request=serializers.CaseUpdateSerializer)
    def patch(self, request, case_id):
        case = self.get_object()
        data = self.parse(serializers.CaseUpdateSerializer, partial=True)
        case = case_services.case_update(actor=request.user, case=case, **data)
        return self.render(serializers.CaseSerializer, case)


class MemberList(ListMixin, CaseChildView):
    serializer_class = serializers.MemberSerializer
    actions = {"POST": "member.manage"}
    ordering_fields = ["created_at", "role"]
    filterset_class = None
    ordering = ["user__username"]

    def get_queryset(self):
        if self.fake():
            return Membership.objects.none()
        return members_of(case=self.get_case()).select_related("added_by")

    @extend_schema(
        request=serializers.MemberAddSerializer, responses={201: serializers.MemberSerializer}
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(serializers.MemberAddSerializer)
        user = get_user_model().objects.filter(username=data["username"]).first()
        if user is None:
            raise exceptions.ValidationError({"username": ["No account has this username."]})
        membership = case_services.membership_add(
            actor=request.user, case=case, user=user, role=data["role"]
        )
        return self.render(serializers.MemberSerializer, membership, code=status.HTTP_201_CREATED)


class MemberDetail(CaseChildView):
    serializer_class = serializers.MemberSerializer
    actions = {
        "GET": "member.manage",
        "PATCH": "member.manage",
        "DELETE": "member.manage",
    }
    http_method_names = ["patch", "delete", "options"]

    def get_object(self) -> Membership:
        case = self.get_case()
        membership = (
            members_of(case=case)
            .select_related("added_by")
            .filter(user_id=_as_id(self.kwargs["user_id"]))
            .first()
        )
        if membership is None:
            raise Http404("This person is not a member of this case.")
        membership.case = case  # the same instance: its cached role serves the service's check
        return membership

    @extend_schema(request=serializers.MemberChangeSerializer)
    def patch(self, request, case_id, user_id):
        membership = self.get_object()
        data = self.parse(serializers.MemberChangeSerializer)
        membership = case_services.membership_change(
            actor=request.user, membership=membership, role=data["role"]
        )
        return self.render(serializers.MemberSerializer, membership)

    @extend_schema(responses={204: None})
    def delete(self, request, case_id, user_id):
        membership = self.get_object()
        case_services.membership_remove(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityList(ListMixin, CaseChildView):
    serializer_class = serializers.ActivitySerializer
    filterset_class = filters.ActivityFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self):
        if self.fake():
            return Activity.objects.none()
        return activity_of(case=self.get_case())

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = self.get_serializer_context()
        page = activity_rows(page, reveal=context["reveal"], actor=request.user, via="api")
        rows = serializers.ActivitySerializer(page, many=True, context=context).data
        return self.get_paginated_response(rows)


# --- Sources --------------------------------------------------------------------------------


class SourceList(ListMixin, CaseChildView):
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter
    actions = {"POST": "source.add"}
    ordering_fields = ["id", "created_at", "reliability", "kind"]
    ordering = ["id"]

    def get_queryset(self):
        if self.fake():
            return Source.objects.none()
        return sources_of(case=self.get_case()).select_related("created_by")

    def sources_shown(self, page) -> list:
        return list(page)

    @extend_schema(
        request=serializers.SourceWriteSerializer, responses={201: serializers.SourceSerializer}
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(serializers.SourceWriteSerializer)
        source = source_services.source_create(actor=request.user, case=case, **data)
        return self.render(serializers.SourceSerializer, source, code=status.HTTP_201_CREATED)


class SourceDetail(CaseScopedView):
    serializer_class = serializers.SourceSerializer
    actions = {"PATCH": "source.edit"}
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> Source:
        return self.checked(source_for_user(user=self.request.user, source_id=self.kwargs["pk"]))

    def get(self, request, pk):
        source = self.get_object()
        if self.get_serializer_context()["reveal"]:  # a protected identity shown: recorded
            identity_reveal_record(actor=request.user, sources=[source], via="api")
        return self.render(serializers.SourceSerializer, source)

    @extend_schema(request=serializers.SourceWriteSerializer)
    def patch(self, request, pk):
        source = self.get_object()
        data = self.parse(serializers.SourceWriteSerializer, partial=True)
        source = source_services.source_update(actor=request.user, source=source, **data)
        return self.render(serializers.SourceSerializer, source)


# --- Evidence -------------------------------------------------------------------------------


class EvidenceList(ListMixin, CaseChildView):
    serializer_class = serializers.EvidenceSerializer
    filterset_class = filters.EvidenceFilter
    actions = {"POST": "evidence.add"}
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    ordering_fields = ["id", "created_at", "observed_at", "title", "kind"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if self.fake():
            return Evidence.objects.none()
        return evidence_of(case=self.get_case()).select_related("collected_by")

    def sources_shown(self, page) -> list:
        return [evidence.source for evidence in page]

    @extend_schema(
        request={
            "multipart/form-data": serializers.EvidenceCreateSerializer,
            "application/json": serializers.EvidenceCreateSerializer,
        },
        responses={
            201: serializers.EvidenceSerializer,
            200: OpenApiResponse(
                serializers.EvidenceSerializer,
                description="The same file was already in the case: its evidence.",
            ),
        },
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = dict(self.parse(serializers.EvidenceCreateSerializer))
        kind = data.pop("kind", None)
        created = True
        if kind in Evidence.FILE_KINDS or kind is None:  # the serializer wants a file then
            # What a file's evidence records besides the file (the serializer has refused a
            # url, text or date stated for a file; an empty one is dropped here). The service
            # tells the kind from the bytes and refuses a stated kind they contradict.
            file = data.pop("file")
            details = {k: v for k, v in data.items() if k in FILE_DETAILS}
            evidence, created = evidence_services.evidence_ingest(
                actor=request.user, case=case, file=file, kind=kind, **details
            )
        else:
            data.pop("file", None)
            evidence = evidence_services.evidence_create(
                actor=request.user, case=case, kind=kind, **data
            )
        evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
        return self.render(
            serializers.EvidenceSerializer,
            evidence,
            code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


FILE_DETAILS = frozenset(
    {
        "source",
        "title",
        "description",
        "observed_at",
        "place_name",
        "latitude",
        "longitude",
        "sensitive",
    }
)


class EvidenceDetail(ObjectChildView):
    serializer_class = serializers.EvidenceSerializer
    actions = {"PATCH": "evidence.edit"}
    http_method_names = ["get", "patch", "head", "options"]

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk)

    def get(self, request, pk):
        evidence = self.get_parent()
        if self.get_serializer_context()["reveal"]:  # its source's identity shown: recorded
            identity_reveal_record(actor=request.user, sources=[evidence.source], via="api")
        return self.render(serializers.EvidenceSerializer, evidence)

    @extend_schema(request=serializers.EvidenceUpdateSerializer)
    def patch(self, request, pk):
        evidence = self.get_parent()
        data = self.parse(serializers.EvidenceUpdateSerializer, partial=True)
        evidence_services.evidence_update(actor=request.user, evidence=evidence, **data)
        evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
        return self.render(serializers.EvidenceSerializer, evidence)


class EvidenceReprocess(EvidenceDetail):
    actions = {"POST": "evidence.reprocess"}
    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses={202: serializers.EvidenceSerializer})
    def post(self, request, pk):
        evidence = self.get_parent()
        if evidence.kind != Evidence.Kind.PHOTO:
            raise Http404("Only photos are processed.")
        photo_services.photo_reprocess(actor=request.user, evidence=evidence)
        evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
        return self.render(serializers.EvidenceSerializer, evidence, code=status.HTTP_202_ACCEPTED)


class EvidenceSimilar(ListMixin, EvidenceDetail):
    serializer_class = serializers.SimilarPhotoSerializer
    queryset = Evidence.objects.none()  # for the schema: the rows come from `similar_photos`
    http_method_names = ["get", "head", "options"]

    def list(self, request, pk):
        evidence = self.get_parent()
        photo = serializers._photo(evidence)
        if photo is None:
            raise Http404("Only photos have near-duplicates.")
        reveal = self.get_serializer_context()["reveal"]
        rows = []
        for other, match in similar_photos(photo=photo):
            other_evidence = other.evidence
            rows.append(
                {
                    "evidence": other_evidence.pk,
                    "title": other_evidence.label,
                    "source_name": (
                        other_evidence.source.display_name(reveal=reveal)
                        if other_evidence.source
                        else None
                    ),
                    "distance": match.distance,
                    "cross_source": match.cross_source,
                    "status": other.status,
                    "thumbnail_url": (
                        request.build_absolute_uri(
                            f"/api/v1/evidence/{other_evidence.pk}/thumbnail/"
                        )
                        if other.thumbnail
                        else None
                    ),
                }
            )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializers.SimilarPhotoSerializer(page, many=True).data)


def _file_response(file, *, content_type: str, filename: str, as_attachment: bool):
    response = FileResponse(
        file, as_attachment=as_attachment, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store" if as_attachment else "private, max-age=3600"
    return response


class EvidenceOriginal(EvidenceDetail):
    """The original file, as an attachment (editors and owners). Every download is recorded."""

    actions = {"GET": "original.download"}
    http_method_names = ["get", "options"]

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        original = original_download(actor=request.user, evidence=self.get_parent(), via="api")
        response = _file_response(
            original.file,
            content_type=original.content_type,
            filename=original.filename,
            as_attachment=True,
        )
        response["X-Content-SHA256"] = original.sha256
        return response


class _Derivative(EvidenceDetail):
    """A photo's derivative (upright, metadata stripped), shown inline to any member."""

    http_method_names = ["get", "options"]
    field = ""

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        photo = serializers._photo(self.get_parent())
        derivative = getattr(photo, self.field, None) if photo is not None else None
        if not derivative:
            raise Http404(f"This photo has no {self.field} yet.")
        content_type = mimetypes.guess_type(derivative.name)[0] or "application/octet-stream"
        return _file_response(
            derivative.open("rb"),
            content_type=content_type,
            filename=f"{self.field}-{photo.pk}",
            as_attachment=False,
        )


class EvidenceThumbnail(_Derivative):
    field = "thumbnail"


class EvidencePreview(_Derivative):
    field = "preview"


# --- Claims ---------------------------------------------------------------------------------


class ClaimsRendered:
    # Claims are rendered with their links, read for all of them in one query. (A comment: a
    # view's docstring is its description in the schema.)

    def render_claims(
        self, claims, *, many: bool = False, viewed: bool = False
    ) -> serializers.ClaimSerializer:
        context = self.get_serializer_context()
        context["links"] = _links_by_claim(claims if many else [claims])
        if viewed and context.get("reveal"):
            # The protected identities the links name are on the custody record, as on the
            # claim's page.
            protected = {
                row["evidence__source"]
                for rows in context["links"].values()
                for row in rows
                if row["evidence__source__protected"]
            }
            identity_reveal_record_ids(actor=self.request.user, source_ids=protected, via="api")
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
        return self.get_paginated_response(self.render_claims(page, many=True, viewed=True).data)

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

    def render_claim(self, claim: Claim, code=status.HTTP_200_OK, *, viewed: bool = False):
        return Response(self.render_claims(claim, viewed=viewed).data, status=code)

    def get(self, request, pk):
        return self.render_claim(self.get_parent(), viewed=True)

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

    def sources_shown(self, page) -> list:
        return [link.evidence.source for link in page]

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
        if self.get_serializer_context()["reveal"]:  # its source's identity shown: recorded
            identity_reveal_record(actor=request.user, sources=[link.evidence.source], via="api")
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


# --- Comments -------------------------------------------------------------------------------


class _CommentList(ListMixin, ObjectChildView):
    serializer_class = serializers.CommentSerializer
    actions = {"POST": "comment.add"}
    ordering_fields = ["id", "created_at"]
    ordering = ["created_at", "id"]
    target = ""

    def get_queryset(self):
        if self.fake():
            return Comment.objects.none()
        return comments_on(**{self.target: self.get_parent()})

    @extend_schema(
        request=serializers.CommentWriteSerializer,
        responses={201: serializers.CommentSerializer},
    )
    def post(self, request, pk):
        parent = self.get_parent()
        data = self.parse(serializers.CommentWriteSerializer)
        comment = comment_services.comment_create(
            actor=request.user, text=data["text"], **{self.target: parent}
        )
        return self.render(serializers.CommentSerializer, comment, code=status.HTTP_201_CREATED)


class ClaimComments(_CommentList):
    target = "claim"

    def fetch_parent(self, pk) -> Claim:
        return claim_for_user(user=self.request.user, claim_id=pk)


class EvidenceComments(_CommentList):
    target = "evidence"

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk)


class CommentDetail(ObjectChildView):
    serializer_class = serializers.CommentSerializer
    actions = {"PATCH": "comment.edit"}
    http_method_names = ["get", "patch", "head", "options"]

    def fetch_parent(self, pk) -> Comment:
        return comment_for_user(user=self.request.user, comment_id=pk)

    def get(self, request, pk):
        return self.render(serializers.CommentSerializer, self.get_parent())

    @extend_schema(request=serializers.CommentWriteSerializer)
    def patch(self, request, pk):
        comment = self.get_parent()
        data = self.parse(serializers.CommentWriteSerializer)
        comment = comment_services.comment_edit(
            actor=request.user, comment=comment, text=data["text"]
        )
        return self.render(serializers.CommentSerializer, comment)


# --- Anything else under /api/v1/ -----------------------------------------------------------


class NotFoundView(APIView):
    """A JSON 404 for any other path under /api/v1/ (instead of the site's HTML page)."""

    permission_classes = [AllowAny]
    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such endpoint. (API paths end with a slash.)")

    get = post = put = patch = delete = _not_found
