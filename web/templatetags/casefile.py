"""Small presentation helpers for the templates: the formatting lives in `web.presenters`."""

from django import template

from web.presenters import ago, filesize, verb_label

register = template.Library()

register.filter(verb_label)
register.filter(ago)
register.filter(filesize)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def querystring_page(query: str, page: int) -> str:
    return f"?{query}&page={page}" if query else f"?page={page}"
