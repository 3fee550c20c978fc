"""Reads that encode a rule: who sees a case's exports is decided by the selectors that every
door reads them through, not by the doors."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from evidence.models import Export
from evidence.selectors import export_for_user, exports_for_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(personas) -> Export:
    return Export.objects.create(case=personas.case, requested_by=personas.owner)


@pytest.mark.parametrize("role", ["editor", "owner"])
def test_editors_and_owners_see_the_exports_of_a_case(personas, bundle, role):
    user = personas.by_role(role)
    assert list(exports_for_user(user=user, case=personas.case)) == [bundle]
    assert export_for_user(user=user, export_id=bundle.pk) == bundle


@pytest.mark.parametrize("role", ["reporter", "viewer"])
def test_below_editor_the_exports_are_refused_with_the_policys_words(personas, bundle, role):
    user = personas.by_role(role)
    for read in (
        lambda: exports_for_user(user=user, case=personas.case),
        lambda: export_for_user(user=user, export_id=bundle.pk),
    ):
        with pytest.raises(PermissionDenied) as refused:
            read()
        assert str(refused.value) == "To see exports you need the editor role in this case."


def test_an_outsider_gets_404_for_an_export(personas, bundle):
    with pytest.raises(Http404):
        export_for_user(user=personas.outsider, export_id=bundle.pk)
    with pytest.raises(Http404):
        exports_for_user(user=personas.outsider, case=personas.case)
