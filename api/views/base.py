"""API views: parse input, call one service, render.

Every view reaches its object through a selector of `cases.selectors` or `evidence.selectors`
(404 for non-members), then `CaseRole` asks `cases.policy` about the action the view names for
the method in `actions` (403 naming what is missing). The services ask the policy again.
"""

from django.http import Http404
from rest_framework import exceptions, generics, mixins, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.params import KnownParams
from api.permissions import CaseRole, action_for
from api.throttles import AnonThrottle
from cases.models import Case
from cases.selectors import case_for_user
from evidence.models import EvidenceLink
from evidence.reader import reader_for

MAX_ID = 2**63 - 1


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


class CaseScopedView(KnownParams, ThrottleRefusals, generics.GenericAPIView):
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
            context["reader"] = reader_for(self.request, self._case, via="api")
            context["reveal"] = context["reader"].reveal
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


def as_id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not 1 <= number <= MAX_ID:
        raise Http404("Not found.")
    return number


class NotFoundView(APIView):
    """A JSON 404 for any other path under /api/v1/ (instead of the site's HTML page)."""

    permission_classes = [AllowAny]
    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such endpoint. (API paths end with a slash.)")

    get = post = put = patch = delete = _not_found
