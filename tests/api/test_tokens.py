"""Tokens: issued for a password, stored hashed, expiring, revocable; sessions work too."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api import throttles
from cases.models import AccountActivity, ApiToken, Membership
from cases.services import membership_remove
from cases.tokens import token_create, user_deactivate
from tests.factories import CaseFactory, MembershipFactory

PASSWORD = "pass-word-123"  # noqa: S105 (the factories' test password)


def get_token(username, password=PASSWORD, **extra):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", **extra
    )


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_password_gives_a_token_that_is_stored_only_as_its_hash(personas):
    response = get_token("bob")
    assert response.status_code == 201
    key = response.json()["token"]
    token = ApiToken.objects.get(user=personas.reporter)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:8] == response.json()["prefix"]
    assert not ApiToken.objects.filter(key_hash=key).exists()
    # Expires after the configured lifetime (30 days by default).
    assert abs(token.expires - timezone.now() - timedelta(days=30)) < timedelta(minutes=1)
    assert with_token(key).get("/api/v1/cases/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used is not None


def test_wrong_password_or_inactive_account_gets_no_token(personas):
    assert get_token("bob", "wrong").status_code == 400
    assert get_token("nobody").status_code == 400
    personas.reporter.is_active = False
    personas.reporter.save()
    assert get_token("bob").status_code == 400
    assert not ApiToken.objects.exists()


def test_repeated_failures_lock_the_account_out_from_that_address(personas, settings):
    failures = [get_token("bob", "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert set(failures[:-1]) == {400} and failures[-1] == 429
    locked = get_token("bob")  # even the right password, now
    assert locked.status_code == 429
    assert "detail" in locked.json()
    assert not ApiToken.objects.exists()


def test_every_endpoint_but_token_creation_needs_authentication(personas):
    response = APIClient().get("/api/v1/cases/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert with_token("not-a-real-token").get("/api/v1/cases/").status_code == 401


def test_expired_token_is_refused(personas):
    token, key = token_create(user=personas.reporter)
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    response = with_token(key).get("/api/v1/cases/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_lifetime_comes_from_the_setting(personas, settings):
    settings.CASEFILE_TOKEN_TTL_DAYS = 2
    token, _ = token_create(user=personas.reporter)
    assert abs(token.expires - timezone.now() - timedelta(days=2)) < timedelta(minutes=1)


def test_logout_revokes_the_token_it_was_sent_with(personas):
    _, first = token_create(user=personas.reporter)
    _, second = token_create(user=personas.reporter)
    assert with_token(first).post("/api/v1/auth/logout/").status_code == 204
    assert with_token(first).get("/api/v1/cases/").status_code == 401
    assert with_token(second).get("/api/v1/cases/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user(personas):
    _, first = token_create(user=personas.reporter)
    _, second = token_create(user=personas.reporter)
    _, others = token_create(user=personas.editor)
    response = with_token(first).post("/api/v1/auth/logout/", {"all": True}, format="json")
    assert response.status_code == 204
    assert with_token(second).get("/api/v1/cases/").status_code == 401
    assert with_token(others).get("/api/v1/cases/").status_code == 200


def test_removal_from_the_last_case_revokes_the_tokens(personas):
    token, key = token_create(user=personas.viewer)
    membership = Membership.objects.get(case=personas.case, user=personas.viewer)
    membership_remove(actor=personas.owner, membership=membership)
    assert with_token(key).get("/api/v1/cases/").status_code == 401
    assert ApiToken.objects.get(user=personas.viewer).revoked is not None
    assert _record(personas.viewer) == [("alice", token.prefix, "no_case_left")]


def test_removal_from_one_of_several_cases_keeps_the_tokens(personas):
    MembershipFactory(case=CaseFactory(), user=personas.viewer, role="viewer")
    _, key = token_create(user=personas.viewer)
    owner = with_token(token_create(user=personas.owner)[1])
    url = f"/api/v1/cases/{personas.case.pk}/members/{personas.viewer.pk}/"
    assert owner.delete(url).status_code == 204
    assert with_token(key).get("/api/v1/cases/").status_code == 200
    assert with_token(key).get(f"/api/v1/cases/{personas.case.pk}/").status_code == 404


def _record(user, verb="token.revoked") -> list[tuple]:
    return list(
        AccountActivity.objects.filter(user=user, verb=verb)
        .order_by("id")
        .values_list("actor__username", "data__prefix", "data__reason")
    )


def test_deactivated_user_is_shut_out(personas):
    token, key = token_create(user=personas.editor)
    user_deactivate(user=personas.editor, actor=personas.owner)
    assert with_token(key).get("/api/v1/cases/").status_code == 401
    assert ApiToken.objects.get(user=personas.editor).revoked is not None
    assert _record(personas.editor, "account.deactivated") == [("alice", None, None)]
    assert _record(personas.editor) == [("alice", token.prefix, "account_deactivated")]


def test_deactivating_in_the_admin_also_shuts_tokens_out_at_their_next_request(personas):
    token, key = token_create(user=personas.editor)
    client = with_token(key)
    assert client.get("/api/v1/cases/").status_code == 200
    personas.editor.is_active = False
    personas.editor.save()
    # Checked at every request: the very next one is refused, whatever it asks for.
    assert client.get("/api/v1/cases/").status_code == 401
    assert client.get(f"/api/v1/cases/{personas.case.pk}/").status_code == 401
    assert client.post("/api/v1/auth/logout/").status_code == 401
    assert ApiToken.objects.get(user=personas.editor).revoked is not None
    # Revoked by the system, once, when the token was first presented after the deactivation.
    assert _record(personas.editor) == [(None, token.prefix, "account_deactivated")]
    # Reactivating the account does not bring the token back.
    personas.editor.is_active = True
    personas.editor.save()
    assert client.get("/api/v1/cases/").status_code == 401


def test_a_deactivated_users_browser_session_is_refused_too(personas):
    client = APIClient()
    client.force_login(personas.editor)
    assert client.get("/api/v1/cases/").status_code == 200
    personas.editor.is_active = False
    personas.editor.save()
    assert client.get("/api/v1/cases/").status_code == 401


def test_session_authentication_works_and_enforces_csrf(personas):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas.reporter)
    assert client.get(f"/api/v1/cases/{personas.case.pk}/").status_code == 200
    response = client.post("/api/v1/cases/", {"title": "No CSRF token"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.fixture
def low_rates(monkeypatch):
    rates = {"anon": "3/minute", "user": "3/minute", "login": "3/minute"}
    for throttle in (throttles.AnonThrottle, throttles.UserThrottle, throttles.LoginThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)


def test_requests_without_valid_credentials_are_throttled_per_address(db, low_rates):
    client = APIClient()
    statuses = [
        client.get("/api/v1/cases/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]
    statuses += [with_token(f"guess-{n}").get("/api/v1/cases/").status_code for n in range(2)]
    assert statuses == [401, 401, 401, 429, 429]
    assert "detail" in client.get("/api/v1/cases/").json()
    # Another address is counted on its own.
    assert client.get("/api/v1/cases/", REMOTE_ADDR="127.0.0.9").status_code == 401


def test_signed_in_clients_are_throttled_per_user(personas, low_rates):
    client = with_token(token_create(user=personas.viewer)[1])
    statuses = [
        client.get("/api/v1/cases/", REMOTE_ADDR=f"127.0.0.{n}").status_code for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert "detail" in client.get("/api/v1/cases/").json()
    other = with_token(token_create(user=personas.editor)[1])
    assert other.get("/api/v1/cases/").status_code == 200


def test_forged_forwarded_for_does_not_evade_the_password_throttle(personas, low_rates):
    statuses = [
        get_token(f"user{n}", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [400, 400, 400, 429, 429]
    # Another address is counted on its own.
    assert get_token("bob", REMOTE_ADDR="127.0.0.9").status_code == 201


def test_a_user_lists_and_revokes_their_own_tokens(personas):
    first, first_key = token_create(user=personas.reporter, name="archiver")
    _, second_key = token_create(user=personas.reporter)
    theirs, _ = token_create(user=personas.editor)
    client = with_token(second_key)
    listed = client.get("/api/v1/auth/tokens/").json()["results"]
    assert [(t["prefix"], t["current"]) for t in listed] == [
        (second_key[:8], True),
        (first_key[:8], False),
    ]
    assert listed[1]["name"] == "archiver"
    assert first_key not in str(listed) and "key_hash" not in listed[0]
    assert client.delete(f"/api/v1/auth/tokens/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{first.pk}/").status_code == 204
    assert with_token(first_key).get("/api/v1/cases/").status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{first.pk}/").status_code == 404
    assert [t["prefix"] for t in client.get("/api/v1/auth/tokens/").json()["results"]] == [
        second_key[:8]
    ]


def test_issuing_and_revoking_tokens_is_recorded_with_prefix_and_name_never_the_key(personas):
    body = {"username": "bob", "password": PASSWORD, "name": "archiver"}
    first = APIClient().post("/api/v1/auth/token/", body, format="json").json()
    second = get_token("bob").json()
    third = get_token("bob").json()
    created = AccountActivity.objects.filter(user=personas.reporter, verb="token.created")
    assert [(r.actor, r.data["prefix"], r.data["name"]) for r in created.order_by("id")] == [
        (personas.reporter, first["prefix"], "archiver"),
        (personas.reporter, second["prefix"], ""),
        (personas.reporter, third["prefix"], ""),
    ]
    assert all(r.created_at and r.data["expires"] for r in created)
    client = with_token(third["token"])
    first_id = ApiToken.objects.get(prefix=first["prefix"]).pk
    assert client.delete(f"/api/v1/auth/tokens/{first_id}/").status_code == 204
    assert with_token(second["token"]).post("/api/v1/auth/logout/").status_code == 204
    assert client.post("/api/v1/auth/logout/", {"all": True}, format="json").status_code == 204
    assert _record(personas.reporter) == [
        ("bob", first["prefix"], "revoked_by_owner"),
        ("bob", second["prefix"], "logout"),
        ("bob", third["prefix"], "logout_all"),
    ]
    revoked = AccountActivity.objects.get(data__prefix=first["prefix"], verb="token.revoked")
    assert revoked.data["name"] == "archiver" and revoked.data["token"] == first_id
    # Neither the keys nor their hashes are anywhere in the record.
    record = str(list(AccountActivity.objects.values()))
    for issued in (first, second, third):
        assert issued["token"] not in record
        assert hashlib.sha256(issued["token"].encode()).hexdigest() not in record
    # Revoking what is already revoked records nothing more.
    assert client.post("/api/v1/auth/logout/", {"all": True}, format="json").status_code == 401
    assert len(_record(personas.reporter)) == 3


def test_a_new_password_revokes_every_token_with_a_row_saying_so(personas):
    bob = personas.reporter
    first, first_key = token_create(user=bob, name="archiver")
    second, _ = token_create(user=bob, name="dashboard")
    assert with_token(first_key).get("/api/v1/cases/").status_code == 200

    # Any way a password is set (the pages, the admin, `changepassword`) saves it like this.
    bob.set_password("A-new-password-for-bob-7")
    bob.save()

    response = with_token(first_key).get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, expired or revoked token."}
    rows = AccountActivity.objects.filter(user=bob, verb="token.revoked").order_by("id")
    assert [(r.actor, r.data) for r in rows] == [
        (None, {"token": t.pk, "prefix": t.prefix, "name": t.name, "reason": "password_changed"})
        for t in (first, second)
    ]
    # A token asked for with the new password works.
    assert get_token("bob", "A-new-password-for-bob-7").status_code == 201
