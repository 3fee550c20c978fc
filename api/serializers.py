"""Serializers: input serializers check the shape of a request (the services check the rules);
output serializers render what the requesting user may see.

Output serializers read `reveal` from their context: whether the user may see protected
identities, exact locations and EXIF in this case (`cases.selectors.can_see_protected`,
computed once per request by the view).
"""

import math

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import Activity, ApiToken, Case, Claim, ClaimTransition, Membership, Role
from cases.selectors import role_of
from evidence.custody import _without_location as without_location
from evidence.models import Comment, Evidence, EvidenceLink, Photo, Source
from evidence.selectors import evidence_of, sources_of

MAX_ID = 2**63 - 1


# --- Fields ---------------------------------------------------------------------------------


class FiniteFloatField(serializers.FloatField):
    """A float that is a real number: no NaN, no infinity, no integer too large for a float."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            value = float(data)
        except (TypeError, ValueError, OverflowError):
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class InCaseField(serializers.PrimaryKeyRelatedField):
    """The id of an object of the case the request is about (`context["case"]`), looked up in
    what the selector `rows(case=…)` gives; an id from another case (or of deleted evidence)
    is refused like one that does not exist."""

    def __init__(self, model, rows, **kwargs):
        self.model, self.rows = model, rows
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        case = self.context.get("case")
        if case is None:
            return self.model.objects.none()
        return self.rows(case=case)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            number = int(data)
        except (TypeError, ValueError, OverflowError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, float) or not 1 <= number <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(number)


def hash_hex(value: int | None) -> str | None:
    """A 64-bit perceptual hash (stored signed) as 16 hex digits."""
    if value is None:
        return None
    return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"


def _photo(evidence: Evidence) -> Photo | None:
    if evidence.kind != Evidence.Kind.PHOTO:
        return None
    try:
        return evidence.photo
    except Photo.DoesNotExist:
        return None


# A primary key no row has, replaced by the real one in URLs resolved once (see EvidenceSerializer).
_PK_PLACEHOLDER = 987654321987654321


def _absolute(request, name: str, pk: int) -> str:
    url = reverse(name, kwargs={"pk": pk})
    return request.build_absolute_uri(url) if request is not None else url


# --- Cases and members ----------------------------------------------------------------------


class CaseSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    role = serializers.SerializerMethodField(help_text="Your role in this case.")

    class Meta:
        model = Case
        fields = [
            "id",
            "title",
            "summary",
            "status",
            "role",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices))
    def get_role(self, case: Case) -> str | None:
        role = getattr(case, "my_role", None)
        request = self.context.get("request")
        if role is None and request is not None:
            role = role_of(user=request.user, case=case)
        return str(role) if role is not None else None


class CaseCreateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["title", "summary"]


class CaseUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["title", "summary", "status"]
        extra_kwargs = {"title": {"required": False}}


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    added_by = serializers.CharField(
        source="added_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "added_by", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- Sources --------------------------------------------------------------------------------


class SourceSerializer(serializers.ModelSerializer):
    """A source. For a protected source and a user below editor, `name` and `notes` are null:
    `display_name` is the pseudonym."""

    display_name = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    notes = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "case",
            "kind",
            "display_name",
            "name",
            "protected",
            "pseudonym",
            "reliability",
            "notes",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _reveal(self, source: Source) -> bool:
        return self.context.get("reveal", False) or not source.protected

    def get_display_name(self, source: Source) -> str:
        return source.display_name(reveal=self.context.get("reveal", False))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_name(self, source: Source) -> str | None:
        return source.name if self._reveal(source) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_notes(self, source: Source) -> str | None:
        return source.notes if self._reveal(source) else None


class SourceWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["kind", "name", "protected", "pseudonym", "reliability", "notes"]


# --- Evidence -------------------------------------------------------------------------------


class FlagSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class EvidenceSerializer(serializers.ModelSerializer):
    """A piece of evidence. The photo fields are null for other kinds (and until processing
    has produced them). `exif` is null below editor; a protected source's photo also hides its
    GPS and the stated location below editor."""

    source_name = serializers.SerializerMethodField()
    collected_by = serializers.CharField(source="collected_by.username", read_only=True)
    latitude = serializers.SerializerMethodField()
    longitude = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    failure_reason = serializers.SerializerMethodField()
    width = serializers.SerializerMethodField()
    height = serializers.SerializerMethodField()
    taken_at = serializers.SerializerMethodField()
    taken_at_offset = serializers.SerializerMethodField()
    camera_make = serializers.SerializerMethodField()
    camera_model = serializers.SerializerMethodField()
    lens = serializers.SerializerMethodField()
    software = serializers.SerializerMethodField()
    gps_latitude = serializers.SerializerMethodField()
    gps_longitude = serializers.SerializerMethodField()
    gps_altitude = serializers.SerializerMethodField()
    orientation = serializers.SerializerMethodField()
    phash = serializers.SerializerMethodField()
    dhash = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    exif = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "case",
            "kind",
            "title",
            "description",
            "source",
            "source_name",
            "collected_by",
            "created_at",
            "updated_at",
            "observed_at",
            "place_name",
            "latitude",
            "longitude",
            "url",
            "text",
            "stated_on",
            "sensitive",
            "original_name",
            "sha256",
            "size",
            "content_type",
            "status",
            "failure_reason",
            "width",
            "height",
            "taken_at",
            "taken_at_offset",
            "camera_make",
            "camera_model",
            "lens",
            "software",
            "gps_latitude",
            "gps_longitude",
            "gps_altitude",
            "orientation",
            "phash",
            "dhash",
            "flags",
            "exif",
            "thumbnail_url",
            "preview_url",
            "original_url",
        ]
        read_only_fields = fields

    # Who may see what.

    def _reveal(self) -> bool:
        return self.context.get("reveal", False)

    def _location_visible(self, evidence: Evidence) -> bool:
        return self._reveal() or evidence.source is None or not evidence.source.protected

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source_name(self, evidence: Evidence) -> str | None:
        if evidence.source is None:
            return None
        return evidence.source.display_name(reveal=self._reveal())

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_latitude(self, evidence: Evidence) -> float | None:
        return evidence.latitude if self._location_visible(evidence) else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_longitude(self, evidence: Evidence) -> float | None:
        return evidence.longitude if self._location_visible(evidence) else None

    @extend_schema_field(serializers.URLField(allow_null=True, help_text="Web links."))
    def get_url(self, evidence: Evidence) -> str | None:
        return evidence.url or None

    # The photo's fields.

    def _photo_value(self, evidence: Evidence, field: str):
        photo = _photo(evidence)
        return getattr(photo, field) if photo is not None else None

    @extend_schema_field(serializers.ChoiceField(choices=Photo.Status.choices, allow_null=True))
    def get_status(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "status")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_failure_reason(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "failure_reason")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_width(self, evidence: Evidence) -> int | None:
        return self._photo_value(evidence, "width")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_height(self, evidence: Evidence) -> int | None:
        return self._photo_value(evidence, "height")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_taken_at(self, evidence: Evidence):
        value = self._photo_value(evidence, "taken_at")
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_taken_at_offset(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "taken_at_offset")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_camera_make(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "camera_make")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_camera_model(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "camera_model")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_lens(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "lens")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_software(self, evidence: Evidence) -> str | None:
        return self._photo_value(evidence, "software")

    def _gps(self, evidence: Evidence, field: str) -> float | None:
        return self._photo_value(evidence, field) if self._location_visible(evidence) else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_gps_latitude(self, evidence: Evidence) -> float | None:
        return self._gps(evidence, "gps_latitude")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_gps_longitude(self, evidence: Evidence) -> float | None:
        return self._gps(evidence, "gps_longitude")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_gps_altitude(self, evidence: Evidence) -> float | None:
        return self._gps(evidence, "gps_altitude")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_orientation(self, evidence: Evidence) -> int | None:
        return self._photo_value(evidence, "orientation")

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="16 hex digits"))
    def get_phash(self, evidence: Evidence) -> str | None:
        return hash_hex(self._photo_value(evidence, "phash"))

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="16 hex digits"))
    def get_dhash(self, evidence: Evidence) -> str | None:
        return hash_hex(self._photo_value(evidence, "dhash"))

    @extend_schema_field(FlagSerializer(many=True))
    def get_flags(self, evidence: Evidence) -> list[dict]:
        photo = _photo(evidence)
        if photo is None:
            return []
        return [{"code": f.code, "message": f.message} for f in photo.flags.all()]

    @extend_schema_field(
        serializers.DictField(allow_null=True, help_text="The full EXIF (editors and owners).")
    )
    def get_exif(self, evidence: Evidence) -> dict | None:
        photo = _photo(evidence)
        if photo is None or not self._reveal():
            return None
        return photo.exif

    def _file_url(self, evidence: Evidence, field: str, name: str) -> str | None:
        photo = _photo(evidence)
        if photo is None or not getattr(photo, field):
            return None
        return self._url(name, evidence.pk)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, evidence: Evidence) -> str | None:
        return self._file_url(evidence, "thumbnail", "api:evidence-thumbnail")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_preview_url(self, evidence: Evidence) -> str | None:
        return self._file_url(evidence, "preview", "api:evidence-preview")

    @extend_schema_field(
        serializers.URLField(allow_null=True, help_text="Editors and owners: the original file.")
    )
    def get_original_url(self, evidence: Evidence) -> str | None:
        if not evidence.has_file or not self._reveal():
            return None
        return self._url("api:evidence-original", evidence.pk)

    def _url(self, name: str, pk: int) -> str:
        # Resolved once per response and per URL name, then filled in: `reverse` and
        # `build_absolute_uri` for every item were a third of a page's serializer time
        # (benchmarks/api_scale.py). A list shares this serializer across its items.
        templates = self.__dict__.setdefault("_url_templates", {})
        if name not in templates:
            templates[name] = _absolute(self.context.get("request"), name, _PK_PLACEHOLDER)
        return templates[name].replace(str(_PK_PLACEHOLDER), str(pk), 1)


class EvidenceCreateSerializer(serializers.Serializer):
    """Multipart with `file` for photos and documents; JSON (or form data) for links and
    testimony."""

    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    file = serializers.FileField(required=False, help_text="Photos and documents.")
    url = serializers.URLField(max_length=2000, required=False, help_text="Web links.")
    text = serializers.CharField(required=False, help_text="Testimony: what the source said.")
    stated_on = serializers.DateField(
        required=False, allow_null=True, help_text="Testimony: when the source said it."
    )
    source = InCaseField(Source, sources_of, required=False, allow_null=True)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    observed_at = serializers.DateTimeField(required=False, allow_null=True)
    place_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    latitude = FiniteFloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = FiniteFloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    sensitive = serializers.BooleanField(required=False)

    # Which fields belong to which kind; anything else is refused rather than dropped.
    ONLY_FOR = {"file": ("photo", "document"), "url": ("link",), "text": ("testimony",)}
    ONLY_FOR["stated_on"] = ("testimony",)

    def validate(self, data):
        kind = data["kind"]
        errors = {}
        for field, kinds in self.ONLY_FOR.items():
            if field in data and data[field] not in (None, "") and kind not in kinds:
                errors[field] = f"A {kind} has no {field}."
        if kind in ("photo", "document") and not data.get("file"):
            errors["file"] = f"Upload the {kind} as multipart form data, in the field `file`."
        if errors:
            raise serializers.ValidationError(errors)
        return data


class EvidenceUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    source = InCaseField(Source, sources_of, required=False, allow_null=True)
    observed_at = serializers.DateTimeField(required=False, allow_null=True)
    place_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    latitude = FiniteFloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = FiniteFloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    url = serializers.URLField(max_length=2000, required=False)
    text = serializers.CharField(required=False)
    stated_on = serializers.DateField(required=False, allow_null=True)
    sensitive = serializers.BooleanField(required=False)


class SimilarPhotoSerializer(serializers.Serializer):
    evidence = serializers.IntegerField()
    title = serializers.CharField()
    source_name = serializers.CharField(allow_null=True)
    distance = serializers.IntegerField()
    cross_source = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Photo.Status.choices)
    thumbnail_url = serializers.URLField(allow_null=True)


class EvidenceSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    label = serializers.CharField()
    source_name = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Photo.Status.choices, allow_null=True)

    def to_representation(self, evidence: Evidence) -> dict:
        photo = _photo(evidence)
        source = evidence.source
        return {
            "id": evidence.pk,
            "kind": evidence.kind,
            "label": evidence.label,
            "source_name": (
                source.display_name(reveal=self.context.get("reveal", False)) if source else None
            ),
            "status": photo.status if photo is not None else None,
        }


# --- Claims and links -----------------------------------------------------------------------


class LinkSerializer(serializers.ModelSerializer):
    evidence = EvidenceSummarySerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = EvidenceLink
        fields = ["id", "claim", "evidence", "stance", "note", "created_by", "created_at"]
        read_only_fields = fields

    def to_representation(self, link: EvidenceLink) -> dict:
        # Spelled out: this runs for every link of every claim of a list (~250 for a page of
        # 50 claims), where DRF's walk over the declared fields cost several times as much. The
        # declared fields still describe the output (schema) and format the nested parts.
        fields = self.fields
        return {
            "id": link.pk,
            "claim": link.claim_id,
            "evidence": fields["evidence"].to_representation(link.evidence),
            "stance": link.stance,
            "note": link.note,
            "created_by": link.created_by.username,
            "created_at": fields["created_at"].to_representation(link.created_at),
        }


class LinkCreateSerializer(serializers.Serializer):
    evidence = InCaseField(Evidence, evidence_of)
    stance = serializers.ChoiceField(choices=EvidenceLink.Stance.choices)
    note = serializers.CharField(required=False, allow_blank=True)


class LinkUpdateSerializer(serializers.Serializer):
    stance = serializers.ChoiceField(choices=EvidenceLink.Stance.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True)


class LinksByStanceSerializer(serializers.Serializer):
    supports = LinkSerializer(many=True)
    contradicts = LinkSerializer(many=True)
    context = LinkSerializer(many=True)


class ClaimSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    reviewer = serializers.CharField(
        source="reviewer.username", read_only=True, default=None, allow_null=True
    )
    confidence = serializers.ChoiceField(
        choices=Claim.Confidence.choices, allow_blank=True, read_only=True
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Claim
        fields = [
            "id",
            "case",
            "statement",
            "details",
            "status",
            "confidence",
            "occurred_on",
            "author",
            "reviewer",
            "reviewed_at",
            "review_note",
            "created_at",
            "updated_at",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(LinksByStanceSerializer)
    def get_links(self, claim: Claim) -> dict:
        # `claim.links` is prefetched by the view, in the order `evidence.selectors.links_of`
        # gives.
        grouped = {stance: [] for stance in EvidenceLink.Stance.values}
        link_serializer = self._link_serializer()
        for link in claim.links.all():
            grouped[link.stance].append(link_serializer.to_representation(link))
        return grouped

    def _link_serializer(self) -> LinkSerializer:
        # One LinkSerializer for the whole response (a list shares this serializer across its
        # claims): building a ModelSerializer's fields costs ~1 ms, and three per claim made a
        # page of 50 claims 20x slower than its rows (benchmarks/api_scale.py).
        if getattr(self, "_links_serializer", None) is None:
            self._links_serializer = LinkSerializer(context=self.context)
        return self._links_serializer


class ClaimCreateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Claim
        fields = ["statement", "details", "confidence", "occurred_on"]


class ClaimUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Claim
        fields = ["statement", "details", "confidence", "occurred_on"]
        extra_kwargs = {"statement": {"required": False}}


class ClaimSubmitSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True)


class ClaimReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[(d, d) for d in Claim.DECISIONS])
    note = serializers.CharField(help_text="Why: required.")
    confidence = serializers.ChoiceField(
        choices=Claim.Confidence.choices, required=False, allow_blank=True
    )


class TransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True)

    class Meta:
        model = ClaimTransition
        fields = ["id", "from_status", "to_status", "actor", "note", "created_at"]
        read_only_fields = fields


# --- Comments and activity ------------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "claim", "evidence", "author", "text", "created_at", "edited_at"]
        read_only_fields = fields


class CommentWriteSerializer(serializers.Serializer):
    text = serializers.CharField()


class ActivitySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "verb",
            "actor",
            "target_type",
            "target_id",
            "target_label",
            "data",
            "created_at",
            "hash",
        ]
        read_only_fields = fields

    def to_representation(self, activity: Activity) -> dict:
        row = super().to_representation(activity)
        if activity.target_type == "evidence" and activity.target_id in self.context.get(
            "hidden_places", ()
        ):
            row["data"] = without_location(row["data"])
        return row


# --- Authentication -------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="What the token is for."
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    prefix = serializers.CharField()
    expires = serializers.DateTimeField()


class ApiTokenSerializer(serializers.ModelSerializer):
    """One of your tokens, as its prefix: the key itself is never shown again."""

    current = serializers.SerializerMethodField(help_text="The token this request came with.")

    class Meta:
        model = ApiToken
        fields = ["id", "prefix", "name", "created", "expires", "last_used", "current"]
        read_only_fields = fields

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class LogoutSerializer(serializers.Serializer):
    all = serializers.BooleanField(
        required=False, default=False, help_text="Revoke every token of yours, not only this one."
    )
