"""Serializers: input serializers check the shape of a request (the services check the rules);
output serializers render what the requesting user may see.

Output serializers render through the request's reader of the case (`context["reader"]`,
`evidence.reader`): it decides which identities and places the user may see, and notes the
protected identities shown so that they are recorded once. `context["reveal"]` is its answer
to whether the user is an editor or owner here (EXIF, originals).
"""

import math

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.schema import FreeFormField
from api.video_serializers import VideoSerializer, video_representation
from cases.models import Activity, ApiToken, Case, Claim, ClaimTransition, Membership, Role
from cases.policy import role_of
from evidence.imaging.credentials import credentials_text
from evidence.imaging.descriptive import DESCRIBED_FIELDS
from evidence.imaging.metadata import capture_time_text
from evidence.models import (
    Capture,
    Comment,
    Evidence,
    EvidenceLink,
    Photo,
    PhotoMatch,
    Source,
    TextReading,
)
from evidence.reader import NO_TEXT
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


# A primary key no row has, replaced by the real one in URLs resolved once (see EvidenceSerializer).
_PK_PLACEHOLDER = 987654321987654321


def _absolute(request, name: str, pk: int) -> str:
    url = reverse(name, kwargs={"pk": pk})
    return request.build_absolute_uri(url) if request is not None else url


def _datetimes(serializer: serializers.BaseSerializer):
    """DRF's writing of a date-time (`DateTimeField.to_representation`), with the time zone
    looked up once per response (kept on the serializer, which a list shares across its items):
    looking it up for every value was a fifth of a claim list's time."""
    field = serializer.__dict__.get("_datetime_field")
    if field is None:
        zone = serializers.DateTimeField().default_timezone()
        field = serializer._datetime_field = serializers.DateTimeField(default_timezone=zone)
    return field.to_representation


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
            "ocr_languages",
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
        fields = ["title", "summary", "ocr_languages"]


class CaseUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["title", "summary", "status", "ocr_languages"]
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
        return self.context["reader"].shows_identity(source)

    def get_display_name(self, source: Source) -> str:
        return self.context["reader"].source_name(source)

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


class EditingEventSerializer(serializers.Serializer):
    """One entry of the XMP editing history (xmpMM:History)."""

    action = serializers.CharField()
    when = serializers.CharField(help_text="ISO 8601 as written, or empty")
    software = serializers.CharField()
    changed = serializers.CharField()


class EmbeddedImageSerializer(serializers.Serializer):
    """An image an MPF index embeds after the primary one (never decoded)."""

    index = serializers.IntegerField()
    kind = serializers.CharField(help_text="The MPF type, e.g. Large Thumbnail (VGA Equivalent)")
    size = serializers.IntegerField(help_text="Bytes")
    offset = serializers.IntegerField(help_text="Where it starts in the original")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    missing = serializers.BooleanField(help_text="The index points past the end of the file")


class CredentialActionSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="c2pa.created, c2pa.edited, …")
    label = serializers.CharField()
    software = serializers.CharField()
    digital_source_type = serializers.CharField(
        help_text="The IPTC digital source type, e.g. trainedAlgorithmicMedia"
    )
    when = serializers.CharField(allow_null=True)


class CredentialIngredientSerializer(serializers.Serializer):
    title = serializers.CharField()
    format = serializers.CharField()
    relationship = serializers.CharField()


class ContentCredentialsSerializer(serializers.Serializer):
    """The Content Credentials (C2PA) the file carries, as read at processing time."""

    summary = serializers.CharField(help_text="One line for people")
    validation = serializers.ChoiceField(choices=["valid", "trusted", "invalid"])
    problems = serializers.ListField(child=serializers.CharField())
    claim_generator = serializers.CharField()
    title = serializers.CharField()
    signer = serializers.CharField()
    signer_organisation = serializers.CharField()
    certificate_issuer = serializers.CharField()
    signed_at = serializers.CharField(allow_null=True)
    actions = CredentialActionSerializer(many=True)
    ai_generated = serializers.BooleanField()
    ai_words = serializers.CharField()
    ingredients = CredentialIngredientSerializer(many=True)
    manifests = serializers.IntegerField()
    identity_withheld = serializers.BooleanField(
        help_text="Who signed them, and the file's name, withheld: the source is protected"
    )


