"""Asking for a web link's page to be captured: when the link is recorded (`evidence_create`,
whichever door it came through) and each time a reporter asks again ("Capture again"). Every
capture is a row of its own, kept; the job itself is `evidence.services.captures`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases.activity import Verb, activity_record
from cases.policy import require
from evidence import enqueue
from evidence.models import Capture, Evidence


def capture_queue(*, evidence: Evidence, actor) -> Capture:
    """A new pending capture of a link, its task sent once the transaction commits (through
    the outbox: a broker that is away does not lose it). The caller has checked the policy."""
    capture = Capture.objects.create(
        evidence=evidence, requested_by=actor, dispatched_at=timezone.now()
    )
    enqueue.task_on_commit(enqueue.LINK_CAPTURE, capture.pk)
    return capture


@transaction.atomic
def capture_request(*, actor, evidence: Evidence) -> Capture:
    """Capture a link's page again (reporters and above), keeping every earlier capture. A
    capture already waiting or running is returned instead of queueing a second one."""
    require(actor, evidence.case, "evidence.capture")
    if evidence.kind != Evidence.Kind.LINK:
        raise ValidationError("Only a web link can be captured.", code="not_a_link")
    if evidence.deleted_at is not None:
        raise ValidationError("This evidence was deleted.", code="deleted")
    Evidence.objects.select_for_update().filter(pk=evidence.pk).first()
    waiting = (
        evidence.captures.filter(status__in=[Capture.Status.PENDING, Capture.Status.RUNNING])
        .order_by("-id")
        .first()
    )
    if waiting is not None:
        return waiting
    capture = capture_queue(evidence=evidence, actor=actor)
    activity_record(
        case=evidence.case,
        actor=actor,
        verb=Verb.EVIDENCE_CAPTURE_REQUESTED,
        target=evidence,
        data={"capture": capture.pk, "url": evidence.url},
    )
    return capture
