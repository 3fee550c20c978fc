"""Bulk import in the browser: choose a file and what it holds, map its columns, preview the
rows and their errors, then import them all (or none). The same service as the API
(evidence.services.bulk_import)."""

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from cases.policy import require
from cases.selectors import case_for_user
from evidence.services import bulk_import as imports
from web import forms
from web.views.base import case_context

KIND_CHOICES = [("link", "Web links"), ("testimony", "Testimony"), ("source", "Sources")]
ALL_FIELDS = list(dict.fromkeys(name for kind in imports.KINDS for name in imports.FIELDS[kind]))


class ImportForm(forms.Form):
    kind = django_forms.ChoiceField(choices=KIND_CHOICES, label="The rows are")
    file = django_forms.FileField(
        label="Spreadsheet",
        help_text="CSV (UTF-8) or XLSX; the first line names the columns; at most 10,000 rows.",
        widget=django_forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )
    apply = django_forms.BooleanField(
        required=False,
        label="Import now if no row has an error (otherwise: only preview)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ALL_FIELDS:
            self.fields[f"map_{name}"] = django_forms.CharField(
                required=False,
                max_length=200,
                label=name,
                help_text="",
            )

    def mapping_fields(self):
        return [self[f"map_{name}"] for name in ALL_FIELDS]

    def main_fields(self):
        return [self["kind"], self["file"], self["apply"]]

    def mapping(self) -> dict | None:
        kind = self.cleaned_data["kind"]
        chosen = {
            name: self.cleaned_data.get(f"map_{name}", "").strip()
            for name in imports.FIELDS[kind]
            if self.cleaned_data.get(f"map_{name}", "").strip()
        }
        return chosen or None


@login_required
@require_http_methods(["GET", "POST"])
def bulk_import(request, case_id: int):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "import.run")
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = imports.bulk_import(
                    actor=request.user,
                    case=case,
                    kind=form.cleaned_data["kind"],
                    file=upload,
                    name=upload.name or "",
                    mapping=form.mapping(),
                    apply=form.cleaned_data["apply"],
                )
            except ValidationError as exc:
                forms.add_service_errors(form, exc)
            else:
                # The file was read: its rows' errors are the preview's answer, not a refusal.
                status = 200
                if result.applied:
                    messages.success(request, f"Imported {len(result.created)} rows.")
    return render(
        request,
        "web/scripts/import.html",
        case_context(
            request,
            case,
            form=form,
            result=result,
            fields={kind: imports.FIELDS[kind] for kind in imports.KINDS},
        ),
        status=status,
    )
