"""Search over every case the user is a member of: words (`GET /api/v1/search/`) and images
(`POST /api/v1/search/image/`). Both read through each case's reader, as the pages do."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.parsers import JSONParser
from api.views.base import ThrottleRefusals
from cases.models import SearchEntry
from cases.selectors import case_for_user
from evidence.image_search import evidence_phash, image_matches, query_phash
from evidence.models import Evidence, PhotoFlag
from evidence.search import SEARCH_STATUS_CHOICES, SearchQuery, search
from evidence.selectors import evidence_for_user

MAX_ID = 2**63 - 1


class ChoicesField(serializers.ListField):
    """Values given repeated (`?type=claim&type=comment`) or separated by commas."""

    def __init__(self, *, choices, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=choices), required=False, **kwargs)

    def to_internal_value(self, data):
        values = []
        for value in data if isinstance(data, list) else [data]:
            values += [v for v in str(value).split(",") if v]
        return super().to_internal_value(values)


class SearchQuerySerializer(serializers.Serializer):
    """The query parameters of `GET /api/v1/search/` (every one declared here)."""

    q = serializers.CharField(max_length=200, help_text="The words; every one must match.")
    case = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    type = ChoicesField(choices=SearchEntry.Type.choices, help_text="claim, evidence, …")
    kind = ChoicesField(choices=Evidence.Kind.choices, help_text="Evidence kinds.")
    status = ChoicesField(choices=SEARCH_STATUS_CHOICES)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    source = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    flag = serializers.ChoiceField(choices=PhotoFlag.Code.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1, max_value=10_000, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class SearchHitSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.IntegerField(source="object_id")
    case = inline_serializer(
        "SearchHitCase", {"id": serializers.IntegerField(), "title": serializers.CharField()}
    )
    title = serializers.CharField(source="label")
    title_html = serializers.CharField(source="title", help_text="Escaped, terms in <mark>.")
    snippet_html = serializers.CharField(source="snippet", help_text="Escaped, terms in <mark>.")
    web_url = serializers.SerializerMethodField()
    kind = serializers.CharField()
    status = serializers.CharField()
    date = serializers.DateTimeField(source="occurred", allow_null=True)
    score = serializers.FloatField(source="relevance")

    def get_web_url(self, hit) -> str:
        return self.context["request"].build_absolute_uri(hit.url)


class SearchResultsSerializer(serializers.Serializer):
    count = serializers.IntegerField(source="total")
    counts = inline_serializer(
        "SearchCounts", {t: serializers.IntegerField() for t in SearchEntry.Type.values}
    )
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = SearchHitSerializer(many=True, source="hits")


class SearchView(ThrottleRefusals, APIView):
    """Claims, evidence, comments, link notes and sources that match every word, best first,
    in the cases the user is a member of (`case` narrows to one: 404 outside it). `count` and
    `counts` (per type) are of every hit the user may see."""

    http_method_names = ["get", "head"]

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultsSerializer)
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        query = SearchQuery.of(data)
        if query.case_id is not None:
            case_for_user(user=request.user, case_id=query.case_id)
        results = search(
            request=request,
            query=query,
            page=data["page"],
            per_page=data["page_size"],
            via="api",
        )
        body = SearchResultsSerializer(results, context={"request": request}).data
        return Response(body)


class ImageSearchRequestSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="An image (not stored).")
    evidence = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Or one of your photos."
    )

    def validate(self, data):
        if ("file" in data) == ("evidence" in data):
            raise serializers.ValidationError("Send either `file` or `evidence`.")
        return data


class ImageMatchSerializer(serializers.Serializer):
    distance = serializers.IntegerField()
    case = inline_serializer(
        "ImageMatchCase", {"id": serializers.IntegerField(), "title": serializers.CharField()}
    )
    evidence = inline_serializer(
        "ImageMatchEvidence",
        {
            "id": serializers.IntegerField(),
            "title": serializers.CharField(),
            "kind": serializers.CharField(),
            "source_name": serializers.CharField(allow_null=True),
            "sensitive": serializers.BooleanField(),
            "status": serializers.CharField(),
            "place_name": serializers.CharField(allow_null=True),
            "latitude": serializers.FloatField(allow_null=True),
            "longitude": serializers.FloatField(allow_null=True),
            "gps_latitude": serializers.FloatField(allow_null=True),
            "gps_longitude": serializers.FloatField(allow_null=True),
            "url": serializers.URLField(),
            "thumbnail_url": serializers.URLField(allow_null=True),
        },
    )


class ImageSearchView(ThrottleRefusals, APIView):
    """Reverse image search across the user's cases: near-duplicates of an uploaded image
    (checked as an upload is, never stored) or of one of the user's photos, nearest first."""

    http_method_names = ["post"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": ImageSearchRequestSerializer},
        responses=inline_serializer(
            "ImageSearchResults",
            {
                "count": serializers.IntegerField(),
                "results": ImageMatchSerializer(many=True),
            },
        ),
    )
    def post(self, request):
        params = ImageSearchRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        exclude = None
        if "evidence" in params.validated_data:
            evidence = evidence_for_user(
                user=request.user, evidence_id=params.validated_data["evidence"]
            )
            phash, exclude = evidence_phash(evidence), evidence.pk
        else:
            phash = query_phash(params.validated_data["file"])
        matches = image_matches(request=request, phash=phash, exclude=exclude, via="api")
        return Response({"count": len(matches), "results": matches})
