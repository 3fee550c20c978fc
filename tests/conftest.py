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
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


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
