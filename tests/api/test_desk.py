"""The desk's API: notifications, assignments and the review inbox."""

from cases.services import claim_create, claim_review, claim_submit
from evidence.models import Notification
from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_create
from evidence.services.links import evidence_link
from evidence.services.sources import source_create
from tests.api.conftest import token_client


def test_notifications_list_and_read(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    comment_create(actor=personas.reporter, claim=claim, text="@victor look")
    client = token_client(personas.viewer)
    body = client.get("/api/v1/notifications/").json()
    (row,) = body["results"]
    n = Notification.objects.get()
    assert body["count"] == 1
    assert row == {
        "id": n.pk,
        "kind": "mention",
        "case": personas.case.pk,
        "case_title": personas.case.title,
        "text": "bob mentioned you in a comment on the claim “Never left”",
        "path": f"/claims/{claim.pk}/",
        "actor": "bob",
        "created_at": row["created_at"],
        "read": False,
    }
    assert client.get("/api/v1/notifications/?unread=true").json()["count"] == 1
    # Someone else's notifications are not one's to read.
    other = token_client(personas.editor).post(
        "/api/v1/notifications/read/", {"ids": [n.pk]}, format="json"
    )
    assert other.json() == {"marked": 0, "unread": 0}
    response = client.post("/api/v1/notifications/read/", {"ids": [n.pk]}, format="json")
    assert response.json() == {"marked": 1, "unread": 0}
    assert client.get("/api/v1/notifications/?unread=true").json()["count"] == 0
    assert (
        token_client(personas.viewer)
        .post("/api/v1/notifications/read/", {"ids": ["x"]}, format="json")
        .status_code
        == 400
    )


def test_notifications_need_a_signed_in_user(client):
    assert client.get("/api/v1/notifications/").status_code in (401, 403)


def test_assign_a_claim_by_api_roles_and_outsiders(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    url = f"/api/v1/claims/{claim.pk}/assign/"
    reporter = token_client(personas.reporter)
    assert reporter.post(url, {"assignee": "erin"}, format="json").json() == {"assignee": "erin"}
    assert Notification.objects.filter(recipient=personas.editor, claim=claim).exists()
    assert reporter.post(url, {"assignee": "charlie"}, format="json").status_code == 400
    assert reporter.post(url, {"assignee": "nobody-here"}, format="json").status_code == 400
    assert (
        token_client(personas.viewer).post(url, {"assignee": "erin"}, format="json").status_code
        == 403
    )
    assert (
        token_client(personas.outsider).post(url, {"assignee": "erin"}, format="json").status_code
        == 404
    )
    assert reporter.post(url, {"assignee": None}, format="json").json() == {"assignee": None}


def test_the_review_inbox_lists_claims_in_review_oldest_first_with_corroboration(personas):
    falcon = source_create(
        actor=personas.editor,
        case=personas.case,
        kind="person",
        name="Li Ming",
        protected=True,
        pseudonym="Falcon",
    )
    told = evidence_create(
        actor=personas.reporter, case=personas.case, kind="testimony", source=falcon, text="Yes."
    )
    first = claim_create(actor=personas.reporter, case=personas.case, statement="First")
    second = claim_create(actor=personas.reporter, case=personas.case, statement="Second")
    own = claim_create(actor=personas.editor, case=personas.case, statement="Erin's own")
    evidence_link(actor=personas.reporter, claim=first, evidence=told, stance="supports")
    for claim in (first, second):
        claim_submit(actor=personas.reporter, claim=claim)
    claim_submit(actor=personas.editor, claim=own)
    body = token_client(personas.editor).get("/api/v1/review/").json()
    assert [row["statement"] for row in body] == ["First", "Second"]
    assert body[0]["corroboration"]["warnings"] == [
        "All support comes from protected source Li Ming."
    ]
    assert body[0]["author"] == "bob" and body[0]["assignee"] is None
    # The owner sees Erin's claim too; a reporter and a viewer review nothing.
    owner = token_client(personas.owner).get("/api/v1/review/").json()
    assert [row["statement"] for row in owner] == ["First", "Second", "Erin's own"]
    assert token_client(personas.viewer).get("/api/v1/review/").json() == []
    assert token_client(personas.outsider).get("/api/v1/review/").json() == []


def test_notifications_of_the_review_flow_by_api(personas):
    claim = claim_create(actor=personas.reporter, case=personas.case, statement="Never left")
    item = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/"
    )
    evidence_link(actor=personas.reporter, claim=claim, evidence=item, stance="supports")
    claim_submit(actor=personas.reporter, claim=claim)
    (row,) = token_client(personas.editor).get("/api/v1/notifications/").json()["results"]
    assert (row["kind"], row["text"], row["path"], row["actor"]) == (
        "submitted",
        "bob submitted the claim “Never left” for review",
        f"/claims/{claim.pk}/",
        "bob",
    )
    assert token_client(personas.viewer).get("/api/v1/notifications/").json()["count"] == 0
    claim_review(actor=personas.editor, claim=claim, decision="supported", note="Seen")
    body = token_client(personas.reporter).get("/api/v1/notifications/").json()
    assert [(r["kind"], r["text"]) for r in body["results"]] == [
        ("reviewed", "erin marked your claim “Never left” supported")
    ]
