"""The sources of a case: their list, a new source, a source's edit form."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases.policy import require
from cases.selectors import case_for_user
from evidence.reader import reader_for
from evidence.selectors import source_for_user, sources_of
from evidence.services import sources as source_services
from web import forms
from web.views.base import case_context


@login_required
@require_http_methods(["GET", "POST"])
def source_list(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    form = forms.SourceForm(request.POST or None)
    if request.method == "POST":
        require(request.user, case, "source.add")
        if form.is_valid():
            try:
                source = source_services.source_create(
                    actor=request.user, case=case, **form.cleaned_data
                )
            except ValidationError as exc:
                forms.add_service_errors(form, exc)
            else:
                messages.success(request, f"Source “{source}” added.")
                return redirect("web:source_list", case_id=case.pk)
    sources = sources_of(case=case).annotate(evidence_count=Count("evidence"))
    rows = [
        {
            "source": s,
            "name": reader.source_name(s),
            "show_identity": reader.shows_identity(s),
        }
        for s in sources
    ]
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/source_list.html",
        case_context(request, case, rows=rows, form=form),
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def source_edit(request, source_id):
    source = source_for_user(user=request.user, source_id=source_id)
    case = source.case
    require(request.user, case, "source.edit")
    reader = reader_for(request, case, via="page")
    full = reader.shows_identity(source)
    form_class = forms.SourceForm if full else forms.SourceSafeForm
    initial = {f: getattr(source, f) for f in form_class.base_fields}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            source_services.source_update(actor=request.user, source=source, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Source saved.")
            return redirect("web:source_list", case_id=case.pk)
    ctx = case_context(request, case, form=form, source=source, name=reader.source_name(source))
    return render(request, "web/source_edit.html", ctx)
