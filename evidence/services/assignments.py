"""Giving a claim or a piece of evidence to a member to work on: one assignee at a time, each
assignment kept as a row, an activity row written and the assignee notified."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from cases.activity import Verb, activity_record
from cases.models import Claim, Membership
from cases.policy import require
from evidence.models import Assignment, Evidence, Notification
from evidence.services.notifications import notify


def _check_member(case, assignee) -> None:
    if assignee is not None and not Membership.objects.filter(case=case, user=assignee).exists():
        raise ValidationError({"assignee": "Only a member of this case can be assigned."})


def assignee_of(target: Claim | Evidence):
    """The member the claim or item is assigned to now, or None."""
    field = "claim" if isinstance(target, Claim) else "evidence"
    latest = Assignment.objects.filter(**{field: target}).select_related("assignee").first()
    return latest.assignee if latest is not None else None


@transaction.atomic
def work_assign(*, actor, target: Claim | Evidence, assignee) -> Assignment | None:
    """Assign `target` (a claim, or an item not deleted) to `assignee`, a member of its case,
    or end its assignment (None); reporters and above. The assignee is notified. Returns the
    new row, or None when nothing changed."""
    case = target.case
    require(actor, case, "work.assign")
    is_claim = isinstance(target, Claim)
    if not is_claim and target.is_deleted:
        raise ValidationError("Deleted evidence cannot be assigned.")
    _check_member(case, assignee)
    current = assignee_of(target)
    if (current.pk if current else None) == (assignee.pk if assignee else None):
        return None
    field = "claim" if is_claim else "evidence"
    row = Assignment.objects.create(
        case=case, assignee=assignee, assigned_by=actor, **{field: target}
    )
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.CLAIM_ASSIGNED if is_claim else Verb.EVIDENCE_ASSIGNED,
        target=target,
        data={
            "assignee": assignee.get_username() if assignee else None,
            "previous": current.get_username() if current else None,
        },
    )
    if assignee is not None:
        notify(
            recipients=[assignee],
            case=case,
            actor=actor,
            kind=Notification.Kind.ASSIGNED,
            **{field: target},
        )
    return row
