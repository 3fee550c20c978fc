"""Notifications: @mentions in comments and link notes, assignments, claims sent for review
(to the case's editors and owners) and decided or reopened (to their author), and webhooks
disabled (to the case's owners: `notifications_on_activity`, from the activity record);
read in the page (with a live unread count) and the API, and sent by email at once or as a
daily summary, as each person chooses (Django's email framework; the console by default).

A notification row holds ids, never text. What it says is rendered when it is read, through a
`Reader` of the recipient (`notification_text`): a protected source is its pseudonym to anyone
below editor, in the page, the API and the email alike.

Emails are sent by `notifications_email`, which every worker's recovery runs
(evidence.services.recovery): immediate ones within seconds of the change, a daily summary
once a day. It is safe to run anywhere at once: each row is claimed with a conditional update
before it is sent.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from cases.activity import Verb
from cases.models import Activity, Case, Claim, Membership
from cases.policy import can, members_who_may
from evidence.models import Notification, NotificationSettings, Webhook
from evidence.reader import Reader

logger = logging.getLogger(__name__)

# "@edgar", "@erin.k": a username as Django allows it (letters, digits and @.+-_), after the
# start of the text or a character that cannot end an e-mail address's local part.
MENTION = re.compile(r"(?:^|(?<=[^\w.+-]))@([\w.+-]+)", re.UNICODE)
DIGEST_EVERY = timedelta(days=1)
EMAIL_BATCH = 500


def mentioned(text: str, *, case: Case, author) -> list:
    """The members of `case` that `text` mentions (@username, any case), the author left out,
    in the order first mentioned."""
    names = []
    for match in MENTION.finditer(text or ""):
        name = match.group(1).rstrip(".").lower()
        if name and name not in names:
            names.append(name)
    if not names:
        return []
    members = {
        m.user.username.lower(): m.user
        for m in Membership.objects.filter(case=case, user__is_active=True).select_related("user")
    }
    return [members[n] for n in names if n in members and members[n].pk != author.pk]


def notify(*, recipients, case: Case, actor, kind: str, **target) -> list[Notification]:
    """Notify each recipient (once, the actor left out) of `kind` about `target` (claim=,
    evidence=, comment=, link=). Called by the service that made the change, in its
    transaction: the change's activity row records it."""
    seen, rows = set(), []
    for user in recipients:
        if user is None or user.pk in seen or (actor is not None and user.pk == actor.pk):
            continue
        seen.add(user.pk)
        rows.append(Notification(recipient=user, case=case, actor=actor, kind=kind, **target))
    return Notification.objects.bulk_create(rows)


def mentions_notify(*, text: str, before: str = "", case: Case, actor, **target) -> list[str]:
    """Notify the members `text` mentions (and `before`, the text it replaces, did not);
    returns their usernames for the change's activity row."""
    earlier = {u.pk for u in mentioned(before, case=case, author=actor)} if before else set()
    users = [u for u in mentioned(text, case=case, author=actor) if u.pk not in earlier]
    notify(recipients=users, case=case, actor=actor, kind=Notification.Kind.MENTION, **target)
    return [u.username for u in users]


def _members(case: Case, *, action: str, user_ids=None) -> list:
    found = members_who_may(case=case, action=action)
    if user_ids is not None:
        found = found.filter(user_id__in=user_ids)
    return [m.user for m in found.select_related("user").order_by("user_id")]


KIND_OF_VERB = {
    Verb.CLAIM_SUBMITTED: Notification.Kind.SUBMITTED,
    Verb.CLAIM_REVIEWED: Notification.Kind.REVIEWED,
    Verb.CLAIM_REOPENED: Notification.Kind.REOPENED,
    Verb.WEBHOOK_DISABLED: Notification.Kind.WEBHOOK_DISABLED,
}


