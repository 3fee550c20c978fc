"""503 when a request cannot be accepted at all: the database is unreachable.

Nothing can be recorded without the database, so the only honest answer is "not now": 503 with
`Retry-After`, JSON in the API (`{"detail": …}`), a short page elsewhere. Everything else that
can be away is absorbed: with the broker down, work is recorded and its task waits in the
outbox (evidence.enqueue), so an upload or an export request is still accepted.

A database error is taken for an outage only when the database does not answer a fresh
connection either: a deadlock or a bad query is not an outage, and stays the error it is.
"""

import logging

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse

from config.health import database_check

logger = logging.getLogger("casefile.unavailable")

RETRY_AFTER_SECONDS = 30
MESSAGE = "The database is unreachable, so nothing was saved. Try again in a moment."


def database_unreachable() -> bool:
    """Whether the database refuses a fresh connection right now."""
    connection.close()  # the broken one
    try:
        database_check()
    except (OperationalError, InterfaceError):
        return True
    finally:
        connection.close()
    return False


def unavailable_response(request) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>Casefile is unavailable</title>"
            f"<h1>Casefile is unavailable</h1><p>{MESSAGE}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's database error into the 503 above when the database is really away."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if not database_unreachable():
            return None
        logger.warning(
            "Database unreachable: answered 503 to %s %s (%s)",
            request.method,
            request.path_info,
            type(exception).__name__,
        )
        return unavailable_response(request)
