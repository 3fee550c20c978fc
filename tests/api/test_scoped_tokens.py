"""Scoped tokens: a token names its cases and its scope, and an expiry chosen at creation;
it narrows its user's role in each case, never widens it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import AccountActivity, ApiToken, Role
from tests.api.test_tokens import PASSWORD, with_token
from tests.factories import CaseFactory, LinkEvidenceFactory, MembershipFactory


def get_token(username, **fields):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": PASSWORD, **fields},
        format="json",
    )


LINK = {"kind": "link", "url": "https://example.org/a", "title": "A page"}


@pytest.fixture
def second_case(personas):
    """A second case Bob (a reporter in the shared case) is a reporter in too."""
    case = CaseFactory(title="Second case", created_by=personas.owner)
    MembershipFactory(case=case, user=personas.owner, role=Role.OWNER)
    MembershipFactory(case=case, user=personas.reporter, role=Role.REPORTER)
    return case


def test_token_limited_to_one_case_gets_404_on_another_and_403_on_a_write(personas, second_case):
    response = get_token("bob", cases=[personas.case.pk], scope="read", expires_in=3600)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["scope"] == "read" and body["cases"] == [personas.case.pk]
    client = with_token(body["token"])
    # Its own case: readable.
    assert client.get(f"/api/v1/cases/{personas.case.pk}/evidence/").status_code == 200
    # Another case of the same user: as for a non-member.
    for path in ("", "evidence/", "claims/", "sources/", "activity/"):
        assert client.get(f"/api/v1/cases/{second_case.pk}/{path}").status_code == 404, path
    other = LinkEvidenceFactory(case=second_case)
    assert client.get(f"/api/v1/evidence/{other.pk}/").status_code == 404
    assert (
        client.post(f"/api/v1/cases/{second_case.pk}/evidence/", LINK, format="json").status_code
        == 404
    )
    # The case list shows only the token's case.
    listed = client.get("/api/v1/cases/").json()["results"]
    assert [case["id"] for case in listed] == [personas.case.pk]
    # A write in its own case, which Bob's role allows: refused for the token's scope.
    response = client.post(f"/api/v1/cases/{personas.case.pk}/evidence/", LINK, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "This API token may only read (its scope is read): "
        "make a token with the write scope."
    }
    assert client.post("/api/v1/cases/", {"title": "New"}, format="json").status_code == 403


def test_write_token_for_one_case_writes_there_within_the_users_role(personas, second_case):
    key = get_token("bob", cases=[personas.case.pk], scope="write").json()["token"]
    client = with_token(key)
    response = client.post(f"/api/v1/cases/{personas.case.pk}/evidence/", LINK, format="json")
    assert response.status_code == 201
    # Never more than the role: a reporter's token still cannot review or delete.
    evidence_id = response.json()["id"]
    response = client.delete(f"/api/v1/evidence/{evidence_id}/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert "editor role" in response.json()["detail"]
    # A token limited to cases cannot open new ones.
    response = client.post("/api/v1/cases/", {"title": "New"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("This API token is limited to some cases")
    assert client.get(f"/api/v1/cases/{second_case.pk}/").status_code == 404


def test_token_for_all_cases_reaches_every_case_and_may_open_one(personas, second_case):
    key = get_token("bob").json()["token"]
    client = with_token(key)
    assert client.get(f"/api/v1/cases/{second_case.pk}/").status_code == 200
    assert client.get(f"/api/v1/cases/{personas.case.pk}/").status_code == 200
    assert client.post("/api/v1/cases/", {"title": "New"}, format="json").status_code == 201


def test_several_cases(personas, second_case):
    body = get_token("bob", cases=[second_case.pk, personas.case.pk]).json()
    assert body["cases"] == sorted([second_case.pk, personas.case.pk])
    client = with_token(body["token"])
    listed = {case["id"] for case in client.get("/api/v1/cases/").json()["results"]}
    assert listed == {second_case.pk, personas.case.pk}


def test_a_token_cannot_name_a_case_its_user_is_not_in(personas):
    outsiders_case = personas.outsider.memberships.get().case
    response = get_token("bob", cases=[outsiders_case.pk])
    assert response.status_code == 400
    assert response.json() == {
        "cases": [f"You are not a member of a case with id {outsiders_case.pk}."]
    }
    assert get_token("bob", cases=[]).status_code == 400
    assert not ApiToken.objects.filter(user=personas.reporter).exists()


def test_bad_scope_and_expiry_are_refused(personas, settings):
    settings.CASEFILE_TOKEN_TTL_DAYS = 7
    assert get_token("bob", scope="admin").status_code == 400
    response = get_token("bob", expires_in=8 * 86400)
    assert response.status_code == 400
    assert "7 days" in response.json()["expires_in"][0]
    assert get_token("bob", expires_in=10).status_code == 400
    assert get_token("bob", expires_in="soon").status_code == 400
    assert not ApiToken.objects.filter(user=personas.reporter).exists()


def test_expiry_is_chosen_at_creation_and_enforced(personas):
    response = get_token("bob", expires_in=3600)
    token = ApiToken.objects.get(user=personas.reporter)
    assert abs(token.expires - timezone.now() - timedelta(hours=1)) < timedelta(minutes=1)
    client = with_token(response.json()["token"])
    assert client.get("/api/v1/cases/").status_code == 200
    # An hour later (the clock moved by moving the expiry back an hour):
    ApiToken.objects.filter(pk=token.pk).update(expires=token.expires - timedelta(hours=1))
    assert client.get("/api/v1/cases/").status_code == 401


def test_read_token_may_read_what_the_role_reads_but_not_export(personas):
    key = get_token("erin", scope="read").json()["token"]
    client = with_token(key)
    assert client.get(f"/api/v1/cases/{personas.case.pk}/exports/").status_code == 200
    response = client.post(f"/api/v1/cases/{personas.case.pk}/exports/", {}, format="json")
    assert response.status_code == 403


def test_the_token_list_shows_scope_and_cases_and_the_record_says_them(personas):
    key = get_token("bob", cases=[personas.case.pk], scope="read", name="ci").json()["token"]
    listed = with_token(key).get("/api/v1/auth/tokens/").json()["results"]
    assert [(t["name"], t["scope"], t["cases"], t["current"]) for t in listed] == [
        ("ci", "read", [personas.case.pk], True)
    ]
    row = AccountActivity.objects.get(user=personas.reporter, verb="token.created")
    assert row.data["scope"] == "read" and row.data["cases"] == [personas.case.pk]
    assert key not in str(row.data)


def test_a_session_is_not_narrowed(personas, client):
    client.force_login(personas.reporter)
    response = client.get(f"/api/v1/cases/{personas.case.pk}/")
    assert response.status_code == 200
