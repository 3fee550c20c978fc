"""API views of the chain of custody: an item's custody record, and the deletion (tombstone)
and purge of evidence.

Built on the same base views, permission class and selectors as the other API views
(`api.views.base`).
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from api.schema import FreeFormField
from api.views.base import ObjectChildView
from api.views.evidence import EvidenceDetail
from cases import signing
from evidence import custody
from evidence.models import Evidence
from evidence.selectors import evidence_for_user
from evidence.services import custody as custody_services


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


class TrustedTimestampSerializer(serializers.Serializer):
    tsa = serializers.CharField(help_text="The timestamp authority that signed the token.")
    at = serializers.CharField(help_text="The time the TSA vouches for (ISO 8601).")
    serial = serializers.CharField(help_text="The token's serial number (hex).")


class ItemTimestampSerializer(serializers.Serializer):
    timestamp = TrustedTimestampSerializer(
        allow_null=True, help_text="The original's SHA-256, timestamped at ingest; null: none."
    )
    text = serializers.CharField(help_text='For people: "no trusted timestamp" without one.')


class CheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    rows = serializers.IntegerField(help_text="Rows of the case's activity chain it signed.")
    head = serializers.CharField(help_text="The hash of the chain's last row then.")
    head_id = serializers.IntegerField(allow_null=True)
    at = serializers.CharField()
    reason = serializers.CharField(help_text="schedule or export")
    key = serializers.CharField(help_text="Fingerprint of the signing key (SHA-256, hex).")
    signature = serializers.CharField(help_text="Base64 Ed25519 signature of the statement.")
    timestamp = serializers.CharField(
        allow_null=True, help_text="RFC 3161 token (base64); null: no trusted timestamp."
    )
    trusted_timestamp = TrustedTimestampSerializer(
        allow_null=True, help_text="What the token says; null: no trusted timestamp."
    )
    covers_latest_event = serializers.BooleanField()


class SigningSerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    key_fingerprint = serializers.CharField()
    public_key_url = serializers.CharField()


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
    trusted_timestamp = ItemTimestampSerializer(
        help_text="RFC 3161 timestamp of the original's SHA-256 at ingest."
    )
    checkpoints = CheckpointSerializer(
        many=True, help_text="The case's latest signed checkpoints, newest first."
    )
    signing = SigningSerializer(help_text="The newsroom key that signs checkpoints and exports.")

    @extend_schema_field(TombstoneSerializer(allow_null=True))
    def get_deleted(self, body: dict) -> dict | None:
        return body["deleted"]  # rendered by the view, with TombstoneSerializer


class EvidenceCustody(ObjectChildView):
    """The custody record of one item (any member; deleted items too, by their tombstone).
    Exact places of a protected source's evidence are left out below editor."""

    http_method_names = ["get", "options"]

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk, include_deleted=True)

    @extend_schema(responses=CustodySerializer)
    def get(self, request, pk):
        evidence = self.get_parent()
        reader = self.get_serializer_context()["reader"]
        deleted = None
        if evidence.deleted_at is not None:
            deleted = TombstoneSerializer(evidence).data
        events = custody.custody_entries(evidence=evidence, reader=reader)
        body = {
            "evidence": evidence.pk,
            # The label of a deleted item is kept; a protected source's name never is in it.
            "label": evidence.label,
            "sha256": evidence.sha256,
            "deleted": deleted,
            "events": events,
            "trusted_timestamp": custody.custody_timestamp(evidence=evidence),
            "checkpoints": custody.custody_checkpoints(evidence=evidence, entries=events),
            "signing": {
                "algorithm": signing.ALGORITHM,
                "key_fingerprint": signing.fingerprint(signing.public_key()),
                "public_key_url": request.build_absolute_uri(reverse("signing_key")),
            },
        }
        return Response(CustodySerializer(body).data)


class EvidenceDetailWithDelete(EvidenceDetail):
    """`/evidence/{id}/`: the API's evidence detail (GET, PATCH), plus DELETE with a reason,
    which leaves a tombstone (editors and owners)."""

    actions = {**EvidenceDetail.actions, "DELETE": "evidence.delete"}
    http_method_names = ["get", "patch", "delete", "head", "options"]
    # The reason of a DELETE may come in the query string (clients that send no body).
    extra_query_params = ("reason",)

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
