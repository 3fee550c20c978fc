"""A web link's captures (issue #16): capture again, the list of every capture, each file."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status

from api import serializers
from api.views.base import ListMixin
from api.views.evidence import EvidenceDetail
from evidence.downloads import download_response
from evidence.models import Capture, Evidence
from evidence.selectors import capture_file_of, captures_of
from evidence.services.capture_requests import capture_request


class _LinkView(EvidenceDetail):
    def link(self) -> Evidence:
        evidence = self.get_parent()
        if evidence.kind != Evidence.Kind.LINK:
            raise Http404("Only web links are captured.")
        return evidence


class EvidenceCapture(_LinkView):
    """Capture the page again (reporters and above); earlier captures are kept."""

    actions = {"POST": "evidence.capture"}
    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses={202: serializers.CaptureSerializer})
    def post(self, request, pk):
        capture = capture_request(actor=request.user, evidence=self.link())
        capture = captures_of(evidence=capture.evidence).get(pk=capture.pk)
        return self.render(serializers.CaptureSerializer, capture, code=status.HTTP_202_ACCEPTED)


class EvidenceCaptures(ListMixin, _LinkView):
    """Every capture of the link, newest first."""

    serializer_class = serializers.CaptureSerializer
    queryset = Capture.objects.none()  # for the schema: the rows come from `captures_of`
    http_method_names = ["get", "head", "options"]

    def list(self, request, pk):
        page = self.paginate_queryset(list(captures_of(evidence=self.link())))
        data = serializers.CaptureSerializer(
            page, many=True, context=self.get_serializer_context()
        ).data
        return self.get_paginated_response(data)


class EvidenceCaptureFile(_LinkView):
    """One file of a capture, exactly as stored; its SHA-256 in `X-Content-SHA256`."""

    http_method_names = ["get", "options"]

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="e.g. page.pdf")
        ],
        responses={(200, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk, capture_id, name):
        row = capture_file_of(evidence=self.link(), capture_id=capture_id, name=name)
        if row is None:
            raise Http404("No such file in this capture.")
        response = download_response(
            row.file.open("rb"),
            content_type=row.content_type,
            filename=f"capture-{row.capture_id}-{row.name}",
            as_attachment=True,
        )
        response["X-Content-SHA256"] = row.sha256
        return response
