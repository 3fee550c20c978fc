"""503 with Retry-After only when a request cannot be accepted at all: the database is away."""

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from config import unavailable
from config.unavailable import DatabaseUnavailableMiddleware

pytestmark = pytest.mark.django_db


def _answer(path: str, *, database_answers: bool, monkeypatch):
    def check():
        if not database_answers:
            raise OperationalError("connection refused")

    monkeypatch.setattr(unavailable, "database_check", check)
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    request = RequestFactory().post(path)
    return middleware.process_exception(request, OperationalError("server closed the connection"))


def test_the_api_answers_json_503_with_retry_after_when_the_database_is_away(monkeypatch):
    response = _answer("/api/v1/cases/1/evidence/", database_answers=False, monkeypatch=monkeypatch)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/json"
    assert response.content == (
        b'{"detail": "The database is unreachable, so nothing was saved. Try again in a moment."}'
    )


def test_a_page_answers_503_with_retry_after_when_the_database_is_away(monkeypatch):
    response = _answer("/cases/1/", database_answers=False, monkeypatch=monkeypatch)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "nothing was saved" in response.content.decode()


def test_a_database_error_while_the_database_answers_is_not_an_outage(monkeypatch):
    # A deadlock or a bad query stays the error it is (no 503 that would hide it).
    assert _answer("/api/v1/cases/", database_answers=True, monkeypatch=monkeypatch) is None
