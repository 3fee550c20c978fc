"""Claims through the API: a change to a decided claim's evidence sends it back to review."""

import pytest

from cases.services import claim_create, claim_review, claim_submit
from evidence.services.links import evidence_link
from tests.api.conftest import token_client
from tests.factories import LinkEvidenceFactory

pytestmark = pytest.mark.django_db


def decided_claim(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    evidence = LinkEvidenceFactory(case=personas.case, title="Dandong station, 25 May")
    link = evidence_link(actor=personas.reporter, claim=claim, evidence=evidence, stance="supports")
    claim_submit(actor=personas.reporter, claim=claim)
    claim_review(actor=personas.editor, claim=claim, decision="supported", note="Two photos")
    return claim, link


def api_change(kind, personas, claim, link):
    """Change the claim's evidence through the API; return the response and who made it."""
    if kind == "link":
        other = LinkEvidenceFactory(case=personas.case, title="April media report")
        client, body = token_client(personas.reporter), {"evidence": other.pk, "stance": "context"}
        return client.post(f"/api/v1/claims/{claim.pk}/links/", body, format="json"), "bob"
    if kind == "stance":
        client = token_client(personas.reporter)
        body = {"stance": "contradicts"}
        return client.patch(f"/api/v1/links/{link.pk}/", body, format="json"), "bob"
    if kind == "unlink":
        return token_client(personas.reporter).delete(f"/api/v1/links/{link.pk}/"), "bob"
    if kind == "delete":
        client, body = token_client(personas.editor), {"reason": "Wrong train"}
        url = f"/api/v1/evidence/{link.evidence_id}/"
        return client.delete(url, body, format="json"), "erin"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["link", "stance", "unlink", "delete"])
def test_a_decided_claim_is_back_in_review_after_its_evidence_changes(personas, kind):
    claim, link = decided_claim(personas)
    response, who = api_change(kind, personas, claim, link)
    assert response.status_code in (200, 201, 204), response.content
    viewer = token_client(personas.viewer)
    body = viewer.get(f"/api/v1/claims/{claim.pk}/").json()
    assert (body["status"], body["reviewer"], body["review_note"]) == ("in_review", None, "")
    history = viewer.get(f"/api/v1/claims/{claim.pk}/history/").json()["results"]
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("draft", "in_review", "bob"),
        ("in_review", "supported", "erin"),
        ("supported", "in_review", who),
    ]
    assert history[-1]["note"].startswith("Evidence changed after the decision: ")
    # It needs a fresh decision, by an editor who did not write it.
    review = token_client(personas.editor).post(
        f"/api/v1/claims/{claim.pk}/review/",
        {"decision": "unverified", "note": "Looked again"},
        format="json",
    )
    assert review.status_code == 200 and review.json()["status"] == "unverified"


def test_a_linked_draft_stays_a_draft(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    evidence = LinkEvidenceFactory(case=personas.case)
    client = token_client(personas.reporter)
    body = {"evidence": evidence.pk, "stance": "supports"}
    assert client.post(f"/api/v1/claims/{claim.pk}/links/", body, format="json").status_code == 201
    assert client.get(f"/api/v1/claims/{claim.pk}/").json()["status"] == "draft"
    assert client.get(f"/api/v1/claims/{claim.pk}/history/").json()["results"] == []


def test_a_refused_link_leaves_the_decision(personas):
    claim, link = decided_claim(personas)
    body = {"evidence": link.evidence_id, "stance": "contradicts"}
    response = token_client(personas.reporter).post(
        f"/api/v1/claims/{claim.pk}/links/", body, format="json"
    )
    assert response.status_code == 400
    viewer = token_client(personas.viewer)
    assert viewer.get(f"/api/v1/claims/{claim.pk}/").json()["status"] == "supported"