class ProvenanceSerializer(serializers.Serializer):
    source = serializers.IntegerField(allow_null=True)
    source_name = serializers.CharField(
        allow_null=True, help_text="A protected source's pseudonym below editor."
    )
    received_by = serializers.CharField()
    received_at = serializers.DateTimeField()
    original_name = serializers.CharField(allow_blank=True)


class CaptureFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.URLField()


class CaptureSerializer(serializers.Serializer):
    """One capture of a web link's page (issue #16): what the browser saw, its files with their
    SHA-256, and the evidence items made of the images found on the page."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Capture.Status.choices)
    failure_reason = serializers.CharField(help_text="Empty unless failed: why, for a reporter.")
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    captured_at = serializers.DateTimeField(allow_null=True)
    final_url = serializers.CharField(help_text="After redirects")
    http_status = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    redirects = serializers.ListField(child=serializers.CharField())
    tls_subject = serializers.CharField(allow_null=True)
    tls_issuer = serializers.CharField(allow_null=True)
    screenshot_url = serializers.URLField(allow_null=True)
    phone_screenshot_url = serializers.URLField(allow_null=True)
    archive_url = serializers.URLField(allow_null=True, help_text="The WARC of every exchange")
    pdf_url = serializers.URLField(allow_null=True)
    files = CaptureFileSerializer(many=True)
    media = serializers.ListField(
        child=serializers.IntegerField(), help_text="Evidence made of the page's images"
    )

    def to_representation(self, capture: Capture) -> dict:
        return capture_json(capture, request=self.context.get("request"))


def capture_json(capture: Capture, *, request) -> dict:
    """A capture as the API gives it (also the `capture` of a link's evidence)."""

    def url(name: str) -> str:
        path = reverse(
            "api:evidence-capture-file",
            kwargs={"pk": capture.evidence_id, "capture_id": capture.pk, "name": name},
        )
        return request.build_absolute_uri(path) if request is not None else path

    when = serializers.DateTimeField().to_representation

    files = list(capture.files.all())
    by_role = {row.role: row for row in files}

    def file_url(role: str) -> str | None:
        row = by_role.get(role)
        return url(row.name) if row is not None else None

    tls = capture.tls or {}
    return {
        "id": capture.pk,
        "status": capture.status,
        "failure_reason": capture.failure_reason,
        "requested_by": capture.requested_by.username,
        "created_at": when(capture.created_at),
        "captured_at": when(capture.captured_at) if capture.captured_at else None,
        "final_url": capture.final_url,
        "http_status": capture.http_status,
        "title": capture.title,
        "redirects": capture.redirects,
        "tls_subject": tls.get("subject"),
        "tls_issuer": tls.get("issuer"),
        "screenshot_url": file_url("screenshot"),
        "phone_screenshot_url": file_url("screenshot_phone"),
        "archive_url": file_url("archive"),
        "pdf_url": file_url("pdf"),
        "files": [
            {
                "name": row.name,
                "role": row.role,
                "sha256": row.sha256,
                "size": row.size,
                "content_type": row.content_type,
                "url": url(row.name),
            }
            for row in files
        ],
        "media": sorted(m.pk for m in capture.media.all() if m.deleted_at is None),
    }


class OcrWordSerializer(serializers.Serializer):
    text = serializers.CharField()
    box = serializers.ListField(
        child=serializers.FloatField(),
        help_text="left, top, right, bottom: fractions of the picture's (or page's) size",
    )
    confidence = serializers.IntegerField(help_text="0–100")
    language = serializers.CharField()
    line = serializers.IntegerField()
    page = serializers.IntegerField(allow_null=True, help_text="The PDF page; null for a photo")


class EvidenceSerializer(serializers.ModelSerializer):
    """A piece of evidence. The photo fields are null for other kinds (and until processing
    has produced them); a video fills the ones it shares with photos (status, size, date,
    device, location, flags; `thumbnail_url` is its poster, `preview_url` its web-playable
    MP4) and `video` (null for other kinds). `exif` and a video's tags are null below editor;
    a protected source's photo or video also hides its GPS and the stated location below
    editor."""

    video = VideoSerializer(allow_null=True, read_only=True)

    source_name = serializers.CharField(allow_null=True, read_only=True)
    collected_by = serializers.CharField(source="collected_by.username", read_only=True)
    latitude = serializers.FloatField(allow_null=True, read_only=True)
    longitude = serializers.FloatField(allow_null=True, read_only=True)
    url = serializers.URLField(allow_null=True, read_only=True, help_text="Web links.")
    status = serializers.ChoiceField(choices=Photo.Status.choices, allow_null=True, read_only=True)
    failure_reason = serializers.CharField(allow_null=True, read_only=True)
    width = serializers.IntegerField(allow_null=True, read_only=True)
    height = serializers.IntegerField(allow_null=True, read_only=True)
    taken_at = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="ISO 8601 as the file recorded it: with the camera's UTC offset, or a local "
        "time without one (taken_at_offset null) when none was recorded.",
    )
    taken_at_offset = serializers.CharField(allow_null=True, read_only=True)
    taken_at_source = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="DateTimeOriginal, CreateDate, GPS time, XMP, IPTC or maker note (never the "
        "modify date)",
    )
    camera_make = serializers.CharField(allow_null=True, read_only=True)
    camera_model = serializers.CharField(allow_null=True, read_only=True)
    lens = serializers.CharField(allow_null=True, read_only=True)
    software = serializers.CharField(allow_null=True, read_only=True)
    gps_latitude = serializers.FloatField(allow_null=True, read_only=True)
    gps_longitude = serializers.FloatField(allow_null=True, read_only=True)
    gps_altitude = serializers.FloatField(allow_null=True, read_only=True)
    orientation = serializers.IntegerField(allow_null=True, read_only=True)
    caption = serializers.CharField(allow_null=True, read_only=True, help_text="IPTC/XMP/EXIF")
    creator = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        read_only=True,
        help_text="Byline: null for a protected source's photo below editor.",
    )
    credit = serializers.CharField(allow_null=True, read_only=True)
    copyright = serializers.CharField(allow_null=True, read_only=True)
    date_created = serializers.CharField(
        allow_null=True, read_only=True, help_text="IPTC/XMP date created, ISO 8601 as written"
    )
    city = serializers.CharField(allow_null=True, read_only=True)
    sublocation = serializers.CharField(allow_null=True, read_only=True)
    country = serializers.CharField(allow_null=True, read_only=True)
    keywords = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)
    editing_history = EditingEventSerializer(many=True, allow_null=True, read_only=True)
    embedded_images = EmbeddedImageSerializer(many=True, allow_null=True, read_only=True)
    content_credentials = ContentCredentialsSerializer(allow_null=True, read_only=True)
    phash = serializers.CharField(allow_null=True, read_only=True, help_text="16 hex digits")
    dhash = serializers.CharField(allow_null=True, read_only=True, help_text="16 hex digits")
    flags = FlagSerializer(many=True, read_only=True)
    exif = FreeFormField(
        allow_null=True,
        read_only=True,
        help_text="The full EXIF (editors and owners).",
        reason="The metadata as the file carries it: its groups and tags depend on the camera.",
    )
    ocr_status = serializers.ChoiceField(
        choices=TextReading.Status.choices,
        allow_null=True,
        read_only=True,
        help_text="Reading the text of a photo or PDF: null for other items (or when the server "
        "reads none); skipped or failed with the reason in ocr_note.",
    )
    ocr_note = serializers.CharField(allow_null=True, read_only=True)
    ocr_method = serializers.ChoiceField(
        choices=TextReading.Method.choices, allow_null=True, read_only=True
    )
    ocr_text = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="The text read (OCR, or a PDF's text layer). A document's: editors and owners.",
    )
    ocr_language = serializers.CharField(
        allow_null=True,
        read_only=True,
        help_text="The language most of the text was read in (Tesseract's name: kor, chi_sim…)",
    )
    ocr_confidence = serializers.FloatField(allow_null=True, read_only=True, help_text="0–100")
    ocr_words = OcrWordSerializer(many=True, allow_null=True, read_only=True)
    thumbnail_url = serializers.URLField(allow_null=True, read_only=True)
    preview_url = serializers.URLField(allow_null=True, read_only=True)
    original_url = serializers.URLField(
        allow_null=True, read_only=True, help_text="Editors and owners: the original file."
    )
    provenance = ProvenanceSerializer(
        many=True,
        read_only=True,
        help_text="Every arrival of the item, oldest first: the same bytes sent again (by "
        "another source) are another provenance.",
    )
    capture = CaptureSerializer(
        allow_null=True, read_only=True, help_text="Web links: the latest capture of the page."
    )

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
            "taken_at_source",
            "camera_make",
            "camera_model",
            "lens",
            "software",
            "gps_latitude",
            "gps_longitude",
            "gps_altitude",
            "orientation",
            *DESCRIBED_FIELDS,
            "embedded_images",
            "content_credentials",
            "phash",
            "dhash",
            "flags",
            "exif",
            *NO_TEXT,
            "thumbnail_url",
            "preview_url",
            "original_url",
            "provenance",
            "capture",
            "video",
        ]
        read_only_fields = fields

    def to_representation(self, evidence: Evidence) -> dict:
        # Spelled out, like LinkSerializer's: DRF's walk over these 43 fields (26 of them
        # computed) was two thirds of the evidence list's time (benchmarks/api_scale.py). The
        # declared fields describe the output for the schema.
        reader = self.context["reader"]
        reveal = reader.reveal
        source = evidence.source
        # A protected source's evidence hides its place (stated and exact) below editor.
        located = reader.shows_place(evidence)
        when = _datetimes(self)
        row = {
            "id": evidence.pk,
            "case": evidence.case_id,
            "kind": evidence.kind,
            "title": evidence.title,
            "description": evidence.description,
            "source": evidence.source_id,
            "source_name": reader.source_name(source),
            "collected_by": evidence.collected_by.username,
            "created_at": when(evidence.created_at),
            "updated_at": when(evidence.updated_at),
            "observed_at": when(evidence.observed_at),
            "place_name": evidence.place_name if located else "",
            "latitude": evidence.latitude if located else None,
            "longitude": evidence.longitude if located else None,
            "url": evidence.url or None,
            "text": evidence.text,
            "stated_on": evidence.stated_on.isoformat() if evidence.stated_on else None,
            "sensitive": evidence.sensitive,
            "original_name": evidence.original_name,
            "sha256": evidence.sha256,
            "size": evidence.size,
            "content_type": evidence.content_type,
        }
        photo = evidence.photo_or_none
        video = evidence.video_or_none
        row["video"] = None
        if video is not None:
            shared, row["video"] = video_representation(
                evidence=evidence, video=video, reader=reader, url=self._url_of, located=located
            )
            row.update(NO_PHOTO)
            row.update(shared)
        elif photo is None:
            row.update(NO_PHOTO, flags=[])
        else:
            row.update(
                {
                    "status": photo.status,
                    "failure_reason": photo.failure_reason,
                    "width": photo.width,
                    "height": photo.height,
                    "taken_at": capture_time_text(photo.taken_at, photo.taken_at_offset),
                    "taken_at_offset": photo.taken_at_offset or None,
                    "taken_at_source": photo.taken_at_source or None,
                    "camera_make": photo.camera_make,
                    "camera_model": photo.camera_model,
                    "lens": photo.lens,
                    "software": photo.software,
                    "gps_latitude": photo.gps_latitude if located else None,
                    "gps_longitude": photo.gps_longitude if located else None,
                    "gps_altitude": photo.gps_altitude if located else None,
                    "orientation": photo.orientation,
                    **reader.photo_described(evidence, photo),
                    "embedded_images": photo.embedded_images,
                    "content_credentials": credentials_json(reader.credentials(evidence, photo)),
                    "phash": hash_hex(photo.phash),
                    "dhash": hash_hex(photo.dhash),
                    "flags": [{"code": f.code, "message": f.message} for f in photo.flags.all()],
                    "exif": photo.exif if reveal else None,
                    "thumbnail_url": (
                        self._url("api:evidence-thumbnail", evidence.pk)
                        if photo.thumbnail
                        else None
                    ),
                    "preview_url": (
                        self._url("api:evidence-preview", evidence.pk) if photo.preview else None
                    ),
                }
            )
        row.update(reader.text_read(evidence))
        row["original_url"] = (
            self._url("api:evidence-original", evidence.pk)
            if evidence.has_file and reveal
            else None
        )
        row["provenance"] = [
            {
                "source": p.source_id,
                "source_name": reader.source_name(p.source),
                "received_by": p.received_by.username,
                "received_at": when(p.received_at),
                "original_name": p.original_name,
            }
            for p in evidence.provenances.all()
        ]
        row["capture"] = None
        if evidence.kind == Evidence.Kind.LINK:
            # Prefetched newest first by the lists (`evidence.selectors.with_captures`).
            latest = next(iter(evidence.captures.all()), None)
            if latest is not None:
                row["capture"] = capture_json(latest, request=self.context.get("request"))
        return row

    def _url_of(self, name: str, pk: int, extra) -> str:
        # A video's files and keyframes: /evidence/<pk>/video/<which>/, …/keyframes/<index>/.
        if isinstance(extra, str):
            path = reverse(f"{name.removesuffix('file')}{extra}", kwargs={"pk": pk})
        else:
            path = reverse(name, kwargs={"pk": pk, "index": extra})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def _url(self, name: str, pk: int) -> str:
        # Resolved once per response and per URL name, then filled in: `reverse` and
        # `build_absolute_uri` for every item were a third of a page's serializer time
        # (benchmarks/api_scale.py). A list shares this serializer across its items.
        templates = self.__dict__.setdefault("_url_templates", {})
        if name not in templates:
            templates[name] = _absolute(self.context.get("request"), name, _PK_PLACEHOLDER)
        return templates[name].replace(str(_PK_PLACEHOLDER), str(pk), 1)


