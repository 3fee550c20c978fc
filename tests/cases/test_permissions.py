"""The access rules, one role at a time: each service succeeds for the roles that may use it,
is refused (PermissionDenied) for members whose role is too weak, and answers 404 to
non-members."""

import pytest

from cases.models import Claim, Membership, Role
from cases.selectors import case_for_user, claim_for_user
from cases.services import (
    case_update,
    claim_create,
    claim_review,
    claim_submit,
    membership_add,
    membership_change,
    membership_remove,
)
from evidence.reader import Reader
from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_create
from evidence.services.links import evidence_link
from evidence.services.sources import source_create, source_update
from tests.factories import (
    ClaimFactory,
    LinkEvidenceFactory,
    ProtectedSourceFactory,
    SourceFactory,
    UserFactory,
    evidence_linked,
)
from tests.outcomes import DENIED, EDITORS, HIDDEN, OK, OWNERS, WRITERS, expect

pytestmark = pytest.mark.django_db

READERS = [
    ("owner", OK),
    ("editor", OK),
    ("reporter", OK),
    ("viewer", OK),
    ("outsider", HIDDEN),
]


@pytest.mark.parametrize("role, outcome", READERS)
def test_reading_a_case_by_role(personas, role, outcome):
    with expect(outcome):
        assert case_for_user(user=personas.by_role(role), case_id=personas.case.pk)


@pytest.mark.parametrize("role, outcome", READERS)
def test_reading_a_claim_by_role(personas, role, outcome):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    with expect(outcome):
        assert claim_for_user(user=personas.by_role(role), claim_id=claim.pk) == claim


@pytest.mark.parametrize("case_id", ["abc", "", None, "1e3", 2**70, -1, "99999999"])
def test_malformed_or_unknown_case_ids_are_not_found(personas, case_id):
    with expect(HIDDEN):
        case_for_user(user=personas.owner, case_id=case_id)


def test_anonymous_and_deactivated_users_see_nothing(personas):
    from django.contrib.auth.models import AnonymousUser

    with expect(HIDDEN):
        case_for_user(user=AnonymousUser(), case_id=personas.case.pk)
    personas.viewer.is_active = False
    personas.viewer.save()
    with expect(HIDDEN):
        case_for_user(user=personas.viewer, case_id=personas.case.pk)


@pytest.mark.parametrize("role, outcome", EDITORS)
def test_editing_the_case_by_role(personas, role, outcome):
    with expect(outcome):
        case_update(actor=personas.by_role(role), case=personas.case, title="Renamed")


@pytest.mark.parametrize("role, outcome", OWNERS)
def test_closing_the_case_by_role(personas, role, outcome):
    with expect(outcome):
        case_update(actor=personas.by_role(role), case=personas.case, status="closed")


@pytest.mark.parametrize("role, outcome", OWNERS)
def test_adding_a_member_by_role(personas, role, outcome):
    newcomer = UserFactory(username="newcomer")
    with expect(outcome):
        membership_add(
            actor=personas.by_role(role), case=personas.case, user=newcomer, role="viewer"
        )


@pytest.mark.parametrize("role, outcome", OWNERS)
def test_changing_a_member_by_role(personas, role, outcome):
    membership = Membership.objects.get(case=personas.case, user=personas.viewer)
    with expect(outcome):
        membership_change(actor=personas.by_role(role), membership=membership, role="reporter")


@pytest.mark.parametrize("role, outcome", OWNERS)
def test_removing_a_member_by_role(personas, role, outcome):
    membership = Membership.objects.get(case=personas.case, user=personas.viewer)
    with expect(outcome):
        membership_remove(actor=personas.by_role(role), membership=membership)


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_adding_a_source_by_role(personas, role, outcome):
    with expect(outcome):
        source_create(actor=personas.by_role(role), case=personas.case, kind="person", name="X")


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_adding_a_web_link_by_role(personas, role, outcome):
    with expect(outcome):
        evidence_create(
            actor=personas.by_role(role),
            case=personas.case,
            kind="link",
            url="https://news.example.org/april",
        )


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_writing_a_claim_by_role(personas, role, outcome):
    with expect(outcome):
        claim_create(
            actor=personas.by_role(role), case=personas.case, statement="The train never left"
        )


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_linking_evidence_by_role(personas, role, outcome):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    evidence = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    with expect(outcome):
        evidence_link(
            actor=personas.by_role(role), claim=claim, evidence=evidence, stance="supports"
        )


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_commenting_by_role(personas, role, outcome):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    with expect(outcome):
        comment_create(actor=personas.by_role(role), claim=claim, text="Check the shadows.")


