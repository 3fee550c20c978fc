from datetime import date

import pytest
from django.core.exceptions import ValidationError

from cases.activity import activity_chain_problems
from cases.models import Activity, Case, Claim, ClaimTransition, Membership, Role
from cases.services import (
    case_create,
    case_update,
    claim_create,
    claim_review,
    claim_submit,
    claim_update,
    membership_add,
    membership_change,
    membership_remove,
)
from tests.factories import ClaimFactory, UserFactory, evidence_linked
from tests.tamper import append_only_lifted

pytestmark = pytest.mark.django_db


def last_activity(case: Case) -> Activity:
    return Activity.objects.filter(case=case).latest("id")


def test_creator_of_a_case_becomes_its_owner():
    user = UserFactory()
    case = case_create(actor=user, title="  The Dandong freight train ", summary="A train.")
    assert case.title == "The Dandong freight train"
    assert Membership.objects.get(case=case, user=user).role == Role.OWNER
    row = last_activity(case)
    assert (row.verb, row.actor, row.target_id) == ("case.created", user, case.pk)


def test_case_needs_a_title():
    with pytest.raises(ValidationError):
        case_create(actor=UserFactory(), title="   ")
    assert not Case.objects.exists()


def test_case_update_records_what_changed(personas):
    case_update(actor=personas.editor, case=personas.case, summary="Where did the cargo go?")
    row = last_activity(personas.case)
    assert row.verb == "case.updated"
    assert row.data == {"summary": "Where did the cargo go?"}


def test_owner_can_reopen_a_closed_case(personas):
    case_update(actor=personas.owner, case=personas.case, status="closed")
    case_update(actor=personas.owner, case=personas.case, status="open")
    assert Case.objects.get(pk=personas.case.pk).status == "open"


def test_membership_services_record_activity(personas):
    newcomer = UserFactory(username="newcomer")
    membership = membership_add(
        actor=personas.owner, case=personas.case, user=newcomer, role="viewer"
    )
    assert last_activity(personas.case).data == {"user": "newcomer", "role": "viewer"}
    membership_change(actor=personas.owner, membership=membership, role="editor")
    assert last_activity(personas.case).data == {
        "user": "newcomer",
        "from": "viewer",
        "to": "editor",
    }
    membership_remove(actor=personas.owner, membership=membership)
    assert last_activity(personas.case).verb == "member.removed"
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_member_cannot_be_added_twice(personas):
    with pytest.raises(ValidationError):
        membership_add(actor=personas.owner, case=personas.case, user=personas.viewer, role="owner")


def test_unknown_role_is_refused(personas):
    with pytest.raises(ValidationError):
        membership_add(
            actor=personas.owner, case=personas.case, user=UserFactory(), role="superuser"
        )


def test_case_always_keeps_one_owner(personas):
    owner = Membership.objects.get(case=personas.case, user=personas.owner)
    with pytest.raises(ValidationError):
        membership_change(actor=personas.owner, membership=owner, role="editor")
    with pytest.raises(ValidationError):
        membership_remove(actor=personas.owner, membership=owner)
    # With a second owner, the first may step down.
    second = Membership.objects.get(case=personas.case, user=personas.editor)
    membership_change(actor=personas.owner, membership=second, role="owner")
    membership_change(actor=personas.owner, membership=owner, role="viewer")
    assert Membership.objects.filter(case=personas.case, role="owner").count() == 1


def test_claim_starts_as_a_draft_and_records_activity(personas):
    claim = claim_create(
        actor=personas.reporter, case=personas.case, statement="The train never left Dandong"
    )
    assert claim.status == Claim.Status.DRAFT
    assert claim.author == personas.reporter
    assert last_activity(personas.case).verb == "claim.created"


