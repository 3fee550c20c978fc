"""The admin's API token pages: listed, read-only, revocable (recorded), never added or deleted."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import AccountActivity, ApiToken
from cases.tokens import token_create
from tests.factories import UserFactory


@pytest.fixture
def admin_client(db) -> Client:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_tokens_are_listed_with_user_name_dates_and_no_key(admin_client, personas):
    token, key = token_create(user=personas.reporter, name="archiver")
    response = admin_client.get(reverse("admin:cases_apitoken_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert token.prefix in page and "bob" in page and "archiver" in page
    assert key not in page and token.key_hash not in page


def test_a_token_page_shows_its_hash_read_only_and_cannot_be_saved_changed(admin_client, personas):
    token, key = token_create(user=personas.reporter, name="archiver")
    url = reverse("admin:cases_apitoken_change", args=[token.pk])
    page = admin_client.get(url).content.decode()
    assert token.key_hash in page and key not in page
    assert 'name="key_hash"' not in page and 'name="name"' not in page
    admin_client.post(url, {"name": "renamed", "key_hash": "0" * 64, "revoked": ""})
    assert ApiToken.objects.get(pk=token.pk).key_hash == token.key_hash
    assert ApiToken.objects.get(pk=token.pk).name == "archiver"


def test_tokens_cannot_be_added_or_deleted_in_the_admin(admin_client, personas):
    token, _ = token_create(user=personas.reporter)
    assert admin_client.get(reverse("admin:cases_apitoken_add")).status_code == 403
    url = reverse("admin:cases_apitoken_delete", args=[token.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_the_revoke_action_shuts_the_tokens_out_and_records_the_administrator(
    admin_client, personas
):
    first, first_key = token_create(user=personas.reporter, name="archiver")
    second, _ = token_create(user=personas.editor)
    kept, kept_key = token_create(user=personas.reporter)
    response = admin_client.post(
        reverse("admin:cases_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert "Revoked 2 token(s)" in response.content.decode()
    assert set(ApiToken.objects.filter(revoked__isnull=False).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first_key}")
    assert client.get("/api/v1/cases/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {kept_key}")
    assert client.get("/api/v1/cases/").status_code == 200
    rows = AccountActivity.objects.filter(verb="token.revoked")
    assert {(r.user, r.actor.username, r.data["prefix"], r.data["reason"]) for r in rows} == {
        (personas.reporter, "root", first.prefix, "revoked_in_admin"),
        (personas.editor, "root", second.prefix, "revoked_in_admin"),
    }
    # Running it again on a revoked token changes and records nothing.
    admin_client.post(
        reverse("admin:cases_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [first.pk]},
    )
    assert AccountActivity.objects.filter(verb="token.revoked").count() == 2


def test_the_account_record_is_read_only_in_the_admin(admin_client, personas):
    token_create(user=personas.reporter)
    row = AccountActivity.objects.get()
    assert admin_client.get(reverse("admin:cases_accountactivity_changelist")).status_code == 200
    url = reverse("admin:cases_accountactivity_change", args=[row.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"verb": "nothing.happened"})
    assert AccountActivity.objects.get().verb == "token.created"
    delete = reverse("admin:cases_accountactivity_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
