"""Forms check the shape of what a page posts; the services decide whether it may happen."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases.models import Case, Claim, Role, SearchEntry
from evidence.models import Evidence, EvidenceLink, PhotoFlag, Source
from evidence.reader import Reader
from evidence.search import SEARCH_STATUS_CHOICES


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def zone_label() -> str:
    """The time zone that date-times typed into a form are read in (web.middleware)."""
    name = timezone.get_current_timezone_name()
    return "UTC" if name == "UTC" else f"your time zone ({name})"


class Form(forms.Form):
    """Labels without Django's trailing colon: the layout sets labels apart already. A
    date-time field's help text names the time zone its value is read in (`{zone}`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DateTimeField):
                field.help_text = field.help_text.format(zone=zone_label())


class SourceChoiceField(forms.ModelChoiceField):
    """Sources of one case, named as the user may see them (pseudonyms below editor)."""

    def __init__(self, *, reader: Reader, **kwargs):
        self.reader = reader
        kwargs.setdefault("empty_label", "— No source —")
        super().__init__(queryset=reader.case.sources.order_by("id"), **kwargs)

    def label_from_instance(self, obj: Source) -> str:
        return self.reader.source_name(obj)


class CaseForm(Form):
    title = forms.CharField(max_length=200)
    summary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the case is about and what it tries to establish.",
    )
    ocr_languages = forms.CharField(
        required=False,
        max_length=100,
        label="Languages of text in pictures",
        validators=Case._meta.get_field("ocr_languages").validators,
        help_text="Tesseract's names joined by +, e.g. kor+chi_sim+eng (eng, kor, chi_sim, "
        f"rus, ukr, ara…). Blank: {settings.CASEFILE_OCR_LANGUAGES}.",
    )


class CaseEditForm(CaseForm):
    status = forms.ChoiceField(choices=Case.Status.choices)


class MemberAddForm(Form):
    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REPORTER)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(f"There is no account named {username!r}.")
        return user


class MemberRoleForm(Form):
    role = forms.ChoiceField(choices=Role.choices)


class _LocatedForm(Form):
    place_name = forms.CharField(max_length=200, required=False, label="Place")
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90)
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180)

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ValidationError("Give both latitude and longitude, or neither.")
        return data