def notifications_on_activity(*, case: Case, rows: list[Activity]) -> None:
    """Notify of the rows that call for it, in their transaction (cases.activity.RECORDED,
    registered in EvidenceConfig.ready): a claim submitted for review its case's editors and
    owners; a claim decided or reopened its author; a webhook disabled the case's owners.
    The actor is never notified, nor anyone no longer a member."""
    wanted = [row for row in rows if row.verb in KIND_OF_VERB and row.target_id is not None]
    if not wanted:
        return
    claims = Claim.objects.in_bulk([r.target_id for r in wanted if r.target_type == "claim"])
    for row in wanted:
        kind = KIND_OF_VERB[row.verb]
        data = row.data if isinstance(row.data, dict) else {}
        if kind == Notification.Kind.WEBHOOK_DISABLED:
            webhook = Webhook.objects.filter(pk=row.target_id, case=case).first()
            if webhook is not None:
                owners = _members(case, action="webhook.manage")
                notify(recipients=owners, case=case, actor=None, kind=kind, webhook=webhook)
            continue
        claim = claims.get(row.target_id)
        if claim is None:
            continue
        if kind == Notification.Kind.SUBMITTED:
            recipients = _members(case, action="claim.review")
            status = ""
        else:
            recipients = _members(case, action="case.see", user_ids=[claim.author_id])
            # A review's decision; a reopening's, the decision it undid.
            status = data.get("to" if kind == Notification.Kind.REVIEWED else "from")
            status = status if status in Claim.Status.values else ""
        notify(
            recipients=recipients,
            case=case,
            actor=row.actor,
            kind=kind,
            claim=claim,
            claim_status=status,
        )


# --- Reading ---------------------------------------------------------------------------------


def notifications_of(*, user) -> QuerySet[Notification]:
    """The user's notifications, newest first, in cases they still belong to."""
    return (
        Notification.objects.filter(recipient=user, case__memberships__user=user)
        .select_related(
            "case",
            "actor",
            "claim",
            "evidence__source",
            "comment__claim",
            "comment__evidence__source",
            "link__claim",
            "link__evidence__source",
            "webhook",
        )
        .order_by("-created_at", "-id")
    )


def unread_count(*, user) -> int:
    return notifications_of(user=user).filter(read_at__isnull=True).count()


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (those of `ids`, or all); returns how many were
    unread. Only one's own: another's ids are ignored."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


def _item(reader: Reader, evidence) -> str:
    text = f"“{evidence.label[:80]}”"
    if evidence.source_id is not None:
        text += f" (from {reader.source_name(evidence.source)})"
    return text


def _target(reader: Reader, n: Notification) -> tuple[str, str]:
    """What the notification is about, in words, and the page to open."""
    if n.webhook_id is not None:
        host = urlsplit(n.webhook.url).hostname or "?"
        return f"the webhook to {host}", reverse(
            "web:webhook_detail", args=[n.case_id, n.webhook_id]
        )
    if n.comment_id is not None:
        on = n.comment.claim or n.comment.evidence
    elif n.link_id is not None:
        on = n.link.claim
    else:
        on = n.claim or n.evidence
    if hasattr(on, "statement"):
        return f"the claim “{on.statement[:100]}”", reverse("web:claim_detail", args=[on.pk])
    return f"the evidence {_item(reader, on)}", reverse("web:evidence_detail", args=[on.pk])


def notification_text(n: Notification, reader: Reader) -> tuple[str, str]:
    """(sentence, path) of a notification, as its recipient may read it (`reader` is theirs)."""
    who = n.actor.username if n.actor_id else "Casefile"
    about, path = _target(reader, n)
    if n.kind == Notification.Kind.MENTION:
        where = "a link's note on" if n.link_id else "a comment on"
        return f"{who} mentioned you in {where} {about}", path
    if n.kind == Notification.Kind.SUBMITTED:
        return f"{who} submitted {about} for review", path
    yours = about.replace("the claim", "your claim", 1)
    decision = Claim.Status(n.claim_status).label.lower() if n.claim_status else ""
    if n.kind == Notification.Kind.REVIEWED:
        if n.claim_status == Claim.Status.DRAFT:
            return f"{who} sent {yours} back to draft", path
        return f"{who} marked {yours} {decision}".rstrip(), path
    if n.kind == Notification.Kind.REOPENED:
        was = f" (it was {decision})" if decision else ""
        return f"{who}'s change sent {yours} back to review{was}", path
    if n.kind == Notification.Kind.WEBHOOK_DISABLED:
        return f"{about[0].upper()}{about[1:]} was disabled: its deliveries kept failing", path
    return f"{who} assigned {about} to you", path


