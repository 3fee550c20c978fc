"""List filters (django-filter). An invalid value answers 400, never an empty list by accident."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django_filters import fields as base_fields
from django_filters import filters as base_filters
from django_filters import rest_framework as filters

from cases.models import Activity, Case, Claim
from cases.policy import cases_where
from evidence.models import Evidence, EvidenceLink, Photo, PhotoFlag, Source, TextReading
from evidence.reader import text_matches

MAX_ID = 2**63 - 1


class IdFilter(filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """`true` or `false` (also `1`, `0`, in any case). django-filter's own boolean filter reads
    anything else as "no filter", so `?sensitive=perhaps` would list everything."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


# PostgreSQL keeps a time zone offset within ±15:59 (Python takes up to ±23:59), and refuses
# a query with a wider one with an error: such an offset is no place's anyway.
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


class IsoDateTimeField(base_fields.IsoDateTimeField):
    default_error_messages = {
        "offset": "The time zone offset must be between -15:59 and +15:59, "
        "e.g. 2024-05-25T16:40:00+08:00.",
    }

    def to_python(self, value):
        value = super().to_python(value)
        offset = value.utcoffset() if value is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(self.error_messages["offset"], code="offset")
        return value


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time; an offset no database keeps is a 400 naming the filter."""

    field_class = IsoDateTimeField


class BooleanFilter(base_filters.BooleanFilter):
    """A boolean filter that answers 400 to a value that is neither true nor false (still a
    `BooleanFilter`, so the schema calls it a boolean)."""

    field_class = StrictBooleanField


class CaseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Case.Status.choices)

    class Meta:
        model = Case
        fields = ["status"]


class SourceFilter(filters.FilterSet):
    # No filter on the name: it would let anyone probe a protected source's identity.
    kind = filters.ChoiceFilter(choices=Source.Kind.choices)
    reliability = filters.ChoiceFilter(choices=Source.Reliability.choices)
    protected = BooleanFilter()

    class Meta:
        model = Source
        fields = ["kind", "reliability", "protected"]


class EvidenceFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Evidence.Kind.choices)
    source = IdFilter(field_name="source_id")
    status = filters.ChoiceFilter(
        field_name="photo__status", choices=Photo.Status.choices, label="Photo status"
    )
    flag = filters.ChoiceFilter(
        field_name="photo__flags__code",
        choices=PhotoFlag.Code.choices,
        distinct=True,
        label="Photos with this flag",
    )
    flagged = BooleanFilter(method="filter_flagged", label="Photos with any flag")
    sensitive = BooleanFilter()
    ocr_text = filters.CharFilter(
        method="filter_ocr_text",
        max_length=200,
        label="The text read in the photo (OCR) or document (text layer or OCR; editors and "
        "owners) contains this",
    )
    ocr_status = filters.ChoiceFilter(
        field_name="text_reading__status",
        choices=TextReading.Status.choices,
        label="Status of reading the text",
    )
    observed_after = IsoDateTimeFilter(field_name="observed_at", lookup_expr="gte")
    observed_before = IsoDateTimeFilter(field_name="observed_at", lookup_expr="lte")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Evidence
        fields = ["kind", "source", "status", "flag", "sensitive"]

    def filter_ocr_text(self, queryset, name, value):
        # A document's text only where the user may open its original (evidence.reader).
        revealing = cases_where(self.request.user, "identity.see") if self.request else None
        return queryset.filter(text_matches(value, revealing=revealing))

    def filter_flagged(self, queryset, name, value):
        flagged = PhotoFlag.objects.values("photo_id")
        if value:
            return queryset.filter(pk__in=flagged)
        return queryset.exclude(pk__in=flagged)


class ClaimFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Claim.Status.choices)
    confidence = filters.ChoiceFilter(choices=Claim.Confidence.choices)
    author = filters.CharFilter(field_name="author__username", max_length=150)
    occurred_after = filters.DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_before = filters.DateFilter(field_name="occurred_on", lookup_expr="lte")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Claim
        fields = ["status", "confidence", "author"]


class LinkFilter(filters.FilterSet):
    stance = filters.ChoiceFilter(choices=EvidenceLink.Stance.choices)
    evidence = IdFilter(field_name="evidence_id")

    class Meta:
        model = EvidenceLink
        fields = ["stance", "evidence"]


class ActivityFilter(filters.FilterSet):
    verb = filters.CharFilter(max_length=64)
    actor = filters.CharFilter(field_name="actor__username", max_length=150)
    target_type = filters.CharFilter(max_length=32)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Activity
        fields = ["verb", "actor", "target_type"]
