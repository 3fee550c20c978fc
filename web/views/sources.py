"""The sources of a case: their list, a new source, a source's edit form."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases.policy import require
from cases.selectors import can_see_protected, case_for_user
from evidence.reader import identity_reveal_record
from evidence.selectors import source_for_user, sources_of
from evidence.services import sources as source_services
from web import forms
from web.views.base import case_context


@login_required
@require_http_methods(["GET", "POST"])
def source_list(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
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
            "name": s.display_name(reveal=reveal),
            "show_identity": reveal or not s.protected,
        }
        for s in sources
    ]
    if reveal:  # the list names protected sources: recorded (issue #6)
        identity_reveal_record(actor=request.user, sources=[r["source"] for r in rows], via="page")
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
    reveal = can_see_protected(user=request.user, case=case)
    full = reveal or not source.protected
    if reveal:
        identity_reveal_record(actor=request.user, sources=[source], via="page")
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
    ctx = case_context(
        request, case, form=form, source=source, name=source.display_name(reveal=reveal)
    )
    return render(request, "web/source_edit.html", ctx)