@pytest.mark.parametrize("role, outcome", WRITERS)
def test_submitting_a_claim_by_role(personas, role, outcome):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    with expect(outcome):
        claim_submit(actor=personas.by_role(role), claim=claim)


@pytest.mark.parametrize("role, outcome", EDITORS)
def test_reviewing_a_claim_by_role(personas, role, outcome):
    # Written by someone else, so that only the role decides.
    claim = ClaimFactory(case=personas.case, author=personas.reporter, status="in_review")
    evidence_linked(claim)
    if role == "reporter":
        claim.author = personas.editor
        claim.save()
    with expect(outcome):
        claim_review(
            actor=personas.by_role(role), claim=claim, decision="supported", note="Two photos."
        )


@pytest.mark.parametrize("author", ["editor", "owner"])
def test_nobody_reviews_a_claim_they_wrote(personas, author):
    claim = ClaimFactory(case=personas.case, author=personas.by_role(author), status="in_review")
    with expect(DENIED):
        claim_review(
            actor=personas.by_role(author), claim=claim, decision="supported", note="Mine."
        )
    claim.refresh_from_db()
    assert claim.status == Claim.Status.IN_REVIEW
    assert not claim.transitions.exists()


@pytest.mark.parametrize(
    "role, sees",
    [
        ("owner", True),
        ("editor", True),
        ("reporter", False),
        ("viewer", False),
        ("outsider", False),
    ],
)
def test_only_editors_and_owners_see_protected_identities(personas, role, sees):
    reader = Reader(actor=personas.by_role(role), case=personas.case, via="page")
    assert reader.reveal is sees


@pytest.mark.parametrize(
    "role, outcome",
    [
        ("owner", OK),
        ("editor", OK),
        ("reporter", DENIED),
        ("viewer", DENIED),
        ("outsider", HIDDEN),
    ],
)
def test_changing_a_protected_identity_by_role(personas, role, outcome):
    source = ProtectedSourceFactory(case=personas.case, created_by=personas.reporter)
    with expect(outcome):
        source_update(actor=personas.by_role(role), source=source, name="Another name")


def test_reporter_may_change_a_protected_sources_reliability(personas):
    source = ProtectedSourceFactory(case=personas.case, created_by=personas.reporter)
    source_update(actor=personas.reporter, source=source, reliability="B")
    source.refresh_from_db()
    assert source.reliability == "B"


def test_reporter_cannot_unprotect_a_source(personas):
    source = ProtectedSourceFactory(case=personas.case, created_by=personas.reporter)
    with expect(DENIED):
        source_update(actor=personas.reporter, source=source, protected=False)


def test_closed_case_refuses_writes_but_stays_readable(personas):
    case_update(actor=personas.owner, case=personas.case, status="closed")
    with expect(DENIED):
        claim_create(actor=personas.reporter, case=personas.case, statement="Too late")
    assert case_for_user(user=personas.viewer, case_id=personas.case.pk)


def test_roles_are_ordered_weakest_first():
    assert [r.value for r in Role] == ["viewer", "reporter", "editor", "owner"]
    assert Role.OWNER.at_least(Role.EDITOR)
    assert not Role.REPORTER.at_least(Role.EDITOR)


def test_source_of_another_case_cannot_back_evidence(personas):
    from django.core.exceptions import ValidationError

    foreign = SourceFactory()
    with pytest.raises(ValidationError):
        evidence_create(
            actor=personas.reporter,
            case=personas.case,
            kind="link",
            url="https://news.example.org/x",
            source=foreign,
        )
