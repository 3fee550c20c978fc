"""API views of the chain of custody: an item's custody record, exports of a case and their
downloads, and the deletion (tombstone) and purge of evidence.

Built on the same base views, permission class and selectors as `api.views`.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from api.schema import FreeFormField
from api.views import CaseChildView, EvidenceDetail, ListMixin, ObjectChildView, _file_response
from cases.selectors import can_see_protected
from evidence import custody
from evidence.models import Evidence, Export
from evidence.selectors import evidence_for_user, export_for_user, exports_for_user
from evidence.services import custody as custody_services
from evidence.services import exports as export_services

# --- Serializers ----------------------------------------------------------------------------


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


class CustodyEventSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, required=False)
    at = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    verb = serializers.CharField()
    event = serializers.CharField()
    target = serializers.CharField(required=False)
    data = FreeFormField(reason="The activity row's data: its keys depend on the verb.")
    prev_hash = serializers.CharField()
    hash = serializers.CharField()
    carried_over = serializers.BooleanField()


class DeleteSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=custody_services.MAX_REASON)


class TombstoneSerializer(serializers.ModelSerializer):
    deleted_by = serializers.CharField(
        source="deleted_by.username", read_only=True, default=None, allow_null=True
    )
    purged_by = serializers.CharField(
        source="purged_by.username", read_only=True, default=None, allow_null=True
    )
    original_retained = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "kind",
            "sha256",
            "deleted_at",
            "deleted_by",
            "deletion_reason",
            "purged_at",
            "purged_by",
            "original_retained",
        ]
        read_only_fields = fields

    def get_original_retained(self, obj: Evidence) -> bool:
        return bool(obj.original) and obj.purged_at is None


class CustodySerializer(serializers.Serializer):
    evidence = serializers.IntegerField()
    label = serializers.CharField()
    sha256 = serializers.CharField()
    deleted = serializers.SerializerMethodField(help_text="Deleted evidence: its tombstone.")
    events = CustodyEventSerializer(many=True)

    @extend_schema_field(TombstoneSerializer(allow_null=True))
    def get_deleted(self, body: dict) -> dict | None:
        return body["deleted"]  # rendered by the view, with TombstoneSerializer


# --- Custody --------------------------------------------------------------------------------


class EvidenceCustody(ObjectChildView):
    """The custody record of one item (any member; deleted items too, by their tombstone).
    Exact places of a protected source's evidence are left out below editor."""

    http_method_names = ["get", "options"]

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk, include_deleted=True)

    @extend_schema(responses=CustodySerializer)
    def get(self, request, pk):
        evidence = self.get_parent()
        reveal = can_see_protected(user=request.user, case=evidence.case)
        deleted = None
        if evidence.deleted_at is not None:
            deleted = TombstoneSerializer(evidence).data
        body = {
            "evidence": evidence.pk,
            # The label of a deleted item is kept; a protected source's name never is in it.
            "label": evidence.label,
            "sha256": evidence.sha256,
            "deleted": deleted,
            "events": custody.custody_entries(evidence=evidence, reveal=reveal),
        }
        return Response(CustodySerializer(body).data)


class EvidenceDetailWithDelete(EvidenceDetail):
    """`/evidence/{id}/`: the API's evidence detail (GET, PATCH), plus DELETE with a reason,
    which leaves a tombstone (editors and owners)."""

    actions = {**EvidenceDetail.actions, "DELETE": "evidence.delete"}
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @extend_schema(request=DeleteSerializer, responses={200: TombstoneSerializer})
    def delete(self, request, pk):
        evidence = self.get_parent()
        reason = request.data.get("reason") if hasattr(request.data, "get") else None
        if reason is None:
            reason = request.query_params.get("reason")
        serializer = DeleteSerializer(data={} if reason is None else {"reason": reason})
        serializer.is_valid(raise_exception=True)
        custody_services.evidence_delete(
            actor=request.user, evidence=evidence, reason=serializer.validated_data["reason"]
        )
        evidence.refresh_from_db()
        return Response(TombstoneSerializer(evidence).data)


class EvidencePurge(ObjectChildView):
    """Delete the retained original of deleted evidence for good (owners)."""

    actions = {"POST": "evidence.purge"}
    http_method_names = ["post", "options"]

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk, include_deleted=True)

    @extend_schema(request=None, responses=TombstoneSerializer)
    def post(self, request, pk):
        evidence = self.get_parent()
        custody_services.evidence_purge(actor=request.user, evidence=evidence)
        evidence.refresh_from_db()
        return Response(TombstoneSerializer(evidence).data)


# --- Exports ----------------------------------------------------------------------------------


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
        response = _file_response(
            handle,
            content_type="application/zip",
            filename=export_services.export_filename(bundle),
            as_attachment=True,
        )
        response["X-Content-SHA256"] = bundle.sha256
        return response
