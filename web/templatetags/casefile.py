"""Small presentation helpers for the templates."""

from datetime import datetime, timedelta

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

# Activity verbs as a sentence fragment ("Rita added evidence").
VERBS = {
    "case.created": "created the case",
    "case.updated": "updated the case",
    "member.added": "added a member",
    "member.role_changed": "changed a member's role",
    "member.removed": "removed a member",
    "source.created": "added a source",
    "source.updated": "edited a source",
    "evidence.added": "added evidence",
    "evidence.received": "uploaded",
    "evidence.uploaded_again": "uploaded again",
    "evidence.updated": "edited evidence",
    "evidence.original_downloaded": "downloaded the original of",
    "photo.processed": "processed",
    "photo.failed": "could not process",
    "photo.reprocess_requested": "asked to process again",
    "link.created": "linked evidence to a claim",
    "link.updated": "changed a link",
    "link.removed": "removed a link",
    "comment.created": "commented",
    "comment.edited": "edited a comment",
    "claim.created": "wrote a claim",
    "claim.updated": "edited a claim",
    "claim.submitted": "submitted for review",
    "claim.reviewed": "reviewed",
    "claim.reopened": "reopened for review (its evidence changed)",
    # Chain of custody (issue #6).
    "evidence.original_viewed": "viewed the original of",
    "evidence.deleted": "deleted",
    "evidence.purged": "purged the original of",
    "evidence.imported": "imported",
    "claim.imported": "imported",
    "case.imported": "imported the case",
    "source.revealed": "was shown the identity of",
    "export.requested": "asked for",
    "case.exported": "exported the case as",
    "export.downloaded": "downloaded",
    "export.failed": "could not write",
}


@register.filter
def verb_label(verb: str) -> str:
    if verb in VERBS:
        return VERBS[verb]
    return verb.replace(".", " ").replace("_", " ")


@register.filter
def ago(value: datetime | None) -> str:
    """Under a minute "just now" (Django's timesince says "0 minutes"), else "3 hours ago"."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def filesize(value) -> str:
    return filesizeformat(value) if value is not None else ""


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def querystring_page(query: str, page: int) -> str:
    return f"?{query}&page={page}" if query else f"?page={page}"
