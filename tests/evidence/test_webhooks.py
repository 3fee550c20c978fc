"""Webhooks: events from the activity record, signed deliveries to a receiver the test runs,
the address rules, retries with backoff, disabling, and payloads that carry no protected
identity."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from cases.activity import Verb
from cases.models import Activity, Role
from cases.services import claim_submit
from evidence import webhooks
from evidence.models import Notification, Webhook, WebhookDelivery
from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_create
from evidence.services.notifications import notification_settings_update, notifications_email
from evidence.services.recovery import jobs_recover
from tests.factories import ClaimFactory, MembershipFactory, ProtectedSourceFactory, UserFactory
from tests.webhook_receiver import receiver_start

ALL = list(webhooks.EVENTS)


@pytest.fixture
def receiver(settings):
    receiver = receiver_start()
    settings.CASEFILE_WEBHOOK_ALLOW_HOSTS = receiver.allow
    settings.CASEFILE_WEBHOOK_TIMEOUT_SECONDS = 2
    yield receiver
    receiver.stop()


@pytest.fixture
def hook(personas, receiver):
    return webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=ALL
    )


def _deliver_all(now=None) -> list[str]:
    return [
        webhooks.webhook_deliver(delivery_id=pk, now=now)
        for pk in WebhookDelivery.objects.order_by("id").values_list("pk", flat=True)
    ]


def test_only_owners_manage_webhooks(personas, receiver):
    for role in ("editor", "reporter", "viewer"):
        with pytest.raises(PermissionDenied, match="owner role"):
            webhooks.webhook_create(
                actor=personas.by_role(role), case=personas.case, url=receiver.url, events=ALL
            )
    with pytest.raises(Http404):
        webhooks.webhook_create(
            actor=personas.outsider, case=personas.case, url=receiver.url, events=ALL
        )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/x", "not on the public internet"),
        ("http://10.1.2.3/x", "not on the public internet"),
        ("http://169.254.169.254/latest/meta-data/", "not on the public internet"),
        ("http://[::1]:8000/", "not on the public internet"),
        ("http://localhost:8000/", "not on the public internet"),
        ("ftp://example.org/", "Only http and https"),
        ("not a url", "Only http and https"),
    ],
)
def test_a_webhook_to_a_private_address_is_refused(personas, url, message):
    with pytest.raises(ValidationError) as refused:
        webhooks.webhook_create(actor=personas.owner, case=personas.case, url=url, events=ALL)
    assert message in str(refused.value.message_dict["url"])
    assert not Webhook.objects.exists()


def test_unknown_events_are_refused(personas, receiver):
    with pytest.raises(ValidationError, match="Unknown event"):
        webhooks.webhook_create(
            actor=personas.owner, case=personas.case, url=receiver.url, events=["case.deleted"]
        )


def test_an_address_that_turned_private_is_refused_at_delivery(personas, hook, receiver, settings):
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="Hi")
    settings.CASEFILE_WEBHOOK_ALLOW_HOSTS = ""  # the receiver is on 127.0.0.1
    assert _deliver_all() == ["pending"]
    delivery = WebhookDelivery.objects.get()
    assert "not on the public internet" in delivery.error
    assert receiver.requests == []


def test_events_are_signed_deliveries_that_the_receiver_can_verify(personas, hook, receiver):
    claim = ClaimFactory(case=personas.case, author=personas.reporter)
    claim_submit(actor=personas.reporter, claim=claim)
    comment_create(actor=personas.reporter, claim=claim, text="The cars were empty")
    assert list(WebhookDelivery.objects.order_by("id").values_list("event", flat=True)) == [
        "claim.submitted",
        "comment.created",
    ]
    assert _deliver_all() == ["delivered", "delivered"]
    first, second = receiver.requests
    assert first.path == "/hook?x=1"
    for received in (first, second):
        timestamp = received.headers["X-Casefile-Timestamp"]
        header = received.headers["X-Casefile-Signature"]
        assert webhooks.signature_valid(hook.secret, timestamp, received.body, header)
        assert not webhooks.signature_valid("wrong", timestamp, received.body, header)
        assert not webhooks.signature_valid(hook.secret, timestamp, received.body + b" ", header)
        # A replay an hour later is refused for its timestamp.
        late = int(timestamp) + 3600
        assert not webhooks.signature_valid(hook.secret, timestamp, received.body, header, now=late)
    body = json.loads(first.body)
    submitted = Activity.objects.get(verb=Verb.CLAIM_SUBMITTED)
    delivery = WebhookDelivery.objects.get(event="claim.submitted")
    assert body == {
        "delivery": delivery.pk,
        "attempt": 1,
        "event": "claim.submitted",
        "event_id": submitted.pk,
        "occurred_at": submitted.created_at.isoformat(),
        "case": {"id": personas.case.pk, "title": personas.case.title},
        "actor": "bob",
        "object": {
            "type": "claim",
            "id": claim.pk,
            "statement": claim.statement,
            "status": "in_review",
        },
    }
    assert first.headers["X-Casefile-Event"] == "claim.submitted"
    comment = json.loads(second.body)["object"]
    # Never the comment's text.
    assert comment == {
        "type": "comment",
        "id": comment["id"],
        "on": {"type": "claim", "id": claim.pk},
        "author": "bob",
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)


def test_payloads_never_carry_a_protected_identity(personas, hook, receiver):
    falcon = ProtectedSourceFactory(
        case=personas.case, name="Kim Jae-won", pseudonym="Falcon", notes="Lives in Dandong"
    )
    evidence_create(
        actor=personas.owner,
        case=personas.case,
        kind="testimony",
        source=falcon,
        text="I saw the train at 14:00",
        title="Falcon's account",
        place_name="Dandong station",
        latitude=40.1,
        longitude=124.4,
    )
    assert _deliver_all() == ["delivered"]
    raw = receiver.requests[0].body.decode()
    for secret in ("Kim Jae-won", "Lives in Dandong", "Dandong station", "40.1", "14:00"):
        assert secret not in raw
    obj = json.loads(raw)["object"]
    assert obj["source"] == {"id": falcon.pk, "label": "Falcon"}
    assert obj["kind"] == "testimony" and obj["title"] == "Falcon's account"


def test_only_subscribed_events_and_active_webhooks_get_deliveries(personas, receiver):
    webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=["claim.reviewed"]
    )
    off = webhooks.webhook_create(
        actor=personas.owner, case=personas.case, url=receiver.url, events=ALL
    )
    webhooks.webhook_update(actor=personas.owner, webhook=off, active=False)
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert not WebhookDelivery.objects.exists()


def test_failures_are_retried_with_backoff_then_fail_and_the_webhook_is_disabled(
    personas, hook, receiver, settings
):
    settings.CASEFILE_WEBHOOK_MAX_ATTEMPTS = 3
    settings.CASEFILE_WEBHOOK_BACKOFF_SECONDS = 10
    settings.CASEFILE_WEBHOOK_DISABLE_AFTER = 2
    receiver.status = 500
    claim = ClaimFactory(case=personas.case)
    comment_create(actor=personas.reporter, claim=claim, text="one")
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    assert webhooks.webhook_deliver(delivery_id=delivery.pk, now=now) == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (1, 500)
    assert delivery.error == "The receiver answered 500."
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=9) < wait <= timedelta(seconds=11.1)
    # Not due yet: nothing is sent.
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "skipped"
    assert len(receiver.requests) == 1
    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk, now=later) == "pending"
    delivery.refresh_from_db()
    # The second wait doubles.
    assert delivery.next_attempt_at - later > timedelta(seconds=18)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at) == (
        "failed"
    )
    assert len(receiver.requests) == 3
    hook.refresh_from_db()
    assert hook.active and hook.failures_in_row == 1
    # A second delivery failing for good disables the webhook and tells the owner.
    settings.CASEFILE_WEBHOOK_MAX_ATTEMPTS = 1
    comment_create(actor=personas.reporter, claim=claim, text="two")
    second = WebhookDelivery.objects.order_by("-id").first()
    with pytest.MonkeyPatch.context():
        assert webhooks.webhook_deliver(delivery_id=second.pk) == "failed"
    hook.refresh_from_db()
    assert not hook.active and hook.disabled_at is not None
    assert "2 deliveries in a row failed" in hook.disabled_reason
    row = Activity.objects.get(verb=Verb.WEBHOOK_DISABLED)
    assert row.data == {"host": "127.0.0.1", "failures": 2}
    # No more deliveries for a disabled webhook.
    comment_create(actor=personas.reporter, claim=claim, text="three")
    assert WebhookDelivery.objects.count() == 2


def test_the_owners_are_notified_by_their_choice_when_a_webhook_is_disabled(
    personas, hook, receiver, settings
):
    settings.CASEFILE_WEBHOOK_MAX_ATTEMPTS = 1
    settings.CASEFILE_WEBHOOK_DISABLE_AFTER = 1
    # A second owner who wants no email; the editor, a member but no owner, hears nothing.
    second = UserFactory(username="olga")
    MembershipFactory(case=personas.case, user=second, role=Role.OWNER)
    notification_settings_update(user=personas.owner, email="immediate")
    notification_settings_update(user=second, email="off")
    receiver.status = 404
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert _deliver_all() == ["failed"]
    rows = Notification.objects.filter(kind=Notification.Kind.WEBHOOK_DISABLED)
    assert sorted(rows.values_list("recipient__username", flat=True)) == ["alice", "olga"]
    assert {n.webhook_id for n in rows} == {hook.pk} and {n.actor_id for n in rows} == {None}
    # Sent by the notifications' email, as each owner chose: alice at once, olga never.
    assert mail.outbox == []
    assert notifications_email() == 1
    assert [message.to for message in mail.outbox] == [["alice@example.org"]]
    assert mail.outbox[0].subject == "Casefile: a webhook disabled"
    assert (
        "The webhook to 127.0.0.1 was disabled: its deliveries kept failing" in mail.outbox[0].body
    )
    assert f"/cases/{personas.case.pk}/webhooks/{hook.pk}/" in mail.outbox[0].body
    # The host only: not the address's port, path or query.
    assert f":{receiver.port}" not in mail.outbox[0].body and "x=1" not in mail.outbox[0].body


def test_a_redirect_is_not_followed(personas, hook, receiver):
    receiver.status = 302
    receiver.location = "http://169.254.169.254/latest/"
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert _deliver_all() == ["pending"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.response_code == 302
    assert "redirects are not followed" in delivery.error
    assert len(receiver.requests) == 1


def test_a_large_answer_is_read_only_up_to_the_cap(personas, hook, receiver):
    receiver.body = b"x" * (webhooks.RESPONSE_CAP * 4)
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert _deliver_all() == ["delivered"]


def test_an_unreachable_receiver_is_a_failed_attempt_not_an_error(personas, hook, receiver):
    receiver.stop()
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert _deliver_all() == ["pending"]
    assert WebhookDelivery.objects.get().error.startswith("Could not deliver")


def test_recovery_sends_the_deliveries_that_are_due(personas, hook, receiver):
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    done = jobs_recover()
    # Eager tasks in tests: sending it is delivering it.
    assert done.webhooks == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(receiver.requests) == 1


def test_a_second_attempt_of_a_delivered_event_does_nothing(personas, hook, receiver):
    comment_create(actor=personas.reporter, claim=ClaimFactory(case=personas.case), text="x")
    assert _deliver_all() == ["delivered"]
    assert _deliver_all() == ["skipped"]
    assert len(receiver.requests) == 1