def test_review_workflow_records_every_transition(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    claim_submit(actor=personas.reporter, claim=claim, note="Ready")
    claim_review(actor=personas.editor, claim=claim, decision="draft", note="Need the 25 May photo")
    claim_submit(actor=personas.reporter, claim=claim)
    evidence_linked(claim)
    claim_review(
        actor=personas.editor,
        claim=claim,
        decision="supported",
        note="Two dated photos",
        confidence="high",
    )
    claim.refresh_from_db()
    assert (claim.status, claim.reviewer, claim.confidence) == (
        "supported",
        personas.editor,
        "high",
    )
    assert claim.review_note == "Two dated photos"
    history = list(
        ClaimTransition.objects.filter(claim=claim).values_list(
            "from_status", "to_status", "actor__username", "note"
        )
    )
    assert history == [
        ("draft", "in_review", "bob", "Ready"),
        ("in_review", "draft", "erin", "Need the 25 May photo"),
        ("draft", "in_review", "bob", ""),
        ("in_review", "supported", "erin", "Two dated photos"),
    ]
    verbs = list(
        Activity.objects.filter(case=personas.case, target_type="claim").values_list(
            "verb", flat=True
        )
    )
    assert verbs == [
        "claim.created",
        "claim.submitted",
        "claim.reviewed",
        "claim.submitted",
        "claim.reviewed",
    ]


@pytest.mark.parametrize("status", ["draft", "supported", "contradicted", "unverified"])
def test_only_a_claim_in_review_can_be_decided(personas, status):
    claim = ClaimFactory(
        case=personas.case,
        author=personas.reporter,
        status=status,
        reviewer=personas.owner if status not in ("draft", "in_review") else None,
    )
    with pytest.raises(ValidationError):
        claim_review(actor=personas.editor, claim=claim, decision="supported", note="Sure")
    assert not claim.transitions.exists()


@pytest.mark.parametrize("status", ["in_review", "supported"])
def test_only_a_draft_can_be_submitted(personas, status):
    claim = ClaimFactory(
        case=personas.case,
        author=personas.reporter,
        status=status,
        reviewer=personas.owner if status == "supported" else None,
    )
    with pytest.raises(ValidationError):
        claim_submit(actor=personas.reporter, claim=claim)


def test_decided_claim_can_be_sent_back_to_draft(personas):
    claim = ClaimFactory(
        case=personas.case, author=personas.reporter, status="supported", reviewer=personas.owner
    )
    claim_review(actor=personas.editor, claim=claim, decision="draft", note="New evidence")
    claim.refresh_from_db()
    assert (claim.status, claim.reviewer) == ("draft", None)


@pytest.mark.parametrize("note", ["", "   "])
def test_review_needs_a_note(personas, note):
    claim = ClaimFactory(case=personas.case, author=personas.reporter, status="in_review")
    with pytest.raises(ValidationError):
        claim_review(actor=personas.editor, claim=claim, decision="supported", note=note)


def test_review_refuses_an_unknown_decision(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter, status="in_review")
    with pytest.raises(ValidationError):
        claim_review(actor=personas.editor, claim=claim, decision="approved", note="ok")


def test_wording_of_a_claim_in_review_cannot_change(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter, status="in_review")
    with pytest.raises(ValidationError):
        claim_update(actor=personas.reporter, claim=claim, statement="Something else")
    claim_update(actor=personas.reporter, claim=claim, confidence="medium")
    claim.refresh_from_db()
    assert claim.confidence == "medium"
    assert last_activity(personas.case).data == {"confidence": "medium"}


def test_claim_update_refuses_fields_it_does_not_own(personas):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    with pytest.raises(ValidationError):
        claim_update(actor=personas.reporter, claim=claim, status="supported")


def test_activity_rows_chain_and_detect_tampering(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    claim_submit(actor=personas.reporter, claim=claim)
    assert activity_chain_problems(case=personas.case) == []
    rows = list(Activity.objects.filter(case=personas.case).order_by("id"))
    assert rows[0].prev_hash == ""
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))

    with append_only_lifted():
        Activity.objects.filter(pk=rows[0].pk).update(verb="claim.deleted")
    problems = activity_chain_problems(case=personas.case)
    assert problems == [f"activity {rows[0].pk} (claim.deleted): its content was changed"]


