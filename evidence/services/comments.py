"""Comments on evidence, with their revisions: each write leaves an activity row."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cases.activity import Verb, activity_record
from cases.models import Claim
from cases.policy import require
from evidence.models import Comment, CommentRevision, Evidence
from evidence.search import search_index_comment
from evidence.services.notifications import mentions_notify

# --- Comments -------------------------------------------------------------------------------


@transaction.atomic
def comment_create(
    *, actor, text: str, claim: Claim | None = None, evidence: Evidence | None = None
) -> Comment:
    """Comment on a claim or a piece of evidence (reporters and above)."""
    if (claim is None) == (evidence is None):
        raise ValidationError("A comment is on one claim or one piece of evidence.")
    case = (claim or evidence).case
    require(actor, case, "comment.add")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "A comment cannot be empty."})
    comment = Comment.objects.create(
        case=case, claim=claim, evidence=evidence, author=actor, text=text
    )
    data = {"on": "claim" if claim else "evidence", "id": (claim or evidence).pk}
    mentions = mentions_notify(text=text, case=case, actor=actor, comment=comment)
    if mentions:
        data["mentions"] = mentions
    activity_record(case=case, actor=actor, verb=Verb.COMMENT_CREATED, target=comment, data=data)
    search_index_comment(comment)
    return comment


@transaction.atomic
def comment_edit(*, actor, comment: Comment, text: str) -> Comment:
    """Edit one's own comment; the text before the edit is kept."""
    case = comment.case
    require(actor, case, "comment.edit")
    if comment.author_id != actor.pk:
        raise PermissionDenied("Only its author can edit a comment.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "A comment cannot be empty."})
    if text == comment.text:
        return comment
    CommentRevision.objects.create(comment=comment, text=comment.text)
    before = comment.text
    comment.text, comment.edited_at = text, timezone.now()
    comment.save(update_fields=["text", "edited_at"])
    # Only those the edit mentions for the first time hear of it.
    mentions = mentions_notify(text=text, before=before, case=case, actor=actor, comment=comment)
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.COMMENT_EDITED,
        target=comment,
        data={"mentions": mentions} if mentions else None,
    )
    search_index_comment(comment)
    return comment
