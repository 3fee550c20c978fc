"""Webhooks: a case's owners ask for its events to be posted to an address of theirs.

- **Events** come from the activity record (cases.activity): every change of every door writes
  its row there, and `webhooks_on_activity` (registered in EvidenceConfig.ready) turns the rows
  whose verb is an event into one `WebhookDelivery` per subscribed webhook, in the same
  transaction, and queues each delivery on commit through evidence.enqueue's outbox.
- **Payloads** carry what an outsider of the case may learn and nothing more: ids, kinds,
  titles and statuses, and a source as a non-revealing reader names it (a protected source by
  its pseudonym). Never a protected identity, a place, testimony or comment text: the address
  is outside Casefile, whoever asked for it.
- **Signature**: `X-Casefile-Signature: sha256=<hex>`, the HMAC-SHA256 under the webhook's
  secret of `<X-Casefile-Timestamp>.<raw body>`; a receiver recomputes it and refuses a
  timestamp too old (a replay). See README "Webhooks".
- **Delivery** (evidence.tasks.webhook_deliver_task): a worker claims the delivery with a
  conditional update (a lease, as photo and export jobs have), connects to the address
  config.outbound checked (no DNS rebinding, no private or loopback address unless listed in
  CASEFILE_WEBHOOK_ALLOW_HOSTS), follows no redirect, reads at most a few KiB of the answer,
  within a timeout. A 2xx is delivered; anything else is tried again with exponential backoff
  (the recovery of every worker sends the due ones), up to CASEFILE_WEBHOOK_MAX_ATTEMPTS; after
  CASEFILE_WEBHOOK_DISABLE_AFTER deliveries in a row failed for good the webhook is disabled,
  the case's record says so and its owners are notified (in the page, and by email as each
  chose: evidence.services.notifications).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import secrets
import socket
import ssl
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.activity import Verb, activity_record
from cases.models import Activity, Case, Claim
from cases.policy import require
from config.outbound import AddressRefused, allow_list, check_url, split_url
from evidence.enqueue import OUTBOX_GRACE, task_on_commit, task_send
from evidence.leases import expired_before
from evidence.models import Comment, Evidence, Export, Webhook, WebhookDelivery
from evidence.reader import Reader

logger = logging.getLogger(__name__)

WEBHOOK_DELIVER = "evidence.tasks.webhook_deliver_task"

# The events a webhook may ask for, and the activity verbs each one is.
EVENTS: dict[str, tuple[str, ...]] = {
    "evidence.created": (Verb.EVIDENCE_ADDED, Verb.EVIDENCE_RECEIVED),
    "evidence.ready": (Verb.PHOTO_PROCESSED,),
    "evidence.failed": (Verb.PHOTO_FAILED,),
    "claim.submitted": (Verb.CLAIM_SUBMITTED,),
    "claim.reviewed": (Verb.CLAIM_REVIEWED,),
    "claim.reopened": (Verb.CLAIM_REOPENED,),
    "comment.created": (Verb.COMMENT_CREATED,),
    "export.ready": (Verb.CASE_EXPORTED,),
}
EVENT_OF_VERB = {verb: event for event, verbs in EVENTS.items() for verb in verbs}

SIGNATURE_HEADER = "X-Casefile-Signature"
TIMESTAMP_HEADER = "X-Casefile-Timestamp"
EVENT_HEADER = "X-Casefile-Event"
DELIVERY_HEADER = "X-Casefile-Delivery"
# What is kept of a receiver's answer: its status; the body is read up to this and dropped.
RESPONSE_CAP = 64 * 1024
BACKOFF_MAX = timedelta(hours=1)


# --- Managing webhooks ------------------------------------------------------------------------


def _allowed():
    return allow_list(settings.CASEFILE_WEBHOOK_ALLOW_HOSTS)


def _check_events(events) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ValidationError({"events": "Name at least one event."})
    unknown = sorted({str(e) for e in events} - set(EVENTS))
    if unknown:
        raise ValidationError(
            {"events": f"Unknown event(s): {', '.join(unknown)}. Events: {', '.join(EVENTS)}."}
        )
    return [event for event in EVENTS if event in events]


def _check_address(url: str) -> str:
    url = url.strip()
    try:
        scheme, _, _ = split_url(url)
        check_url(url, allowed=_allowed())
    except AddressRefused as exc:
        raise ValidationError({"url": str(exc)}) from None
    if urlsplit(url).username or urlsplit(url).password:
        raise ValidationError({"url": "Put no user name or password in the address."})
    return url


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


@transaction.atomic
def webhook_create(*, actor, case: Case, url: str, events: list[str]) -> Webhook:
    """Add a webhook to the case (owners); its secret is returned with it (show it once)."""
    require(actor, case, "webhook.manage")
    webhook = Webhook.objects.create(
        case=case,
        created_by=actor,
        url=_check_address(url),
        events=_check_events(events),
        secret=secrets.token_hex(32),
    )
    # The host only: an address may carry a key of its own in its path or query.
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.WEBHOOK_CREATED,
        target=webhook,
        data={"host": _host_of(webhook.url), "events": webhook.events},
    )
    return webhook


@transaction.atomic
def webhook_update(
    *, actor, webhook: Webhook, events: list[str] | None = None, active: bool | None = None
) -> Webhook:
    """Change the events of a webhook, or switch it back on after it was disabled (owners)."""
    require(actor, webhook.case, "webhook.manage")
    if events is not None:
        webhook.events = _check_events(events)
    if active is not None and active != webhook.active:
        webhook.active = active
        webhook.failures_in_row = 0
        webhook.disabled_at = None if active else timezone.now()
        webhook.disabled_reason = "" if active else f"Disabled by {actor.username}."
    webhook.save()
    return webhook


@transaction.atomic
def webhook_delete(*, actor, webhook: Webhook) -> None:
    """Remove a webhook and its delivery log (owners)."""
    require(actor, webhook.case, "webhook.manage")
    activity_record(
        case=webhook.case,
        actor=actor,
        verb=Verb.WEBHOOK_DELETED,
        target=webhook,
        data={"host": _host_of(webhook.url)},
    )
    webhook.delete()


def webhooks_of(*, case: Case) -> QuerySet[Webhook]:
    return case.webhooks.order_by("id")


def deliveries_of(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.order_by("-id")


# --- Events ---------------------------------------------------------------------------------


def webhooks_on_activity(*, case: Case, rows: list[Activity]) -> None:
    """For each row whose verb is an event, one delivery per active webhook of the case that
    asked for it, queued on commit (cases.activity.RECORDED)."""
    wanted = [(row, EVENT_OF_VERB[row.verb]) for row in rows if row.verb in EVENT_OF_VERB]
    if not wanted:
        return
    hooks = list(Webhook.objects.filter(case_id=case.pk, active=True))
    if not hooks:
        return
    now = timezone.now()
    deliveries = []
    for row, event in wanted:
        payload = None
        for hook in hooks:
            if event not in hook.events:
                continue
            if payload is None:
                payload = event_payload(case=case, row=row, event=event, owner=hook.created_by)
            deliveries.append(
                WebhookDelivery(webhook=hook, event=event, payload=payload, next_attempt_at=now)
            )
    for delivery in WebhookDelivery.objects.bulk_create(deliveries):
        task_on_commit(WEBHOOK_DELIVER, delivery.pk)


def _source(reader: Reader, source) -> dict | None:
    if source is None:
        return None
    return {"id": source.pk, "label": reader.source_name(source)}


def event_payload(*, case: Case, row: Activity, event: str, owner) -> dict:
    """What a delivery of `row` says: see the module docstring for what it never carries. The
    source's label comes from a reader that reveals nothing (a pseudonym for a protected one),
    whatever the webhook owner's role."""
    reader = Reader(actor=owner, case=case, via="webhook", reveal=False)
    obj: dict = {"type": row.target_type, "id": row.target_id}
    if row.target_type == "evidence":
        evidence = (
            Evidence.objects.select_related("source", "photo").filter(pk=row.target_id).first()
        )
        if evidence is not None:
            photo = getattr(evidence, "photo", None) if evidence.kind == "photo" else None
            obj.update(
                kind=evidence.kind,
                title=evidence.title,
                status=photo.status if photo is not None else None,
                source=_source(reader, evidence.source),
            )
    elif row.target_type == "claim":
        claim = Claim.objects.filter(pk=row.target_id).first()
        if claim is not None:
            obj.update(statement=claim.statement[:300], status=claim.status)
    elif row.target_type == "comment":
        comment = Comment.objects.filter(pk=row.target_id).first()
        if comment is not None:
            on = (
                ("claim", comment.claim_id)
                if comment.claim_id
                else ("evidence", comment.evidence_id)
            )
            obj.update(on={"type": on[0], "id": on[1]}, author=comment.author.username)
    elif row.target_type == "export":
        export = Export.objects.filter(pk=row.target_id).first()
        if export is not None:
            obj.update(status=export.status, originals=export.originals)
    return {
        "event": event,
        "event_id": row.pk,
        "occurred_at": row.created_at.isoformat(),
        "case": {"id": case.pk, "title": case.title},
        "actor": row.actor.username if row.actor_id and row.actor else None,
        "object": obj,
    }