def test_deleting_an_activity_row_breaks_the_chain(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    claim_submit(actor=personas.reporter, claim=claim)
    rows = list(Activity.objects.filter(case=personas.case).order_by("id"))
    with append_only_lifted():
        Activity.objects.filter(pk=rows[0].pk).delete()
    assert activity_chain_problems(case=personas.case) == [
        f"activity {rows[1].pk}: the row before it was changed or removed"
    ]


def test_the_record_takes_only_its_verbs(personas):
    from cases.activity import Verb, activity_record

    with pytest.raises(ValueError):
        activity_record(case=personas.case, actor=personas.owner, verb="case.sneezed")
    row = activity_record(case=personas.case, actor=personas.owner, verb=Verb.CASE_UPDATED)
    assert Activity.objects.get(pk=row.pk).verb == "case.updated"


def _decided(personas, decision="supported", stance="supports"):
    claim = claim_create(
        actor=personas.reporter,
        case=personas.case,
        statement="Never left",
        confidence="high",
        occurred_on=date(2026, 5, 17),
    )
    evidence_linked(claim, stance)
    claim_submit(actor=personas.reporter, claim=claim)
    claim_review(actor=personas.editor, claim=claim, decision=decision, note="Two dated photos")
    return claim


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("confidence", "low", "the confidence from high to low"),
        ("occurred_on", date(2026, 5, 18), "the event date from 2026-05-17 to 2026-05-18"),
        ("occurred_on", None, "the event date from 2026-05-17 to none"),
    ],
)
def test_changing_a_decided_claims_confidence_or_date_reopens_it(personas, field, value, said):
    claim = _decided(personas)
    claim_update(actor=personas.reporter, claim=claim, **{field: value})
    claim.refresh_from_db()
    assert (claim.status, getattr(claim, field), claim.reviewer) == ("in_review", value, None)
    last = claim.transitions.order_by("-id").first()
    assert (last.from_status, last.to_status, last.actor, last.note) == (
        "supported",
        "in_review",
        personas.reporter,
        f"The claim changed after the decision: bob changed {said}",
    )
    verbs = list(Activity.objects.filter(case=personas.case).values_list("verb", flat=True))
    assert verbs[-2:] == ["claim.updated", "claim.reopened"]


def test_the_same_confidence_again_or_a_claim_in_review_is_not_reopened(personas):
    claim = _decided(personas)
    claim_update(actor=personas.reporter, claim=claim, confidence="high")
    claim.refresh_from_db()
    assert claim.status == "supported"
    in_review = claim_create(actor=personas.reporter, case=personas.case, statement="Arrived")
    claim_submit(actor=personas.reporter, claim=in_review)
    claim_update(actor=personas.reporter, claim=in_review, confidence="low")
    in_review.refresh_from_db()
    assert (in_review.status, in_review.confidence) == ("in_review", "low")


@pytest.mark.parametrize(
    ("decision", "stances", "refusal"),
    [
        (
            "supported",
            [],
            "A claim can be supported only on evidence: link at least one piece of supporting "
            "evidence to it first.",
        ),
        (
            "supported",
            ["contradicts", "context"],
            "A claim can be supported only on evidence: link at least one piece of supporting "
            "evidence to it first.",
        ),
        (
            "contradicted",
            ["supports"],
            "A claim can be contradicted only on evidence: link at least one piece of "
            "contradicting evidence to it first.",
        ),
    ],
)
def test_a_decision_needs_evidence_with_its_stance(personas, decision, stances, refusal):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    for stance in stances:
        evidence_linked(claim, stance)
    claim_submit(actor=personas.reporter, claim=claim)
    with pytest.raises(ValidationError) as refused:
        claim_review(actor=personas.editor, claim=claim, decision=decision, note="Looks right")
    assert refused.value.message_dict == {"decision": [refusal]}
    claim.refresh_from_db()
    assert claim.status == "in_review"
    assert list(claim.transitions.values_list("to_status", flat=True)) == ["in_review"]


@pytest.mark.parametrize("decision", ["unverified", "draft"])
def test_unverified_or_back_to_draft_needs_no_evidence(personas, decision):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Shipped")
    claim_submit(actor=personas.reporter, claim=claim)
    claim_review(actor=personas.editor, claim=claim, decision=decision, note="Nothing yet")
    claim.refresh_from_db()
    assert claim.status == decision
