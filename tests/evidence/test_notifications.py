"""Mentions, assignments and notifications, in the page and by email
(evidence.services.notifications, evidence.services.assignments)."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from cases.activity import Verb
from cases.models import Activity
from cases.services import claim_create
from evidence.models import Notification
from evidence.services.assignments import assignee_of, work_assign
from evidence.services.comments import comment_create, comment_edit
from evidence.services.evidence import evidence_create
from evidence.services.links import evidence_link, link_update
from evidence.services.notifications import (
    mentioned,
    notification_settings_update,
    notifications_email,
    notifications_mark_read,
    notifications_of,
    notifications_rendered,
    unread_count,
)
from evidence.services.sources import source_create


@pytest.fixture
def claim(personas):
    return claim_create(actor=personas.reporter, case=personas.case, statement="Never left")


def test_mentions_are_members_of_the_case_once_each_without_the_author(personas):
    text = "@erin and @VICTOR, see this; @erin again, not @charlie (not a member) nor @bob, a@b.c"
    users = mentioned(text, case=personas.case, author=personas.reporter)
    assert [u.username for u in users] == ["erin", "victor"]


def test_a_comment_mentioning_members_notifies_them_and_records_it(personas, claim):
    comment = comment_create(actor=personas.reporter, claim=claim, text="@erin @victor look")
    rows = Notification.objects.filter(comment=comment)
    assert sorted(rows.values_list("recipient__username", flat=True)) == ["erin", "victor"]
    row = Activity.objects.get(verb=Verb.COMMENT_CREATED, target_id=comment.pk)
    assert row.data["mentions"] == ["erin", "victor"]
    # An edit notifies only the newly mentioned.
    comment_edit(actor=personas.reporter, comment=comment, text="@erin @victor @alice look")
    assert Notification.objects.filter(comment=comment).count() == 3
    assert Notification.objects.filter(comment=comment, recipient=personas.owner).exists()


def test_a_link_note_mention_notifies(personas, claim):
    item = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/"
    )
    link = evidence_link(
        actor=personas.reporter, claim=claim, evidence=item, stance="supports", note="@erin?"
    )
    link_update(actor=personas.reporter, link=link, note="@erin @alice?")
    assert sorted(
        Notification.objects.filter(link=link).values_list("recipient__username", flat=True)
    ) == ["alice", "erin"]
    (text,) = [
        n["text"]
        for n in notifications_rendered(
            notifications_of(user=personas.editor), user=personas.editor, via="page"
        )
    ]
    assert text == "bob mentioned you in a link's note on the claim “Never left”"


def test_assigning_evidence_notifies_and_renders_the_source_as_the_recipient_may_see_it(
    personas,
):
    falcon = source_create(
        actor=personas.editor,
        case=personas.case,
        kind="person",
        name="Li Ming",
        protected=True,
        pseudonym="Falcon",
    )
    item = evidence_create(
        actor=personas.reporter,
        case=personas.case,
        kind="testimony",
        source=falcon,
        text="Trucked on 17 May.",
        title="What Falcon said",
    )
    work_assign(actor=personas.editor, target=item, assignee=personas.viewer)
    assert assignee_of(item) == personas.viewer
    row = Activity.objects.get(verb=Verb.EVIDENCE_ASSIGNED)
    assert row.data == {"assignee": "victor", "previous": None}
    (shown,) = notifications_rendered(
        notifications_of(user=personas.viewer), user=personas.viewer, via="page"
    )
    assert shown["text"] == "erin assigned the evidence “What Falcon said” (from Falcon) to you"
    assert shown["path"] == f"/evidence/{item.pk}/"
    # An editor would see the name.
    work_assign(actor=personas.reporter, target=item, assignee=personas.editor)
    (shown,) = notifications_rendered(
        notifications_of(user=personas.editor), user=personas.editor, via="page"
    )
    assert "(from Li Ming)" in shown["text"]
    # The same assignee again changes nothing; None ends the assignment.
    assert work_assign(actor=personas.reporter, target=item, assignee=personas.editor) is None
    work_assign(actor=personas.reporter, target=item, assignee=None)
    assert assignee_of(item) is None


def test_only_members_can_be_assigned_and_viewers_cannot_assign(personas, claim):
    with pytest.raises(ValidationError):
        work_assign(actor=personas.reporter, target=claim, assignee=personas.outsider)
    with pytest.raises(PermissionDenied):
        work_assign(actor=personas.viewer, target=claim, assignee=personas.editor)


def test_reading_marks_ones_own_notifications_only(personas, claim):
    comment_create(actor=personas.reporter, claim=claim, text="@erin @victor")
    assert unread_count(user=personas.editor) == 1
    others = list(
        Notification.objects.filter(recipient=personas.viewer).values_list("pk", flat=True)
    )
    assert notifications_mark_read(user=personas.editor, ids=others) == 0
    assert unread_count(user=personas.viewer) == 1
    assert notifications_mark_read(user=personas.editor) == 1
    assert unread_count(user=personas.editor) == 0


def test_immediate_and_daily_emails_and_never(personas, claim):
    notification_settings_update(user=personas.editor, email="immediate")
    notification_settings_update(user=personas.owner, email="off")
    falcon = source_create(
        actor=personas.editor,
        case=personas.case,
        kind="person",
        name="Li Ming",
        protected=True,
        pseudonym="Falcon",
    )
    item = evidence_create(
        actor=personas.reporter,
        case=personas.case,
        kind="testimony",
        source=falcon,
        text="Trucked.",
        title="Told",
    )
    work_assign(actor=personas.reporter, target=item, assignee=personas.viewer)  # daily
    comment_create(actor=personas.reporter, claim=claim, text="@erin @alice")
    assert notifications_email() == 2  # erin at once; victor's first daily summary
    by = {m.to[0]: m for m in mail.outbox}
    assert set(by) == {"erin@example.org", "victor@example.org"}
    assert "bob mentioned you in a comment on the claim “Never left”" in by["erin@example.org"].body
    viewer_mail = by["victor@example.org"]
    assert "(from Falcon)" in viewer_mail.body and "Li Ming" not in viewer_mail.body
    assert "/evidence/" in viewer_mail.body
    # Nothing twice; alice chose never.
    assert notifications_email() == 0
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 0
    # Victor's next summary waits a day.
    comment_create(actor=personas.reporter, claim=claim, text="@victor again")
    assert notifications_email() == 0
    assert notifications_email(now=timezone.now() + timedelta(days=1, minutes=1)) == 1
    assert len(mail.outbox) == 3


def test_the_send_notifications_command_sends_what_is_due(personas, claim):
    notification_settings_update(user=personas.editor, email="immediate")
    comment_create(actor=personas.reporter, claim=claim, text="@erin")
    out = io.StringIO()
    call_command("send_notifications", stdout=out)
    assert out.getvalue().strip() == "1 email sent."
    assert [m.to for m in mail.outbox] == [["erin@example.org"]]
