"""Login brute-force protection (django-axes behind config.lockout), on both doors."""

import re

import pytest
from django.conf import settings

from config.lockout import PasswordAttemptThrottle
from tests.factories import UserFactory

PASSWORD = "pass-word-123"  # noqa: S105 - tests.factories.UserFactory's password


@pytest.fixture
def olivia(db):
    return UserFactory(username="olivia")


def web_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def api_login(client, username, password, **extra):
    return client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def fail_until_locked(login, client, username):
    answers = [
        login(client, username, "wrong password") for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    return answers, login(client, username, "wrong password")


def test_web_login_locks_out_after_repeated_failures(client, olivia):
    answers, locked = fail_until_locked(web_login, client, "olivia")
    assert [a.status_code for a in answers[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # The right password does not get in while the lockout lasts.
    assert web_login(client, "olivia", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_api_token_view_locks_out_after_repeated_failures(client, olivia):
    answers, locked = fail_until_locked(api_login, client, "olivia")
    assert {a.status_code for a in answers[:-1]} == {400}
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.json()["detail"]
    right = api_login(client, "olivia", PASSWORD)
    assert right.status_code == 429
    assert "token" not in right.json()


def test_a_lockout_on_one_door_holds_on_the_other(client, olivia):
    fail_until_locked(web_login, client, "olivia")
    assert api_login(client, "olivia", PASSWORD).status_code == 429


@pytest.mark.parametrize("login", [web_login, api_login], ids=["web", "api"])
def test_unknown_usernames_get_the_same_answers_as_real_ones(client, olivia, login):
    real_answers, real_locked = fail_until_locked(login, client, "olivia")
    unknown_answers, unknown_locked = fail_until_locked(login, client, "nobody-by-this-name")

    def shape(response):
        body = response.content.decode().replace("nobody-by-this-name", "olivia")
        # The (masked) CSRF token differs on every response; nothing else may.
        return response.status_code, re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", body)

    assert [shape(a) for a in unknown_answers] == [shape(a) for a in real_answers]
    assert shape(unknown_locked) == shape(real_locked)
    assert unknown_locked.status_code == 429


def test_lockout_is_per_address_so_one_attacker_cannot_lock_everyone_out(client, olivia):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        web_login(client, "olivia", "wrong password", REMOTE_ADDR="203.0.113.9")
    assert web_login(client, "olivia", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    response = web_login(client, "olivia", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 302


def test_a_success_clears_the_failure_count(client, olivia):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        web_login(client, "olivia", "wrong password")
    assert web_login(client, "olivia", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert web_login(client, "olivia", "wrong password").status_code == 200
    assert web_login(client, "olivia", PASSWORD).status_code == 302


def test_forged_forwarded_for_does_not_give_a_fresh_address(client, olivia, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # one proxy in front: it appends the real client address
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        web_login(
            client,
            "olivia",
            "wrong password",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.9",  # the client forged the first hop
        )
    forged_again = web_login(
        client, "olivia", PASSWORD, HTTP_X_FORWARDED_FOR="10.1.1.1, 203.0.113.9"
    )
    assert forged_again.status_code == 429


def test_the_session_id_changes_at_login(client, olivia):
    client.get("/login/")
    session = client.session
    session["before"] = "anonymous"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key

    assert web_login(client, "olivia", PASSWORD).status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert client.session["_auth_user_id"] == str(olivia.pk)


def test_the_session_expires_after_the_idle_timeout_and_each_request_extends_it(
    client, olivia, settings
):
    settings.SESSION_COOKIE_AGE = 900
    web_login(client, "olivia", PASSWORD)
    response = client.get("/login/")
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 900
    assert 0 < client.session.get_expiry_age() <= 900


@pytest.fixture
def login_rate(monkeypatch):
    monkeypatch.setattr(PasswordAttemptThrottle, "THROTTLE_RATES", {"login": "3/minute"})


def test_the_web_login_is_limited_per_address_across_usernames(client, olivia, login_rate):
    # One password tried on many accounts from one address: axes (per username) never trips.
    answers = [web_login(client, f"user{n}", "Summer2024!").status_code for n in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    locked = web_login(client, "olivia", PASSWORD)
    assert locked.status_code == 429
    assert "Too many sign-in attempts from your address" in locked.content.decode()
    assert 0 < int(locked["Retry-After"]) <= 60
    # Another address is counted on its own.
    assert web_login(client, "olivia", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_the_web_login_and_the_token_view_share_one_count_per_address(client, olivia, login_rate):
    for n in range(2):
        web_login(client, f"user{n}", "wrong")
    assert api_login(client, "user9", "wrong").status_code == 400
    assert api_login(client, "olivia", PASSWORD).status_code == 429
    assert web_login(client, "olivia", PASSWORD).status_code == 429
