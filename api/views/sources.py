"""A case's sources."""

from drf_spectacular.utils import extend_schema
from rest_framework import status

from api import filters, serializers
from api.views.base import CaseChildView, CaseScopedView, ListMixin
from evidence.models import Source
from evidence.selectors import source_for_user, sources_of
from evidence.services import sources as source_services


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
        return self.render(serializers.SourceSerializer, source)

    @extend_schema(request=serializers.SourceWriteSerializer)
    def patch(self, request, pk):
        source = self.get_object()
        data = self.parse(serializers.SourceWriteSerializer, partial=True)
        source = source_services.source_update(actor=request.user, source=source, **data)
        return self.render(serializers.SourceSerializer, source)
