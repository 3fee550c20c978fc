"""One JSON error shape for every error the API returns.

Errors are `{"detail": "…"}`, or `{"field": ["…"], …}` for invalid input (with
`non_field_errors` for errors that concern no single field). Services raise Django's
exceptions; they are mapped here:

- `ValidationError` → 400 with field errors, or the status its code has in
  `config.refusals` (413 for a file too large, 415, 409, 410), as the pages answer;
- `PermissionDenied` → 403 and `Http404` → 404, with their messages (DRF's own handling);
- `IntegrityError` from a unique constraint (two requests racing to create the same row) → 409.
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from config.refusals import refusal_status
from config.uploads import UploadTooLarge

logger = logging.getLogger(__name__)


def validation_error_body(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        body = {}
        for field, messages in exc.message_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
            body[key] = list(messages)
        return body
    messages = list(exc.messages)
    return {"detail": messages[0] if len(messages) == 1 else " ".join(messages)}


def _is_unique_violation(exc: IntegrityError) -> bool:
    text = f"{exc} {exc.__cause__ or ''}".lower()
    return "unique" in text or "duplicate key" in text


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_body(exc), status=refusal_status(exc))
    if isinstance(exc, IntegrityError) and _is_unique_violation(exc):
        logger.info("Unique constraint conflict: %s", exc)
        return Response(
            {"detail": "This conflicts with a record that already exists."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, UploadTooLarge):  # a multipart PATCH: parsed by DRF, not at the door
        return Response(
            {exc.field or "detail": [str(exc)] if exc.field else str(exc)},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent):
        return Response({"detail": "Too many fields."}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