def credentials_json(credentials: dict | None) -> dict | None:
    """The stored Content Credentials with their one-line summary."""
    if not credentials:
        return None
    return {"summary": credentials_text(credentials), **credentials}


# The photo fields of evidence that is not a photo (or whose photo row is missing).
NO_PHOTO = {
    "status": None,
    "failure_reason": None,
    "width": None,
    "height": None,
    "taken_at": None,
    "taken_at_offset": None,
    "taken_at_source": None,
    "camera_make": None,
    "camera_model": None,
    "lens": None,
    "software": None,
    "gps_latitude": None,
    "gps_longitude": None,
    "gps_altitude": None,
    "orientation": None,
    "caption": None,
    "creator": None,
    "credit": None,
    "copyright": None,
    "date_created": None,
    "city": None,
    "sublocation": None,
    "country": None,
    "keywords": None,
    "editing_history": None,
    "embedded_images": None,
    "content_credentials": None,
    "phash": None,
    "dhash": None,
    "flags": None,  # [] (a list of its own for each item)
    "exif": None,
    "thumbnail_url": None,
    "preview_url": None,
}


class EvidenceCreateSerializer(serializers.Serializer):
    """Multipart with `file` for photos, videos and documents; JSON (or form data) for links
    and testimony."""

    kind = serializers.ChoiceField(
        choices=Evidence.Kind.choices,
        required=False,
        help_text=(
            "Required without a file. With a file it may be left out: whether the file is a "
            "photo, a video or a document is told from its bytes. A stated kind that the bytes "
            "contradict is refused (415), never quietly changed."
        ),
    )
    # An empty file is the ingest service's to refuse, in the same words as the web upload's.
    file = serializers.FileField(
        required=False, allow_empty_file=True, help_text="Photos, videos and documents."
    )
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
    ONLY_FOR = {"file": ("photo", "video", "document"), "url": ("link",), "text": ("testimony",)}
    ONLY_FOR["stated_on"] = ("testimony",)

    def validate(self, data):
        kind = data.get("kind")
        if kind is None and not data.get("file"):
            raise serializers.ValidationError(
                {"kind": self.fields["kind"].error_messages["required"]}
            )
        errors = {}
        for field, kinds in self.ONLY_FOR.items():
            # Without a kind, the upload is a file whose kind its bytes will tell.
            allowed = kind in kinds if kind else field == "file"
            if field in data and data[field] not in (None, "") and not allowed:
                errors[field] = f"A {kind or 'file'} has no {field}."
        if kind in ("photo", "video", "document") and not data.get("file"):
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
    # What kind of copy it is (same frame, mirrored, borders/caption/screenshot, cropped), and
    # whether local features confirmed what the hashes alone were unsure of.
    kind = serializers.ChoiceField(choices=PhotoMatch.Kind.choices)
    verified = serializers.BooleanField()
    cross_source = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Photo.Status.choices)
    thumbnail_url = serializers.URLField(allow_null=True)


