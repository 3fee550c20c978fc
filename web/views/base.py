"""What every page of a case shares: its context (role, policy, the reader's view), the
tombstone of deleted evidence and the comment form's post.

Every view reaches its case through `cases.selectors` (404 to non-members), hands every
write to a service (which checks the role again) and renders.

A write view also refuses early, with `cases.policy.require`, a member whose role cannot make
the change, so a page never offers a form that can only fail; the services stay the authority.
Templates ask the same policy through `can` (`{% if can.evidence.add %}`), never a role.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render

from cases.models import Case
from cases.policy import Allowed, require, role_of
from evidence.models import Evidence
from evidence.reader import reader_for
from evidence.services import comments as comment_services
from web import forms
from web.feedback import attempt

# htmx stops polling an element whose request is answered with this status (and still swaps
# the answer in): what a poll of deleted evidence gets, with the tombstone to show.
STOP_POLLING = 286


def case_context(request, case: Case, **extra) -> dict:
    """What every page of a case needs to decide which controls to show."""
    role = role_of(user=request.user, case=case)
    if role is None:  # the selectors already answered 404; this is belt and braces
        raise Http404("No such case.")
    context = {
        "case": case,
        "role": role,
        "can": Allowed(request.user, case),
        # What this reader may see (`evidence.reader`); `reveal`: whether identities show.
        "reader": reader_for(request, case, via="page"),
        "reveal": reader_for(request, case, via="page").reveal,
    }
    context.update(extra)
    return context


def gone(request, evidence: Evidence, template: str, context: dict):
    """What a request for deleted evidence gets: its tombstone. To an htmx poll, with the status
    that stops the polling; to anyone else, 410 Gone."""
    status = STOP_POLLING if request.headers.get("HX-Request") else 410
    return render(request, template, {"e": evidence, **context}, status=status)


def comment_post(request, case: Case, **target) -> None:
    """Add the posted comment to a claim or a piece of evidence, with a message either way."""
    require(request.user, case, "comment.add")
    form = forms.CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A comment cannot be empty.")
        return
    attempt(
        request,
        lambda: comment_services.comment_create(
            actor=request.user, text=form.cleaned_data["text"], **target
        ),
    )
