"""The case pages: the list of cases, a new case, its dashboard, its settings and members."""

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import services as case_services
from cases.models import Activity, Case, Claim, Membership, Role
from cases.policy import can, require
from cases.selectors import (
    activity_of,
    case_for_user,
    cases_visible_to,
    claims_of,
    get_for_member,
    members_of,
)
from evidence.desk import activity_grouped
from evidence.models import Evidence, Photo, Source
from evidence.reader import activity_rows, reader_for
from evidence.selectors import evidence_of
from web import forms
from web.feedback import attempt
from web.presenters import CLAIM_COLUMNS, card_context
from web.views.base import case_context


def _count_of(model):
    """How many rows of `model` belong to the outer case (a subquery: the case list is already
    filtered through memberships, so a join would count the wrong rows)."""
    rows = model.objects.filter(case=OuterRef("pk")).order_by().values("case")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), 0)


@login_required
@require_GET
def case_list(request):
    latest = Activity.objects.filter(case=OuterRef("pk")).order_by("-id")
    cases = (
        cases_visible_to(request.user)
        .annotate(
            claim_count=_count_of(Claim),
            evidence_count=_count_of(Evidence),
            source_count=_count_of(Source),
            member_count=_count_of(Membership),
            last_activity_at=Subquery(latest.values("created_at")[:1]),
            last_activity_id=Subquery(latest.values("id")[:1]),
        )
        .order_by("-last_activity_at", "-id")
    )
    roles = dict(Membership.objects.filter(user=request.user).values_list("case_id", "role"))
    rows = [(case, Role(roles[case.pk])) for case in cases]
    # Each case's latest row, as its reader may see it (two queries per kind of reader).
    latest_rows = Activity.objects.select_related("actor").in_bulk(
        [case.last_activity_id for case, _ in rows if case.last_activity_id]
    )
    cases_by_pk = {case.pk: case for case, _ in rows}
    for reveal in (False, True):
        shown, revealed = activity_rows(
            [
                latest_rows[case.last_activity_id]
                for case, role in rows
                if case.last_activity_id in latest_rows
                and can(role, case, "identity.see") == reveal
            ],
            reveal=reveal,
        )
        for row in shown:
            latest_rows[row.pk] = row
        for source in revealed:  # shown to an editor or owner of its case: recorded
            case = cases_by_pk[source.case_id]
            reader_for(request, case, via="page", reveal=True).shows_identity(source)
    for case, _ in rows:
        case.last_activity = latest_rows.get(case.last_activity_id)
    return render(request, "web/case_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request):
    form = forms.CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = case_services.case_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, f"Case “{case.title}” created. You are its owner.")
            return redirect("web:case_dashboard", case_id=case.pk)
    return render(request, "web/case_new.html", {"form": form})


def activity_with_links(case: Case, rows) -> list[Activity]:
    """Names what each link row joined ("linked <evidence> to <claim>"), from the ids the row
    recorded, in two queries for the whole list. An item deleted since keeps the plain verb."""
    rows = list(rows)
    linked = [
        a for a in rows if a.verb in ("link.created", "link.removed") and isinstance(a.data, dict)
    ]
    if not linked:
        return rows
    claims = dict(
        claims_of(case=case)
        .filter(pk__in={a.data.get("claim") for a in linked})
        .values_list("pk", "statement")
    )
    evidence = {
        row["pk"]: Evidence.label_of(**row)
        for row in evidence_of(case=case)
        .filter(pk__in={a.data.get("evidence") for a in linked})
        .values("pk", "kind", "title", "original_name", "url", "text")
    }
    for a in linked:
        claim_id, evidence_id = a.data.get("claim"), a.data.get("evidence")
        if claim_id in claims and evidence_id in evidence:
            a.link_claim_id = claim_id
            a.link_claim = claims[claim_id]
            a.link_evidence = evidence[evidence_id]
    return rows


@login_required
@require_GET
def case_dashboard(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    claims = claims_of(case=case)
    by_status = Counter(claims.values_list("status", flat=True))
    columns = [(key, label, by_status.get(key, 0)) for key, label in CLAIM_COLUMNS]
    unfinished = (
        evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .exclude(photo__status=Photo.Status.READY)
    )
    counts = {
        "evidence": evidence_of(case=case).count(),
        "photos": evidence_of(case=case).filter(kind=Evidence.Kind.PHOTO).count(),
        "sources": case.sources.count(),
        "claims": sum(by_status.values()),
    }
    ctx = case_context(
        request,
        case,
        columns=columns,
        recent_claims=claims.order_by("-updated_at")[:6],
        unfinished=[card_context(e, reader) for e in unfinished[:12]],
        lines=activity_grouped(
            activity_with_links(case, reader.activity(activity_of(case=case)[:300]))
        )[:10],
        members=members_of(case=case),
        counts=counts,
        add_form=forms.MemberAddForm(),
        roles=Role.choices,
    )
    return render(request, "web/case_dashboard.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    # The page opens in a closed case too: its owner reopens it here.
    require(request.user, case, "case.update", changes_case=False)
    form_class = forms.CaseEditForm if can(request.user, case, "case.status") else forms.CaseForm
    initial = {
        "title": case.title,
        "summary": case.summary,
        "status": case.status,
        "ocr_languages": case.ocr_languages,
    }
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case_services.case_update(actor=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Case saved.")
            return redirect("web:case_dashboard", case_id=case.pk)
    return render(request, "web/case_edit.html", case_context(request, case, form=form))


def _membership(request, case: Case, membership_id) -> Membership:
    return get_for_member(
        Membership.objects.select_related("user", "case").filter(case=case),
        user=request.user,
        pk=membership_id,
    )


# The member forms sit at the foot of the dashboard and send the owner back to them (#members):
# what they answer is shown in that panel, where the owner is looking, not at the page's top.
MEMBERS_PANEL = "members"


@login_required
@require_POST
def member_add(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    form = forms.MemberAddForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            lambda: case_services.membership_add(
                actor=request.user,
                case=case,
                user=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
            ),
            lambda m: f"{m.user.username} added as {m.get_role_display()}.",
            tags=MEMBERS_PANEL,
        )
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message, extra_tags=MEMBERS_PANEL)
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")


@login_required
@require_POST
def member_change(request, case_id, membership_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    membership = _membership(request, case, membership_id)
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.", extra_tags=MEMBERS_PANEL)
    else:
        attempt(
            request,
            lambda: case_services.membership_change(
                actor=request.user, membership=membership, role=form.cleaned_data["role"]
            ),
            lambda m: f"{m.user.username} is now {m.get_role_display()}.",
            tags=MEMBERS_PANEL,
        )
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")


@login_required
@require_POST
def member_remove(request, case_id, membership_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    membership = _membership(request, case, membership_id)
    attempt(
        request,
        lambda: case_services.membership_remove(actor=request.user, membership=membership),
        f"{membership.user.username} removed from the case.",
        tags=MEMBERS_PANEL,
    )
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")