class EvidenceSummarySerializer(serializers.Serializer):
    # The evidence of a link (written by `LinkSerializer.from_row`).
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    label = serializers.CharField()
    source_name = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Photo.Status.choices, allow_null=True)


# --- Claims and links -----------------------------------------------------------------------

# What the link serializers read of a link and of its evidence: the columns of the rows that
# `.values(*LINK_COLUMNS)` gives (`link_row` makes the same row of a link instance).
LINK_COLUMNS = (
    "id",
    "claim",
    "stance",
    "note",
    "created_by__username",
    "created_at",
    "evidence",
    "evidence__kind",
    "evidence__title",
    "evidence__original_name",
    "evidence__url",
    "evidence__text",
    "evidence__source",
    "evidence__source__name",
    "evidence__source__pseudonym",
    "evidence__source__protected",
    "evidence__photo__status",
)


def link_row(link: EvidenceLink) -> dict:
    """A link as the row `.values(*LINK_COLUMNS)` gives (for one link already in hand)."""
    evidence, source = link.evidence, link.evidence.source
    photo = evidence.photo_or_none
    return {
        "id": link.pk,
        "claim": link.claim_id,
        "stance": link.stance,
        "note": link.note,
        "created_by__username": link.created_by.username,
        "created_at": link.created_at,
        "evidence": evidence.pk,
        "evidence__kind": evidence.kind,
        "evidence__title": evidence.title,
        "evidence__original_name": evidence.original_name,
        "evidence__url": evidence.url,
        "evidence__text": evidence.text,
        "evidence__source": source.pk if source else None,
        "evidence__source__name": source.name if source else None,
        "evidence__source__pseudonym": source.pseudonym if source else None,
        "evidence__source__protected": source.protected if source else None,
        "evidence__photo__status": photo.status if photo is not None else None,
    }


