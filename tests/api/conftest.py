"""API test helpers: clients signed in with a real token."""

import pytest
from rest_framework.test import APIClient

from cases.tokens import token_create


def token_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        _, key = token_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def client_for(db):
    """`client_for(user)`: an API client sending a fresh token of `user` (None: anonymous)."""
    return token_client


@pytest.fixture
def as_role(personas):
    """`as_role("viewer")`: a client for that persona of the shared case."""
    return lambda role: token_client(personas.by_role(role))
