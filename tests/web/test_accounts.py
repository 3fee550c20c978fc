"""Accounts on the web: changing a password, resetting a forgotten one by email (Django's own
views, our templates), and what a new password ends (other sessions, every API token)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from cases.models import AccountActivity, ApiToken
from cases.tokens import token_create
from tests.factories import UserFactory
from tests.web.test_errors import assert_csp_clean

OLD = "pass-word-123"  # tests.factories.UserFactory's password  # noqa: S105
NEW = "Tarpaulins-over-Dandong-25"  # noqa: S105


@pytest.fixture
def olivia(db):
    return UserFactory(username="olivia", email="olivia@example.org")


def test_a_forgotten_password_is_reset_by_email_end_to_end(client, olivia):
    _, key = token_create(user=olivia)
    page = client.get(reverse("web:login"))
    assert reverse("web:password_reset") in page.content.decode()

    sent = client.post(reverse("web:password_reset"), {"email": "olivia@example.org"})
    assert sent.status_code == 302 and sent["Location"] == reverse("web:password_reset_done")
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["olivia@example.org"]
    assert email.subject == "Set a new Casefile password"
    link = re.search(r"http://testserver(/password/reset/\S+/)", email.body).group(1)

    form = client.get(link, follow=True)  # Django moves the token into the session first
    assert form.status_code == 200
    html = form.content.decode()
    assert "Set a new password" in html and 'name="new_password1"' in html
    assert_csp_clean(html)
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("web:password_reset_complete")

    assert client.login(username="olivia", password=OLD) is False
    signed_in = client.post(reverse("web:login"), {"username": "olivia", "password": NEW})
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(olivia.pk)
    # The link works once.
    client.logout()
    assert "does not work any more" in client.get(link, follow=True).content.decode()
    # The API token from before the reset is revoked, and the account's record says why.
    assert ApiToken.objects.get(user=olivia).revoked is not None
    assert client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    row = AccountActivity.objects.filter(user=olivia, verb="token.revoked").get()
    assert row.data["reason"] == "password_changed"


def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(client, olivia):
    response = client.post(reverse("web:password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "web:password_reset_done"
    )
    assert mail.outbox == []


def test_a_signed_in_user_changes_their_password(client, olivia):
    client.force_login(olivia)
    token_create(user=olivia)
    page = client.get(reverse("web:password_change"))
    assert page.status_code == 200
    assert_csp_clean(page.content.decode())

    wrong = client.post(
        reverse("web:password_change"),
        {"old_password": "not it", "new_password1": NEW, "new_password2": NEW},
    )
    assert wrong.status_code == 200
    assert "Your old password was entered incorrectly" in wrong.content.decode()

    changed = client.post(
        reverse("web:password_change"),
        {"old_password": OLD, "new_password1": NEW, "new_password2": NEW},
    )
    assert changed.status_code == 302
    assert changed["Location"] == reverse("web:password_change_done")
    # This session goes on; the tokens do not.
    assert client.get(reverse("web:case_list")).status_code == 200
    assert not ApiToken.objects.filter(user=olivia, revoked__isnull=True).exists()
    olivia.refresh_from_db()
    assert olivia.check_password(NEW)


def test_the_password_pages_need_a_sign_in(client):
    response = client.get(reverse("web:password_change"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