# --- Signing --------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 under `secret` of `timestamp`, a dot, and the raw body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_valid(
    secret: str, timestamp: str, body: bytes, header: str, *, now=None, tolerance: int = 300
) -> bool:
    """What a receiver checks (also used by the tests): the signature, and a timestamp within
    `tolerance` seconds of now, so that a recorded delivery cannot be replayed later."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header)


# --- Delivering -----------------------------------------------------------------------------


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address config.outbound checked, whatever the name resolves to now."""

    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the name in the address, not the IP.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Answer:
    def __init__(self, *, code: int | None = None, error: str = ""):
        self.code, self.error = code, error

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


def http_post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` as the module docstring says; never raises."""
    timeout = settings.CASEFILE_WEBHOOK_TIMEOUT_SECONDS
    try:
        scheme, host, port = split_url(url)
        addresses = check_url(url, allowed=_allowed())
    except AddressRefused as exc:
        return Answer(error=str(exc))
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    deadline = time.monotonic() + 3 * timeout
    last = "No address to connect to."
    for address in addresses[:3]:
        connection = connection_class(host, port, address=address, timeout=timeout)
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            read = 0
            while read < RESPONSE_CAP and time.monotonic() < deadline:
                chunk = response.read(min(8192, RESPONSE_CAP - read))
                if not chunk:
                    break
                read += len(chunk)
            code = response.status
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            last = f"Could not deliver: {type(exc).__name__}: {exc}"[:300]
            continue
        finally:
            connection.close()
        if 300 <= code < 400:
            return Answer(code=code, error="The receiver redirected: redirects are not followed.")
        if not 200 <= code < 300:
            return Answer(code=code, error=f"The receiver answered {code}.")
        return Answer(code=code)
    return Answer(error=last)


def backoff(attempt: int) -> timedelta:
    """How long to wait after the `attempt`-th failed attempt: doubling from
    CASEFILE_WEBHOOK_BACKOFF_SECONDS, at most an hour, with a tenth of jitter."""
    base = settings.CASEFILE_WEBHOOK_BACKOFF_SECONDS * 2 ** max(0, attempt - 1)
    seconds = min(base, BACKOFF_MAX.total_seconds())
    return timedelta(seconds=seconds * (1 + random.random() / 10))  # noqa: S311 - jitter


def _claim(delivery_id: int, now: datetime) -> bool:
    due = Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
    abandoned = Q(status=WebhookDelivery.Status.SENDING, heartbeat_at__lt=expired_before(now))
    return bool(
        WebhookDelivery.objects.filter(due | abandoned, pk=delivery_id).update(
            status=WebhookDelivery.Status.SENDING, heartbeat_at=now
        )
    )


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Make one attempt at a delivery that is due (else nothing); return its status after."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    attempt = delivery.attempts + 1
    if not webhook.active:
        answer = Answer(error="The webhook is disabled.")
    else:
        body = json.dumps(
            {"delivery": delivery.pk, "attempt": attempt, **delivery.payload},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Casefile-Webhooks/1",
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.pk),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(webhook.secret, timestamp, body),
        }
        started = time.monotonic()
        answer = http_post(webhook.url, body, headers)
        delivery.duration_ms = int((time.monotonic() - started) * 1000)
    _settle(delivery, attempt=attempt, answer=answer, now=now)
    return delivery.status


@transaction.atomic
def _settle(delivery: WebhookDelivery, *, attempt: int, answer: Answer, now: datetime) -> None:
    webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
    delivery.attempts = attempt
    delivery.response_code = answer.code
    delivery.error = answer.error[:300]
    delivery.heartbeat_at = None
    if answer.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        webhook.failures_in_row = 0
        webhook.save(update_fields=["failures_in_row"])
    elif attempt < settings.CASEFILE_WEBHOOK_MAX_ATTEMPTS and webhook.active:
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = now + backoff(attempt)
    else:
        delivery.status = WebhookDelivery.Status.FAILED
        if webhook.active:
            webhook.failures_in_row += 1
            webhook.save(update_fields=["failures_in_row"])
            if webhook.failures_in_row >= settings.CASEFILE_WEBHOOK_DISABLE_AFTER:
                _disable(webhook, reason=answer.error, now=now)
    delivery.save()


def _disable(webhook: Webhook, *, reason: str, now: datetime) -> None:
    webhook.active = False
    webhook.disabled_at = now
    webhook.disabled_reason = (
        f"Disabled after {webhook.failures_in_row} deliveries in a row failed. Last: {reason}"
    )[:300]
    webhook.save(update_fields=["active", "disabled_at", "disabled_reason"])
    case = webhook.case
    activity_record(
        case=case,
        actor=None,
        verb=Verb.WEBHOOK_DISABLED,
        target=webhook,
        data={"host": _host_of(webhook.url), "failures": webhook.failures_in_row},
    )
    # Its owners are notified by the activity row (evidence.services.notifications), in the
    # page and by email as each of them chose.


def webhooks_requeue_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Send the deliveries that are due (a retry whose backoff ran out, a task that was lost,
    an attempt whose worker died): part of every worker's recovery. Each is claimed again by
    its attempt, so sending one twice does nothing more."""
    now = now or timezone.now()
    due = Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now - OUTBOX_GRACE) | Q(
        status=WebhookDelivery.Status.SENDING, heartbeat_at__lt=expired_before(now)
    )
    ids = list(
        WebhookDelivery.objects.filter(due)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = []
    for pk in ids:
        if not task_send(WEBHOOK_DELIVER, pk):
            break
        sent.append(pk)
    return sent
