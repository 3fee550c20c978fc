"""A case's webhooks (owners) and their delivery log; bulk import of a spreadsheet."""

import json

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from api.parsers import JSONParser
from api.schema import FreeFormField
from api.views.base import CaseChildView, ListMixin, as_id
from evidence import webhooks
from evidence.models import Webhook, WebhookDelivery
from evidence.services import bulk_import as imports

MANAGE = "webhook.manage"


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook; its secret is shown only in the answer that creates it."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=list(webhooks.EVENTS)))

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "active",
            "disabled_at",
            "disabled_reason",
            "failures_in_row",
            "created_at",
        ]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="An http(s) address to post to.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(webhooks.EVENTS)),
        min_length=1,
        max_length=len(webhooks.EVENTS),
    )


class WebhookUpdateSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(webhooks.EVENTS)),
        min_length=1,
        max_length=len(webhooks.EVENTS),
        required=False,
    )
    active = serializers.BooleanField(
        required=False, help_text="true switches a disabled webhook on again."
    )


class DeliverySerializer(serializers.ModelSerializer):
    payload = FreeFormField(
        reason="The event as it is posted (README, Webhooks): its object's keys depend on "
        "the event.",
        read_only=True,
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "response_code",
            "error",
            "duration_ms",
            "created_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class _Owners(CaseChildView):
    actions = {"GET": "webhook.see", "POST": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    def get_webhook(self) -> Webhook:
        webhook = (
            webhooks.webhooks_of(case=self.get_case()).filter(pk=as_id(self.kwargs["pk"])).first()
        )
        if webhook is None:
            raise Http404("No such webhook in this case.")
        return webhook


class WebhookList(ListMixin, _Owners):
    """The case's webhooks (owners); POST adds one and answers with its secret, once."""

    serializer_class = WebhookSerializer
    filterset_class = None
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if self.fake():
            return Webhook.objects.none()
        return webhooks.webhooks_of(case=self.get_case())

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(WebhookCreateSerializer)
        webhook = webhooks.webhook_create(actor=request.user, case=case, **data)
        return self.render(WebhookCreatedSerializer, webhook, code=status.HTTP_201_CREATED)


class WebhookDetail(_Owners):
    """One webhook: read, change its events or switch it on again, remove it."""

    serializer_class = WebhookSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get(self, request, case_id, pk):
        return self.render(WebhookSerializer, self.get_webhook())

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def patch(self, request, case_id, pk):
        webhook = self.get_webhook()
        data = self.parse(WebhookUpdateSerializer)
        webhooks.webhook_update(actor=request.user, webhook=webhook, **data)
        return self.render(WebhookSerializer, webhook)

    @extend_schema(responses={204: None})
    def delete(self, request, case_id, pk):
        webhooks.webhook_delete(actor=request.user, webhook=self.get_webhook())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveries(ListMixin, _Owners):
    """The delivery log of one webhook, newest first: status, attempts, the answer's code."""

    serializer_class = DeliverySerializer
    filterset_class = None
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        if self.fake():
            return WebhookDelivery.objects.none()
        return webhooks.deliveries_of(webhook=self.get_webhook())


# --- Bulk import ----------------------------------------------------------------------------


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV (UTF-8) or XLSX file, one row an item.")
    kind = serializers.ChoiceField(choices=list(imports.KINDS))
    mapping = serializers.JSONField(
        required=False,
        help_text="`{field: column}`; without it a column named like a field fills it.",
    )
    apply = serializers.BooleanField(
        required=False,
        default=False,
        help_text="false: preview (nothing is kept); true: import, all rows or none.",
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The line of the file (the header is line 1).")
    field = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    mapping = FreeFormField(reason="The column of each field, keyed by the kind's field names.")
    rows = serializers.IntegerField()
    applied = serializers.BooleanField()
    errors = ImportErrorSerializer(many=True)
    preview = serializers.ListField(
        child=FreeFormField(reason="A row as the service receives it, keyed by field names.")
    )
    created = serializers.ListField(child=serializers.IntegerField())
    sha256 = serializers.CharField()


class CaseImport(CaseChildView):
    """Preview or apply a spreadsheet of links, testimony or sources (reporters and above).

    A preview answers 200 with each row's errors; an applied import 201 with the ids made; an
    import with any row in error is not applied (400, the same body)."""

    actions = {"POST": "import.run"}
    http_method_names = ["post", "options"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={200: ImportResultSerializer, 201: ImportResultSerializer},
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(ImportRequestSerializer)
        mapping = data.get("mapping")
        if isinstance(mapping, str):
            try:
                mapping = json.loads(mapping)
            except ValueError:
                raise serializers.ValidationError(
                    {"mapping": ["Must be a JSON object {field: column}."]}
                ) from None
        upload = data["file"]
        result = imports.bulk_import(
            actor=request.user,
            case=case,
            kind=data["kind"],
            file=upload,
            name=upload.name or "",
            mapping=mapping,
            apply=data["apply"],
        )
        if data["apply"]:
            code = status.HTTP_201_CREATED if result.applied else status.HTTP_400_BAD_REQUEST
        else:
            code = status.HTTP_200_OK
        return Response(result.as_dict(), status=code)