class LinkEvidenceForm(_LocatedForm):
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https")
    title = forms.CharField(max_length=300, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    observed_at = forms.DateTimeField(
        required=False,
        label="Published or seen at",
        widget=DateTimeInput(),
        help_text="In {zone}.",
    )

    field_order = ["url", "title", "source", "description", "observed_at"]

    def __init__(self, *args, reader: Reader, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(reader=reader, required=False)
        self.order_fields(self.field_order)


class TestimonyForm(_LocatedForm):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), label="What the source said")
    title = forms.CharField(max_length=300, required=False)
    stated_on = forms.DateField(required=False, label="Said on", widget=DateInput())
    observed_at = forms.DateTimeField(
        required=False,
        label="Events happened at",
        widget=DateTimeInput(),
        help_text="In {zone}; leave empty if the source did not say.",
    )

    field_order = ["source", "text", "title", "stated_on", "observed_at"]

    def __init__(self, *args, reader: Reader, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(reader=reader)
        self.order_fields(self.field_order)


class EvidenceEditForm(_LocatedForm):
    title = forms.CharField(max_length=300, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    observed_at = forms.DateTimeField(
        required=False, label="Observed at", widget=DateTimeInput(), help_text="In {zone}."
    )
    sensitive = forms.BooleanField(
        required=False, help_text="Graphic content: blurred in the gallery until clicked."
    )

    field_order = ["title", "source", "description", "observed_at"]

    def __init__(self, *args, reader: Reader, place_hidden: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(reader=reader, required=False)
        if place_hidden:
            # The place of a protected source's evidence is the editors' and owners': the form
            # neither shows it nor offers to change it (an empty field would erase it).
            for name in ("place_name", "latitude", "longitude"):
                del self.fields[name]
        self.order_fields(self.field_order)


class UploadForm(_LocatedForm):
    """One file of a batch, with what the batch states of every file: its source, title,
    stated date and place (each photo's own date and GPS can be taken from its file later,
    "use camera date and GPS")."""

    # An empty file is the ingest service's to refuse, in the same words as the API's.
    file = forms.FileField(allow_empty_file=True)
    title = forms.CharField(max_length=300, required=False)
    observed_at = forms.DateTimeField(
        required=False, label="Stated date", widget=DateTimeInput(), help_text="In {zone}."
    )
    sensitive = forms.BooleanField(required=False, label="Sensitive (blurred)")

    # What the batch states, in the order the page lays it out (the file comes from the drop).
    BATCH_FIELDS = (
        "source",
        "title",
        "observed_at",
        "place_name",
        "latitude",
        "longitude",
        "sensitive",
    )

    def __init__(self, *args, reader: Reader, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(reader=reader, required=False)
        for name in self.BATCH_FIELDS:
            self.fields[name].widget.attrs["data-batch"] = ""

    def details(self) -> dict:
        """What `evidence_ingest` takes besides the file."""
        return {name: self.cleaned_data[name] for name in self.BATCH_FIELDS} | {
            "title": self.cleaned_data["title"] or "",
            "place_name": self.cleaned_data["place_name"] or "",
        }


class BulkEditForm(_LocatedForm):
    """What a bulk edit sets on every selected item: only the fields filled in (a blank field
    leaves each item's own value alone)."""

    evidence = forms.CharField(widget=forms.MultipleHiddenInput, required=False)
    title_prefix = forms.CharField(max_length=100, required=False, label="Put before each title")
    observed_at = forms.DateTimeField(
        required=False, label="Stated date", widget=DateTimeInput(), help_text="In {zone}."
    )
    sensitive = forms.ChoiceField(
        required=False,
        label="Sensitive",
        choices=[("", "Leave as it is"), ("yes", "Mark sensitive"), ("no", "Not sensitive")],
    )

    def __init__(self, *args, reader: Reader, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(
            reader=reader, required=False, empty_label="Leave as it is"
        )
        self.order_fields(
            ["source", "sensitive", "title_prefix", "observed_at", "place_name", "latitude"]
        )

    def changes(self) -> dict:
        data = self.cleaned_data
        out = {}
        if data["source"] is not None:
            out["source"] = data["source"]
        if data["sensitive"]:
            out["sensitive"] = data["sensitive"] == "yes"
        if data["title_prefix"].strip():
            out["title_prefix"] = data["title_prefix"]
        if data["observed_at"] is not None:
            out["observed_at"] = data["observed_at"]
        if data["place_name"].strip():
            out["place_name"] = data["place_name"].strip()
        if data["latitude"] is not None:
            out["latitude"], out["longitude"] = data["latitude"], data["longitude"]
        return out


class GalleryFilterForm(Form):
    q = forms.CharField(required=False, label="Search")
    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *Evidence.Kind.choices])
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("pending", "Pending"),
            ("processing", "Processing"),
            ("ready", "Ready"),
            ("failed", "Failed"),
        ],
    )
    flagged = forms.BooleanField(required=False, label="Flagged only")

    def __init__(self, *args, reader: Reader, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"] = SourceChoiceField(
            reader=reader, required=False, empty_label="All sources"
        )
        self.order_fields(["q", "kind", "status", "source", "flagged"])


class ClaimForm(Form):
    statement = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    occurred_on = forms.DateField(
        required=False,
        label="Happened on",
        widget=DateInput(),
        help_text="If the claim is about a moment, it appears on the timeline.",
    )


class ClaimLinkForm(Form):
    stance = forms.ChoiceField(
        choices=EvidenceLink.Stance.choices, widget=forms.RadioSelect, initial="supports"
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, claim: Claim, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evidence"] = forms.ModelChoiceField(
            queryset=Evidence.objects.filter(case=claim.case),
            error_messages={"required": "Choose the evidence to link."},
        )


class SubmitForm(Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReviewForm(Form):
    DECISION_CHOICES = [
        ("supported", "Supported"),
        ("contradicted", "Contradicted"),
        ("unverified", "Unverified"),
        ("draft", "Back to draft (needs more evidence)"),
    ]
    decision = forms.ChoiceField(
        choices=DECISION_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a decision: supported, contradicted, unverified or back to draft."
        },
    )
    confidence = forms.ChoiceField(required=False, choices=[("", "—"), *Claim.Confidence.choices])
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: say why, for the record.",
        error_messages={"required": "Say why: a review needs a note."},
    )


class CommentForm(Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Comment")


class SourceForm(Form):
    kind = forms.ChoiceField(choices=Source.Kind.choices)
    name = forms.CharField(max_length=200)
    protected = forms.BooleanField(
        required=False,
        help_text="Hide the identity behind a pseudonym from everyone below editor.",
    )
    pseudonym = forms.CharField(max_length=100, required=False)
    reliability = forms.ChoiceField(choices=Source.Reliability.choices, initial="F")
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Contact details; hidden below editor when the source is protected.",
    )


class SourceSafeForm(Form):
    """What someone below editor may change of a protected source: never its identity, nor
    its pseudonym (a refusal that depended on the hidden name would confirm a guess)."""

    kind = forms.ChoiceField(choices=Source.Kind.choices)
    reliability = forms.ChoiceField(choices=Source.Reliability.choices)


class SearchForm(Form):
    """The search page's words and filters (`evidence.search.SearchQuery`)."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    case = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Case")
    type = forms.MultipleChoiceField(
        required=False,
        choices=SearchEntry.Type.choices,
        label="Type",
        widget=forms.CheckboxSelectMultiple,
    )
    kind = forms.MultipleChoiceField(
        required=False,
        choices=Evidence.Kind.choices,
        label="Kind",
        widget=forms.CheckboxSelectMultiple,
    )
    status = forms.MultipleChoiceField(
        required=False, choices=SEARCH_STATUS_CHOICES, label="Status"
    )
    date_from = forms.DateField(required=False, label="From", widget=DateInput())
    date_to = forms.DateField(required=False, label="To", widget=DateInput())
    source = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Source")
    flag = forms.ChoiceField(
        required=False, choices=[("", "Any flag"), *PhotoFlag.Code.choices], label="Flag"
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000, label="Page")


class ImageSearchForm(Form):
    """An image to search with (checked as an upload is by `evidence.image_search`)."""

    file = forms.FileField(label="Image")
