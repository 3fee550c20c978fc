"""The claim pages: the board, a new claim, its page and edit form, its evidence links, its
review and its comments.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import services as case_services
from cases.models import Claim
from cases.policy import require
from cases.selectors import (
    can_review_claim,
    case_for_user,
    claim_for_user,
    claims_of,
    members_of,
)
from evidence.corroboration import claim_corroboration
from evidence.models import EvidenceLink
from evidence.reader import Reader, reader_for
from evidence.selectors import comment_for_user, comments_on, evidence_of, link_for_user, links_of
from evidence.services import comments as comment_services
from evidence.services import links as link_services
from evidence.services.assignments import assignee_of
from web import forms
from web.feedback import attempt
from web.presenters import CLAIM_COLUMNS, card_context
from web.views.base import case_context, comment_post


@login_required
@require_GET
def claim_board(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    claims = claims_of(case=case).annotate(
        supports=Count("links", filter=Q(links__stance="supports")),
        contradicts=Count("links", filter=Q(links__stance="contradicts")),
    )
    by_status = {key: [] for key, _ in CLAIM_COLUMNS}
    for claim in claims:
        by_status[claim.status].append(claim)
    columns = [(key, label, by_status[key]) for key, label in CLAIM_COLUMNS]
    return render(request, "web/claim_board.html", case_context(request, case, columns=columns))


@login_required
@require_http_methods(["GET", "POST"])
def claim_new(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "claim.add")
    form = forms.ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claim = case_services.claim_create(actor=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Claim written as a draft. Link its evidence next.")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return render(request, "web/claim_form.html", case_context(request, case, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def claim_edit(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    case = claim.case
    require(request.user, case, "claim.edit")
    initial = {"statement": claim.statement, "details": claim.details}
    initial["occurred_on"] = claim.occurred_on
    form = forms.ClaimForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        was = claim.status
        try:
            case_services.claim_update(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Claim saved.")
            _say_if_reopened(request, claim, was, because="its event date changed")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return render(
        request, "web/claim_form.html", case_context(request, case, form=form, claim=claim)
    )


def _link_options(claim: Claim, q: str, reader: Reader) -> list[dict]:
    items = evidence_of(case=claim.case).exclude(links__claim=claim)
    if q:
        items = items.filter(
            Q(title__icontains=q)
            | Q(original_name__icontains=q)
            | reader.place_matches(q)
            | Q(url__icontains=q)
            | Q(text__icontains=q)
            | Q(description__icontains=q)
        )
    return [card_context(e, reader) for e in items[:30]]


def _claim_page(request, claim: Claim, *, link_form=None, review_form=None, status=200):
    case = claim.case
    reader = reader_for(request, case, via="page")
    grouped = links_of(claim=claim)
    for links in grouped.values():
        for link in links:
            link.source_name = reader.source_name(link.evidence.source)
            link.photo = link.evidence.photo_or_none
            link.flags = list(link.photo.flags.all()) if link.photo is not None else []
    corroboration = claim_corroboration(claim=claim, reader=reader)
    options = _link_options(claim, "", reader)
    ctx = case_context(
        request,
        case,
        claim=claim,
        supports=grouped["supports"],
        contradicts=grouped["contradicts"],
        context_links=grouped["context"],
        corroboration=corroboration,
        corroboration_sides=[
            ({"key": "supports", "data": corroboration["supports"]}, "Supporting"),
            ({"key": "contradicts", "data": corroboration["contradicts"]}, "Contradicting"),
        ],
        link_form=link_form or forms.ClaimLinkForm(claim=claim, auto_id="link_%s"),
        options=options,
        review_form=review_form or forms.ReviewForm(auto_id="review_%s"),
        can_review=can_review_claim(user=request.user, claim=claim)
        and claim.status == Claim.Status.IN_REVIEW,
        is_author=claim.author_id == request.user.pk,
        history=claim.transitions.select_related("actor").order_by("created_at", "id"),
        comments=comments_on(claim=claim),
        comment_form=forms.CommentForm(),
        assignee=assignee_of(claim),
        members=[m.user.username for m in members_of(case=case)],
    )
    return render(request, "web/claim_detail.html", ctx, status=status)


@login_required
@require_GET
def claim_detail(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    return _claim_page(request, claim)


@login_required
@require_GET
def claim_link_options(request, claim_id):
    """htmx partial: the evidence that can still be linked, filtered by the search box."""
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    reader = reader_for(request, claim.case, via="page")
    q = request.GET.get("q", "").strip()[:200]
    options = _link_options(claim, q, reader)
    return render(request, "web/partials/link_options.html", {"options": options, "q": q})


@login_required
@require_POST
def claim_link(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "link.add")
    form = forms.ClaimLinkForm(request.POST, claim=claim, auto_id="link_%s")
    if form.is_valid():
        was = claim.status
        try:
            link_services.evidence_link(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            stance = dict(EvidenceLink.Stance.choices)[form.cleaned_data["stance"]]
            messages.success(request, f"Linked: {form.cleaned_data['evidence'].label} ({stance}).")
            _say_if_reopened(request, claim, was)
            return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#evidence")
    return _claim_page(request, claim, link_form=form, status=400)


@login_required
@require_POST
def link_remove(request, link_id):
    link = link_for_user(user=request.user, link_id=link_id)
    claim = link.claim
    require(request.user, claim.case, "link.remove")
    was = claim.status
    link_services.link_remove(actor=request.user, link=link)
    messages.success(request, "Link removed.")
    _say_if_reopened(request, claim, was)
    return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#evidence")


def _say_if_reopened(
    request, claim: Claim, was: str, *, because: str = "its evidence changed"
) -> None:
    """Tell whoever changed what a decided claim's decision covered (its evidence, its event
    date) that the claim is back in review (the service moved it, and updated `claim` in
    place)."""
    if was in Claim.DECIDED and claim.status == Claim.Status.IN_REVIEW:
        messages.warning(
            request,
            f"The claim was {Claim.Status(was).label.lower()}; it is back in review because "
            f"{because}.",
        )


@login_required
@require_POST
def claim_submit(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "claim.submit")
    form = forms.SubmitForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    attempt(
        request,
        lambda: case_services.claim_submit(actor=request.user, claim=claim, note=note),
        "Submitted for review. An editor who did not write it decides.",
    )
    return redirect("web:claim_detail", claim_id=claim.pk)


@login_required
@require_POST
def claim_review(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "claim.review")
    if claim.author_id == request.user.pk:
        # The service refuses it too; say so before looking at the form.
        raise PermissionDenied("You wrote this claim: another editor must review it.")
    form = forms.ReviewForm(request.POST, auto_id="review_%s")
    if form.is_valid():
        try:
            case_services.claim_review(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, f"Claim marked {claim.get_status_display().lower()}.")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return _claim_page(request, claim, review_form=form, status=400)


@login_required
@require_POST
def claim_comment(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    comment_post(request, claim.case, claim=claim)
    return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#comments")


@login_required
@require_POST
def comment_edit(request, comment_id):
    comment = comment_for_user(user=request.user, comment_id=comment_id)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            lambda: comment_services.comment_edit(
                actor=request.user, comment=comment, text=form.cleaned_data["text"]
            ),
        )
    else:
        messages.error(request, "A comment cannot be empty.")
    if comment.claim_id:
        return redirect(reverse("web:claim_detail", args=[comment.claim_id]) + "#comments")
    return redirect(reverse("web:evidence_detail", args=[comment.evidence_id]) + "#comments")
