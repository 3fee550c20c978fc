"""Notifications of the review flow (evidence.services.notifications.notifications_on_activity):
a claim submitted for review tells the case's editors and owners, a claim decided or reopened
tells its author; never the actor, never a non-member."""

import pytest
from django.db import transaction

from cases.models import Membership
from cases.services import claim_create, claim_review, claim_submit
from evidence.models import Notification
from evidence.services.evidence import evidence_create
from evidence.services.links import evidence_link
from evidence.services.notifications import notifications_of, notifications_rendered
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def claim(personas):
    return claim_create(actor=personas.reporter, case=personas.case, statement="Never left")


def _texts(user) -> list[str]:
    return [
        n["text"]
        for n in notifications_rendered(notifications_of(user=user), user=user, via="page")
    ]


def _recipients(kind) -> list[str]:
    rows = Notification.objects.filter(kind=kind)
    return sorted(rows.values_list("recipient__username", flat=True))


def _supported(personas, claim):
    item = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/"
    )
    evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")
    claim_submit(actor=personas.reporter, claim=claim)
    return claim_review(actor=personas.editor, claim=claim, decision="supported", note="Seen")


def test_a_submission_notifies_the_editors_and_owners_not_the_submitter_nor_viewers(
    personas, claim
):
    # An editor whose account is switched off hears nothing.
    gone = UserFactory(username="gina", is_active=False)
    MembershipFactory(case=personas.case, user=gone, role="editor")
    claim_submit(actor=personas.reporter, claim=claim)
    assert _recipients(Notification.Kind.SUBMITTED) == ["alice", "erin"]
    (shown,) = notifications_rendered(
        notifications_of(user=personas.editor), user=personas.editor, via="page"
    )
    assert shown["text"] == "bob submitted the claim “Never left” for review"
    assert shown["path"] == f"/claims/{claim.pk}/"
    assert shown["kind"] == "submitted" and shown["actor"] == "bob"
    for user in (personas.reporter, personas.viewer, personas.outsider):
        assert _texts(user) == []


def test_an_owner_submitting_is_not_notified_of_it(personas):
    claim = claim_create(actor=personas.owner, case=personas.case, statement="Left at dawn")
    claim_submit(actor=personas.owner, claim=claim)
    assert _recipients(Notification.Kind.SUBMITTED) == ["erin"]


def test_a_decision_notifies_the_author_only(personas, claim):
    _supported(personas, claim)
    assert _recipients(Notification.Kind.REVIEWED) == ["bob"]
    assert _texts(personas.reporter) == ["erin marked your claim “Never left” supported"]
    # Sent back to draft, in words of its own.
    owned = claim_create(actor=personas.owner, case=personas.case, statement="Left at dawn")
    claim_submit(actor=personas.owner, claim=owned)
    claim_review(actor=personas.editor, claim=owned, decision="draft", note="Needs a source")
    assert _texts(personas.owner)[0] == "erin sent your claim “Left at dawn” back to draft"
    assert Notification.objects.filter(recipient=personas.editor, kind="reviewed").count() == 0


def test_a_reopening_notifies_the_author_unless_the_author_made_the_change(personas, claim):
    _supported(personas, claim)
    other = evidence_create(
        actor=personas.owner, case=personas.case, kind="link", url="https://y.example/"
    )
    evidence_link(actor=personas.owner, claim=claim, evidence=other, stance="contradicts")
    assert _recipients(Notification.Kind.REOPENED) == ["bob"]
    assert _texts(personas.reporter)[0] == (
        "alice's change sent your claim “Never left” back to review (it was supported)"
    )
    # Decided again, then reopened by its own author: no notification of one's own change.
    claim_review(actor=personas.editor, claim=claim, decision="supported", note="Still")
    third = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://z.example/"
    )
    evidence_link(actor=personas.reporter, claim=claim, evidence=third, stance="supports")
    assert _recipients(Notification.Kind.REOPENED) == ["bob"]


def test_an_author_who_left_the_case_is_not_notified(personas, claim):
    item = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/"
    )
    evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")
    claim_submit(actor=personas.reporter, claim=claim)
    Membership.objects.filter(case=personas.case, user=personas.reporter).delete()
    claim_review(actor=personas.editor, claim=claim, decision="supported", note="Seen")
    assert not Notification.objects.filter(kind=Notification.Kind.REVIEWED).exists()


def test_notifications_are_written_in_the_change_s_transaction(personas, claim):
    with pytest.raises(RuntimeError), transaction.atomic():
        claim_submit(actor=personas.reporter, claim=claim)
        assert Notification.objects.filter(kind=Notification.Kind.SUBMITTED).count() == 2
        raise RuntimeError("rolled back")
    assert not Notification.objects.exists()
