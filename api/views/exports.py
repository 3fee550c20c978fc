"""API views of a case's exports: asking for one, polling it, downloading the bundle.

Built on the same base views, permission class and selectors as the other API views
(`api.views.base`).
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status

from api.views.base import CaseChildView, ListMixin, ObjectChildView
from evidence.downloads import download_response
from evidence.models import Export
from evidence.selectors import export_for_user, exports_for_user
from evidence.services import exports as export_services


class ExportRequestSerializer(serializers.Serializer):
    originals = serializers.BooleanField(default=False)
    reveal_protected = serializers.BooleanField(default=False)


class ExportSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    download_url = serializers.SerializerMethodField()
    # When a ready bundle will be deleted; an expired export keeps its row, not its file.
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Export
        fields = [
            "id",
            "case",
            "status",
            "progress",
            "originals",
            "reveal_protected",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "sha256",
            "size",
            "expires_at",
            "expired_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, obj: Export) -> str | None:
        if obj.status != Export.Status.READY:
            return None
        url = reverse("api:export-download", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class CaseExports(ListMixin, CaseChildView):
    """A case's exports (editors and owners) and a new one (202: it runs as a task)."""

    serializer_class = ExportSerializer
    actions = {
        "GET": "export.see",
        "POST": "export.create",
    }

    def get_queryset(self):
        if self.fake():
            return Export.objects.none()
        return exports_for_user(user=self.request.user, case=self.get_case())

    @extend_schema(request=ExportRequestSerializer, responses={202: ExportSerializer})
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(ExportRequestSerializer)
        created = export_services.export_request(
            actor=request.user,
            case=case,
            originals=data["originals"],
            reveal_protected=data["reveal_protected"],
        )
        created.refresh_from_db()  # the task may have run already (in-process tasks)
        return self.render(ExportSerializer, created, code=status.HTTP_202_ACCEPTED)


class ExportDetail(ObjectChildView):
    """Poll an export: status, progress, and `download_url` once ready."""

    serializer_class = ExportSerializer
    actions = {"GET": "export.see"}
    http_method_names = ["get", "options"]

    def fetch_parent(self, pk) -> Export:
        return export_for_user(user=self.request.user, export_id=pk)

    def get(self, request, pk):
        return self.render(ExportSerializer, self.get_parent())


class ExportDownload(ExportDetail):
    """The bundle itself (editors and owners; with protected identities, owners only): 409 while
    it is not ready, 410 once it has expired."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        bundle = self.get_parent()
        handle = export_services.export_open(actor=request.user, export=bundle)
        response = download_response(
            handle,
            content_type="application/zip",
            filename=export_services.export_filename(bundle),
            as_attachment=True,
        )
        response["X-Content-SHA256"] = bundle.sha256
        return response