class LinkSerializer(serializers.ModelSerializer):
    evidence = EvidenceSummarySerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = EvidenceLink
        fields = ["id", "claim", "evidence", "stance", "note", "created_by", "created_at"]
        read_only_fields = fields

    def to_representation(self, link: EvidenceLink) -> dict:
        return self.from_row(link_row(link))

    def from_row(self, row: dict) -> dict:
        # Spelled out, from a row: this runs for every link of every claim of a list (~250
        # for a page of 50 claims), where model instances (link, evidence, source, photo, user)
        # and DRF's walk over the declared fields cost several times as much as the rows
        # (benchmarks/api_scale.py). The declared fields describe the output for the schema.
        kind = row["evidence__kind"]
        protected = row["evidence__source__protected"]
        return {
            "id": row["id"],
            "claim": row["claim"],
            "evidence": {
                "id": row["evidence"],
                "kind": kind,
                "label": Evidence.label_of(
                    pk=row["evidence"],
                    kind=kind,
                    title=row["evidence__title"],
                    original_name=row["evidence__original_name"],
                    url=row["evidence__url"],
                    text=row["evidence__text"],
                ),
                "source_name": (
                    None
                    if protected is None  # no source
                    else self.context["reader"].name_of(
                        source_id=row["evidence__source"],
                        name=row["evidence__source__name"],
                        pseudonym=row["evidence__source__pseudonym"],
                        protected=protected,
                    )
                ),
                # A photo's processing status (`photo_or_none`: photos only).
                "status": row["evidence__photo__status"] if kind == Evidence.Kind.PHOTO else None,
            },
            "stance": row["stance"],
            "note": row["note"],
            "created_by": row["created_by__username"],
            "created_at": _datetimes(self)(row["created_at"]),
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


class CorroborationItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    label = serializers.CharField()
    flags = serializers.ListField(
        child=serializers.CharField(), help_text="The item's warnings, in words."
    )


class CorroborationSourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="A protected source's pseudonym below editor.")
    protected = serializers.BooleanField()


