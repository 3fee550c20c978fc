"""What a page tells its user after a form post: a service's refusal as error messages, its
success as one message. Shared by the pages in web/views.py and web/custody.py."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError


def error_messages(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def attempt(request, action: Callable[[], object], success=None) -> bool:
    """Run `action` (one service call). A ValidationError becomes error messages; otherwise
    `success` (a text, or a function of the action's result giving one) is shown. Returns
    whether the action went through."""
    try:
        result = action()
    except ValidationError as exc:
        error_messages(request, exc)
        return False
    if success:
        messages.success(request, success(result) if callable(success) else success)
    return True
