"""What a role should meet when it tries something: success, refusal, or a case it cannot see."""

from contextlib import nullcontext

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

OK, DENIED, HIDDEN = "ok", "denied", "hidden"


def expect(outcome: str):
    if outcome == OK:
        return nullcontext()
    if outcome == DENIED:
        return pytest.raises(PermissionDenied)
    return pytest.raises(Http404)


# Who may write content (sources, evidence, claims, links, comments): reporters and above.
WRITERS = [
    ("owner", OK),
    ("editor", OK),
    ("reporter", OK),
    ("viewer", DENIED),
    ("outsider", HIDDEN),
]
# Who may review and edit the case: editors and owners.
EDITORS = [
    ("owner", OK),
    ("editor", OK),
    ("reporter", DENIED),
    ("viewer", DENIED),
    ("outsider", HIDDEN),
]
# Who manages members and the case's status: owners.
OWNERS = [
    ("owner", OK),
    ("editor", DENIED),
    ("reporter", DENIED),
    ("viewer", DENIED),
    ("outsider", HIDDEN),
]