class CorroborationLineSerializer(serializers.Serializer):
    items = CorroborationItemSerializer(many=True)
    sources = CorroborationSourceSerializer(many=True)
    why = serializers.ListField(
        child=serializers.ChoiceField(choices=["same_file", "near_duplicate", "same_address"]),
        help_text="Why its items count once: the same file from several sources, "
        "near-duplicate photos, links to the same address.",
    )


class CorroborationSideSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    photos = serializers.IntegerField()
    independent_lines = serializers.IntegerField()
    independent_sources = serializers.IntegerField(
        help_text="Sources behind a shared line count once together."
    )
    unsourced_lines = serializers.IntegerField()
    lines = CorroborationLineSerializer(many=True)


class CorroborationSerializer(serializers.Serializer):
    """Independent lines of evidence and sources on each side of a claim
    (`evidence.corroboration`)."""

    supports = CorroborationSideSerializer()
    contradicts = CorroborationSideSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class ClaimSerializer(serializers.ModelSerializer):
    # The view puts the links' rows in the context (`context["links"]`: claim id -> rows of
    # `.values(*LINK_COLUMNS)`, in the order `evidence.selectors.links_of` gives), read for a
    # whole page in one query. (Comments: a serializer's docstring is its schema description.)
    author = serializers.CharField(source="author.username", read_only=True)
    reviewer = serializers.CharField(
        source="reviewer.username", read_only=True, default=None, allow_null=True
    )
    confidence = serializers.ChoiceField(
        choices=Claim.Confidence.choices, allow_blank=True, read_only=True
    )
    links = LinksByStanceSerializer(read_only=True)
    corroboration = CorroborationSerializer(read_only=True)

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
            "corroboration",
        ]
        read_only_fields = fields

    def to_representation(self, claim: Claim) -> dict:
        # Spelled out, like the links (see LinkSerializer.from_row).
        when = _datetimes(self)
        links = {stance: [] for stance in EvidenceLink.Stance.values}
        link_serializer = self._link_serializer()
        for row in self.context["links"][claim.pk]:
            links[row["stance"]].append(link_serializer.from_row(row))
        return {
            "id": claim.pk,
            "case": claim.case_id,
            "statement": claim.statement,
            "details": claim.details,
            "status": claim.status,
            "confidence": claim.confidence,
            "occurred_on": claim.occurred_on.isoformat() if claim.occurred_on else None,
            "author": claim.author.username,
            "reviewer": claim.reviewer.username if claim.reviewer_id else None,
            "reviewed_at": when(claim.reviewed_at),
            "review_note": claim.review_note,
            "created_at": when(claim.created_at),
            "updated_at": when(claim.updated_at),
            "links": links,
            "corroboration": self.context["corroboration"][claim.pk],
        }

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
    data = FreeFormField(
        read_only=True,
        reason="What the verb recorded: its keys depend on the verb (see the custody record).",
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


# --- Authentication -------------------------------------------------------------------------


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["mention", "assigned"])
    case = serializers.IntegerField()
    case_title = serializers.CharField()
    text = serializers.CharField(help_text="In words, as you may read it.")
    path = serializers.CharField(help_text="The page it is about.")
    actor = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NotificationsReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=1000,
    )


class NotificationsReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(allow_null=True, allow_blank=True, max_length=150)


class AssignmentSerializer(serializers.Serializer):
    assignee = serializers.CharField(allow_null=True)


class ReviewInboxItemSerializer(serializers.Serializer):
    claim = serializers.IntegerField()
    case = serializers.IntegerField()
    case_title = serializers.CharField()
    statement = serializers.CharField()
    author = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    assignee = serializers.CharField(allow_null=True)
    flagged_items = serializers.IntegerField(help_text="Linked items that carry flags.")
    corroboration = CorroborationSerializer()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="What the token is for."
    )
    cases = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        max_length=1000,
        help_text="The ids of the cases the token may reach (each one you are a member of); "
        "leave it out, or null, for all of your cases.",
    )
    scope = serializers.ChoiceField(
        choices=ApiToken.Scope.choices,
        required=False,
        default=ApiToken.Scope.WRITE,
        help_text="`read`: the token may only read; `write`: it may also change what your "
        "role allows.",
    )
    expires_in = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=10**9,
        help_text="Seconds until the token expires; at most CASEFILE_TOKEN_TTL_DAYS days "
        "(also the default).",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    prefix = serializers.CharField()
    expires = serializers.DateTimeField()
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices)
    cases = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="Null: all of your cases."
    )


class ApiTokenSerializer(serializers.ModelSerializer):
    """One of your tokens, as its prefix: the key itself is never shown again."""

    current = serializers.SerializerMethodField(help_text="The token this request came with.")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "prefix",
            "name",
            "scope",
            "cases",
            "created",
            "expires",
            "last_used",
            "current",
        ]
        read_only_fields = fields

    cases = serializers.SerializerMethodField(help_text="The case ids; null: all of yours.")

    def get_cases(self, token: ApiToken) -> list[int] | None:
        if token.all_cases:
            return None
        return sorted(case.pk for case in token.cases.all())

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class LogoutSerializer(serializers.Serializer):
    all = serializers.BooleanField(
        required=False, default=False, help_text="Revoke every token of yours, not only this one."
    )
