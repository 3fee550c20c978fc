"""Shared fixtures: a case with one persona per role, and one outsider."""

from dataclasses import dataclass

import pytest

from cases.models import Case, Role
from tests.factories import CaseFactory, MembershipFactory, UserFactory


@dataclass
class Personas:
    case: Case
    owner: object
    editor: object
    reporter: object
    viewer: object
    outsider: object

    def by_role(self, name: str):
        return getattr(self, name)


ROLES = ("owner", "editor", "reporter", "viewer", "outsider")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Real password hashing costs a quarter of a second per user; tests make hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Ordinary tests run tasks in-process even when REDIS_URL is set (as in CI); tests marked
    `worker` talk to a real Celery worker instead."""
    from config.celery import app

    eager = request.node.get_closest_marker("worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and other cached state must not leak from one test into the next.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def personas(db) -> Personas:
    owner = UserFactory(username="alice")
    case = CaseFactory(title="The Dandong freight train", created_by=owner)
    people = {"owner": owner}
    MembershipFactory(case=case, user=owner, role=Role.OWNER)
    for role, name in (("editor", "erin"), ("reporter", "bob"), ("viewer", "victor")):
        people[role] = UserFactory(username=name)
        MembershipFactory(case=case, user=people[role], role=role)
    # Charlie has an account and a case of his own, but is not in this one.
    people["outsider"] = UserFactory(username="charlie")
    MembershipFactory(
        case=CaseFactory(created_by=people["outsider"]), user=people["outsider"], role=Role.OWNER
    )
    return Personas(case=case, **people)


@pytest.fixture
def case(personas) -> Case:
    return personas.case
