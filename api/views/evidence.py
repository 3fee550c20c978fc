"""Evidence: a case's list and uploads, an item, and a photo's processing, near-duplicates,
original and derivatives.
"""

import mimetypes

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser

from api import filters, serializers
from api.parsers import JSONParser
from api.views.base import CaseChildView, ListMixin, ObjectChildView
from evidence.downloads import download_response
from evidence.models import Evidence
from evidence.selectors import evidence_for_user, evidence_of, similar_photos
from evidence.services import evidence as evidence_services
from evidence.services import photos as photo_services
from evidence.services import videos as video_services
from evidence.services.custody import original_download


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
        if evidence.kind == Evidence.Kind.VIDEO:
            video_services.video_reprocess(actor=request.user, evidence=evidence)
        elif evidence.kind != Evidence.Kind.PHOTO:
            raise Http404("Only photos and videos are processed.")
        else:
            photo_services.photo_reprocess(actor=request.user, evidence=evidence)
        evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
        return self.render(serializers.EvidenceSerializer, evidence, code=status.HTTP_202_ACCEPTED)


class EvidenceSimilar(ListMixin, EvidenceDetail):
    serializer_class = serializers.SimilarPhotoSerializer
    queryset = Evidence.objects.none()  # for the schema: the rows come from `similar_photos`
    http_method_names = ["get", "head", "options"]

    def list(self, request, pk):
        evidence = self.get_parent()
        photo = evidence.photo_or_none
        if photo is None:
            raise Http404("Only photos have near-duplicates.")
        reader = self.get_serializer_context()["reader"]
        rows = []
        for other, match in similar_photos(photo=photo):
            other_evidence = other.evidence
            rows.append(
                {
                    "evidence": other_evidence.pk,
                    "title": other_evidence.label,
                    "source_name": reader.source_name(other_evidence.source),
                    "distance": match.distance,
                    "kind": match.kind,
                    "verified": match.verified,
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


class EvidenceOriginal(EvidenceDetail):
    """The original file, as an attachment (editors and owners). Every download is recorded."""

    actions = {"GET": "original.download"}
    http_method_names = ["get", "options"]

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        original = original_download(actor=request.user, evidence=self.get_parent(), via="api")
        response = download_response(
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
        photo = self.get_parent().photo_or_none
        derivative = getattr(photo, self.field, None) if photo is not None else None
        if not derivative:
            raise Http404(f"This photo has no {self.field} yet.")
        content_type = mimetypes.guess_type(derivative.name)[0] or "application/octet-stream"
        return download_response(
            derivative.open("rb"),
            content_type=content_type,
            filename=f"{self.field}-{photo.pk}",
            as_attachment=False,
        )


class EvidenceThumbnail(_Derivative):
    field = "thumbnail"


class EvidencePreview(_Derivative):
    field = "preview"
