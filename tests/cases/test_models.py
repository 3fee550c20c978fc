"""The database refuses what the domain never allows, whatever code writes the row."""

import pytest
from django.db import IntegrityError, transaction

from cases.models import ClaimTransition, Membership
from tests.factories import CaseFactory, ClaimFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def refused(factory, **fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**fields)


def test_one_membership_per_user_and_case():
    membership = MembershipFactory()
    refused(MembershipFactory, case=membership.case, user=membership.user, role="owner")


def test_membership_role_must_be_known():
    refused(MembershipFactory, role="admin")


def test_case_status_must_be_known():
    refused(CaseFactory, status="deleted")


def test_claim_status_must_be_known():
    refused(ClaimFactory, status="approved")


def test_decided_claim_must_name_its_reviewer():
    refused(ClaimFactory, status="supported", reviewer=None)


def test_a_transition_must_change_the_status():
    claim = ClaimFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimTransition.objects.create(
            claim=claim, from_status="draft", to_status="draft", actor=claim.author
        )


def test_deleting_a_user_with_a_membership_removes_only_the_membership():
    user = UserFactory()
    MembershipFactory(user=user)
    user.delete()
    assert not Membership.objects.filter(user_id=user.pk).exists()
