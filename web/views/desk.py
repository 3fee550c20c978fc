"""The desk's pages: one's notifications (and the header's live unread count), an editor's
review inbox, assigning claims and evidence, and the case's activity feed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.models import Membership
from cases.policy import require
from cases.selectors import activity_of, case_for_user, claim_for_user, members_of
from evidence.desk import FEED_KINDS, activity_filtered, activity_grouped, review_inbox
from evidence.models import NotificationSettings
from evidence.reader import reader_for
from evidence.selectors import evidence_for_user
from evidence.services.assignments import work_assign
from evidence.services.notifications import (
    notification_settings_update,
    notifications_mark_read,
    notifications_of,
    notifications_rendered,
    settings_of,
    unread_count,
)
from web.feedback import attempt
from web.views.base import case_context
from web.views.cases import activity_with_links

NOTIFICATIONS_SHOWN = 100
FEED_ROWS = 2000


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    if request.method == "POST":
        if "email" in request.POST:
            choice = request.POST["email"]
            if choice in NotificationSettings.Email.values:
                notification_settings_update(user=request.user, email=choice)
                messages.success(request, "Saved: how notifications reach you by email.")
            else:
                messages.error(request, "Choose how often to be emailed.")
        else:
            marked = notifications_mark_read(user=request.user)
            messages.success(request, f"{marked} marked read.")
        return redirect("web:notifications")
    rows = notifications_of(user=request.user)[:NOTIFICATIONS_SHOWN]
    return render(
        request,
        "web/notifications.html",
        {
            "notifications": notifications_rendered(rows, user=request.user, via="page"),
            "unread": unread_count(user=request.user),
            "email": settings_of(request.user).email,
            "email_choices": NotificationSettings.Email.choices,
        },
    )


@login_required
@require_GET
def notifications_count(request):
    """The header's unread count (htmx polls it)."""
    return render(
        request,
        "web/partials/notifications_count.html",
        {"unread": unread_count(user=request.user)},
    )


@login_required
@require_GET
def review_inbox_page(request):
    rows = review_inbox(request=request, via="page")
    return render(request, "web/review_inbox.html", {"rows": rows})


def _assignee_from(request, case):
    name = (request.POST.get("assignee") or "").strip()
    if not name:
        return None
    member = (
        Membership.objects.filter(case=case, user__username=name, user__is_active=True)
        .select_related("user")
        .first()
    )
    if member is None:
        raise Http404("No such member.")
    return member.user


@login_required
@require_POST
def claim_assign(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "work.assign")
    assignee = _assignee_from(request, claim.case)
    attempt(
        request,
        lambda: work_assign(actor=request.user, target=claim, assignee=assignee),
        f"Assigned to {assignee.username}." if assignee else "No longer assigned.",
    )
    return redirect("web:claim_detail", claim_id=claim.pk)


@login_required
@require_POST
def evidence_assign(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    require(request.user, evidence.case, "work.assign")
    assignee = _assignee_from(request, evidence.case)
    attempt(
        request,
        lambda: work_assign(actor=request.user, target=evidence, assignee=assignee),
        f"Assigned to {assignee.username}." if assignee else "No longer assigned.",
    )
    return redirect("web:evidence_detail", evidence_id=evidence.pk)


@login_required
@require_GET
def case_activity(request, case_id):
    """The case's activity, grouped (a batch of uploads is one line that expands) and
    filtered by kind and person."""
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    kind = request.GET.get("kind", "")
    kind = kind if kind in FEED_KINDS else ""
    members = list(members_of(case=case))
    person = request.GET.get("person", "")
    actor = next((m.user for m in members if m.user.username == person), None)
    rows = activity_filtered(
        activity_of(case=case), kind=kind, actor_id=actor.pk if actor else None
    )[:FEED_ROWS]
    lines = activity_grouped(activity_with_links(case, reader.activity(rows)))
    return render(
        request,
        "web/case_activity.html",
        case_context(
            request,
            case,
            lines=lines,
            kinds=FEED_KINDS.items(),
            kind=kind,
            people=[m.user.username for m in members],
            person=actor.username if actor else "",
            limit=FEED_ROWS,
        ),
    )
