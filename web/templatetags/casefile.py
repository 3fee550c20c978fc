"""Small presentation helpers for the templates: the formatting lives in `web.presenters`."""

from django import template

from web import presenters

register = template.Library()

register.filter("verb_label", presenters.verb_label)
register.filter("ago", presenters.ago)
register.filter("filesize", presenters.filesize)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def querystring_page(query: str, page: int) -> str:
    return f"?{query}&page={page}" if query else f"?page={page}"
