"""The webhooks API: owners list, add, change and remove a case's webhooks and read their
delivery log; everyone else is refused (403 for members, 404 for outsiders)."""

import pytest

from evidence import webhooks
from evidence.models import Webhook, WebhookDelivery
from evidence.services.comments import comment_create
from tests.factories import ClaimFactory
from tests.webhook_receiver import receiver_start


@pytest.fixture
def receiver(settings):
    receiver = receiver_start()
    settings.CASEFILE_WEBHOOK_ALLOW_HOSTS = receiver.allow
    yield receiver
    receiver.stop()


def test_owner_adds_a_webhook_and_sees_its_secret_once(personas, as_role, receiver):
    client = as_role("owner")
    url = f"/api/v1/cases/{personas.case.pk}/webhooks/"
    response = client.post(
        url, {"url": receiver.url, "events": ["claim.reviewed", "comment.created"]}, format="json"
    )
    assert response.status_code == 201, response.content
    hook = Webhook.objects.get()
    body = response.json()
    assert body == {
        "id": hook.pk,
        "url": receiver.url,
        "events": ["claim.reviewed", "comment.created"],
        "active": True,
        "disabled_at": None,
        "disabled_reason": "",
        "failures_in_row": 0,
        "created_at": body["created_at"],
        "secret": hook.secret,
    }
    assert len(hook.secret) == 64
    listed = client.get(url).json()
    assert listed["count"] == 1
    assert "secret" not in listed["results"][0]
    assert "secret" not in client.get(f"{url}{hook.pk}/").json()


def test_private_addresses_and_unknown_events_are_400(personas, as_role):
    client = as_role("owner")
    url = f"/api/v1/cases/{personas.case.pk}/webhooks/"
    response = client.post(url, {"url": "http://192.168.1.5/x", "events": ["claim.reviewed"]})
    assert response.status_code == 400
    assert "not on the public internet" in response.json()["url"][0]
    response = client.post(
        url, {"url": "https://example.org/x", "events": ["case.gone"]}, format="json"
    )
    assert response.status_code == 400
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(("role", "code"), [("editor", 403), ("reporter", 403), ("viewer", 403)])
def test_members_below_owner_are_refused(personas, as_role, receiver, role, code):
    hook = webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=["claim.reviewed"]
    )
    client = as_role(role)
    base = f"/api/v1/cases/{personas.case.pk}/webhooks/"
    assert client.get(base).status_code == code
    assert client.post(base, {"url": receiver.url, "events": ["claim.reviewed"]}).status_code == (
        code
    )
    assert client.get(f"{base}{hook.pk}/").status_code == code
    assert client.get(f"{base}{hook.pk}/deliveries/").status_code == code
    assert client.delete(f"{base}{hook.pk}/").status_code == code
    assert client.get(base).json()["detail"] == (
        "To see webhooks and their deliveries you need the owner role in this case."
    )


def test_outsiders_get_404(personas, client_for, receiver):
    hook = webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=["claim.reviewed"]
    )
    client = client_for(personas.outsider)
    base = f"/api/v1/cases/{personas.case.pk}/webhooks/"
    for path in (base, f"{base}{hook.pk}/", f"{base}{hook.pk}/deliveries/"):
        assert client.get(path).status_code == 404
    assert client.delete(f"{base}{hook.pk}/").status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


def test_a_webhook_of_another_case_is_404(personas, as_role, client_for, receiver):
    theirs = personas.outsider.memberships.get().case
    hook = webhooks.webhook_create(
        actor=personas.outsider, case=theirs, url=receiver.url, events=["claim.reviewed"]
    )
    response = as_role("owner").get(f"/api/v1/cases/{personas.case.pk}/webhooks/{hook.pk}/")
    assert response.status_code == 404


def test_delivery_log_patch_and_delete(personas, as_role, receiver):
    hook = webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=["comment.created"]
    )
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    delivery = WebhookDelivery.objects.get()
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    client = as_role("owner")
    base = f"/api/v1/cases/{personas.case.pk}/webhooks/{hook.pk}/"
    log = client.get(f"{base}deliveries/").json()
    assert log["count"] == 1
    row = log["results"][0]
    assert (row["id"], row["event"], row["status"], row["response_code"], row["attempts"]) == (
        delivery.pk,
        "comment.created",
        "delivered",
        200,
        1,
    )
    response = client.patch(base, {"active": False}, format="json")
    assert response.status_code == 200 and response.json()["active"] is False
    response = client.patch(base, {"active": True, "events": ["claim.reviewed"]}, format="json")
    assert response.json()["active"] is True and response.json()["events"] == ["claim.reviewed"]
    assert client.delete(base).status_code == 204
    assert not Webhook.objects.exists()
    assert client.get(base).status_code == 404


def test_a_read_token_cannot_add_a_webhook(personas, receiver):
    from rest_framework.test import APIClient

    from cases.tokens import token_create

    _, key = token_create(user=personas.owner, scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    base = f"/api/v1/cases/{personas.case.pk}/webhooks/"
    response = client.post(base, {"url": receiver.url, "events": ["claim.reviewed"]})
    assert response.status_code == 403
    # Reading the list is a read: allowed.
    assert client.get(base).status_code == 200
