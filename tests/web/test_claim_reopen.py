"""The claim page after a decided claim's evidence changed: the person who changed it is told,
and the history says why the claim is back in review."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from cases import services as case_services
from evidence.models import EvidenceLink

pytestmark = pytest.mark.django_db

BACK_IN_REVIEW = "The claim was supported; it is back in review because its evidence changed."


@pytest.fixture
def supported(world):
    claim = world.in_review
    case_services.claim_review(
        actor=world.personas.editor, claim=claim, decision="supported", note="The source says so"
    )
    return claim


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_unlinking_tells_the_reporter_and_the_history_says_why(world, client_for, supported):
    link = EvidenceLink.objects.get(claim=supported, evidence=world.testimony)
    response = client_for(world.personas.reporter).post(
        reverse("web:link_remove", args=[link.pk]), follow=True
    )
    assert response.status_code == 200
    assert messages_of(response) == ["Link removed.", BACK_IN_REVIEW]
    page = response.content.decode()
    assert BACK_IN_REVIEW in page
    assert (
        "Evidence changed after the decision: bob unlinked Source in China on the cargo (supports)"
        in page
    )
    # The page no longer shows the old decision's note as if it stood.
    assert "The source says so" in page  # in the history only
    assert 'class="review-note"' not in page
    supported.refresh_from_db()
    assert supported.status == "in_review"


def test_linking_tells_the_reporter(world, client_for, supported):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_link", args=[supported.pk]),
        {"evidence": world.photo25.pk, "stance": "context"},
        follow=True,
    )
    assert BACK_IN_REVIEW in messages_of(response)
    assert "bob linked Train at Dandong station, 25 May (context)" in response.content.decode()


def test_the_editor_is_offered_a_fresh_review(world, client_for, supported):
    link = EvidenceLink.objects.get(claim=supported, evidence=world.testimony)
    client_for(world.personas.reporter).post(reverse("web:link_remove", args=[link.pk]))
    page = client_for(world.personas.editor).get(reverse("web:claim_detail", args=[supported.pk]))
    assert page.context["can_review"]


def test_linking_to_a_claim_in_review_says_nothing_more(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_link", args=[world.in_review.pk]),
        {"evidence": world.photo25.pk, "stance": "context"},
        follow=True,
    )
    assert messages_of(response) == ["Linked: Train at Dandong station, 25 May (Context)."]


def test_deleting_evidence_tells_the_editor_which_claims_are_back_in_review(
    world, client_for, supported
):
    response = client_for(world.personas.owner).post(
        reverse("web:evidence_delete", args=[world.testimony.pk]),
        {"reason": "Wrong source"},
        follow=True,
    )
    said = messages_of(response)
    assert (
        "The claim “The cargo was trucked to Longkou” was supported; it is back in review "
        "because its evidence changed." in said
    )
    supported.refresh_from_db()
    assert supported.status == "in_review"
    assert supported.transitions.last().actor == world.personas.owner


def test_changing_a_decided_claims_event_date_reopens_it_and_says_so(world, client_for, supported):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_edit", args=[supported.pk]),
        {
            "statement": supported.statement,
            "details": supported.details,
            "occurred_on": "2026-05-18",
        },
        follow=True,
    )
    assert messages_of(response) == [
        "Claim saved.",
        "The claim was supported; it is back in review because its event date changed.",
    ]
    before = supported.occurred_on
    supported.refresh_from_db()
    assert supported.status == "in_review" and str(supported.occurred_on) == "2026-05-18"
    assert (
        f"The claim changed after the decision: bob changed the event date from "
        f"{before or 'none'} to 2026-05-18" in response.content.decode()
    )