def notifications_rendered(rows, *, user, via: str) -> list[dict]:
    """The rows as their recipient reads them: one reader per case (the reveals it shows an
    editor are recorded by the caller's `Reader.record`, see `readers`)."""
    readers: dict[int, Reader] = {}
    out = []
    for n in rows:
        reader = readers.setdefault(n.case_id, Reader(actor=user, case=n.case, via=via))
        text, path = notification_text(n, reader)
        out.append(
            {
                "id": n.pk,
                "kind": n.kind,
                "case": n.case_id,
                "case_title": n.case.title,
                "text": text,
                "path": path,
                "actor": n.actor.username if n.actor_id else None,
                "created_at": n.created_at,
                "read": n.read_at is not None,
            }
        )
    for reader in readers.values():
        reader.record()
    return out


# --- Email -----------------------------------------------------------------------------------


def settings_of(user) -> NotificationSettings:
    found, _ = NotificationSettings.objects.get_or_create(user=user)
    return found


def notification_settings_update(*, user, email: str) -> NotificationSettings:
    """Choose how notifications reach one by email: at once, daily, or never."""
    chosen = settings_of(user)
    if email not in NotificationSettings.Email.values:
        raise ValueError(f"Not a choice: {email!r}")
    chosen.email = email
    chosen.save(update_fields=["email"])
    return chosen


def _send(user, rows: list[Notification], *, subject: str) -> None:
    lines = [
        f"- {n['text']} ({n['case_title']})\n  {settings.CASEFILE_SITE_URL.rstrip('/')}{n['path']}"
        for n in notifications_rendered(rows, user=user, via="email")
    ]
    body = (
        f"Hello {user.get_full_name() or user.username},\n\n"
        + "\n".join(lines)
        + "\n\nChange how often Casefile writes to you on your notifications page.\n"
    )
    send_mail(subject, body, None, [user.email], fail_silently=False)


def _claimed(user, *, before=None) -> list[Notification]:
    """Take the user's unsent notifications (emailed_at set now, conditionally, so that two
    workers never send the same one), for one email."""
    now = timezone.now()
    with transaction.atomic():
        pending = Notification.objects.filter(recipient=user, emailed_at__isnull=True)
        if before is not None:
            pending = pending.filter(created_at__lte=before)
        ids = list(pending.order_by("created_at", "id").values_list("pk", flat=True)[:EMAIL_BATCH])
        taken = Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(
            emailed_at=now
        )
        if taken != len(ids):  # another worker took some: leave them all to it
            Notification.objects.filter(pk__in=ids, emailed_at=now).update(emailed_at=None)
            return []
    return list(notifications_of(user=user).filter(pk__in=ids).order_by("created_at", "id"))


def notifications_email(*, now=None) -> int:
    """Send what is due: each notification of a person who chose "at once", and the daily
    summary of those who chose it (once a day). Returns the number of emails sent. Part of
    every worker's recovery; a failed send puts its notifications back for the next run."""
    now = now or timezone.now()
    User = get_user_model()
    sent = 0
    due = (
        User.objects.filter(
            notifications__emailed_at__isnull=True, is_active=True, notifications__isnull=False
        )
        .exclude(email="")
        .distinct()
    )
    for user in due:
        chosen = settings_of(user)
        if chosen.email == NotificationSettings.Email.OFF:
            Notification.objects.filter(recipient=user, emailed_at__isnull=True).update(
                emailed_at=now
            )
            continue
        if (
            chosen.email == NotificationSettings.Email.DAILY
            and chosen.last_digest_at
            and (now - chosen.last_digest_at < DIGEST_EVERY)
        ):
            continue
        rows = _claimed(user)
        # Only what the recipient may still see: a member who left a case hears nothing of it.
        rows = [n for n in rows if can(user, n.case, "case.see")]
        if not rows:
            continue
        subject = (
            f"Casefile: {rows[0].get_kind_display().lower()}"
            if chosen.email == NotificationSettings.Email.IMMEDIATE and len(rows) == 1
            else f"Casefile: {len(rows)} notification{'s' if len(rows) != 1 else ''}"
        )
        try:
            _send(user, rows, subject=subject)
        except Exception:  # the mail server is down: try again on the next run
            logger.warning("Could not email %s notifications to user %s", len(rows), user.pk)
            Notification.objects.filter(pk__in=[n.pk for n in rows]).update(emailed_at=None)
            continue
        if chosen.email == NotificationSettings.Email.DAILY:
            chosen.last_digest_at = now
            chosen.save(update_fields=["last_digest_at"])
        sent += 1
    return sent
