"""What a page tells its user after a form post: a service's refusal as error messages, its
success as one message. Shared by the pages of web/views/."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError


def error_messages(request, exc: ValidationError, *, tags: str = "") -> None:
    for message in exc.messages:
        messages.error(request, message, extra_tags=tags)


def attempt(request, action: Callable[[], object], success=None, *, tags: str = "") -> bool:
    """Run `action` (one service call). A ValidationError becomes error messages; otherwise
    `success` (a text, or a function of the action's result giving one) is shown. Returns
    whether the action went through. `tags` names the panel of the page that shows the
    messages beside the form they answer (see the dashboard's members), instead of at the top."""
    try:
        result = action()
    except ValidationError as exc:
        error_messages(request, exc, tags=tags)
        return False
    if success:
        text = success(result) if callable(success) else success
        messages.success(request, text, extra_tags=tags)
    return True
