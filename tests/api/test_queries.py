"""A list costs the same number of queries for a page of 5 as for a page of 50."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.activity import activity_record
from cases.models import Activity
from evidence.models import EvidenceLink, PhotoFlag
from tests.api.test_visibility import make_photo
from tests.conftest import make_personas
from tests.factories import ClaimFactory, ProtectedSourceFactory, SourceFactory
from tests.snapshot import session_snapshot

MAX_QUERIES = 12


def build_big_case():
    personas = make_personas()
    case, reporter = personas.case, personas.reporter
    sources = [
        (ProtectedSourceFactory if n % 2 else SourceFactory)(case=case, created_by=reporter)
        for n in range(55)
    ]
    photos = []
    for n in range(1, 56):
        source = sources[n - 1]
        photo = make_photo(case, reporter, source=source, n=n)
        PhotoFlag.objects.create(photo=photo.photo, code="no_camera_metadata", message="None.")
        photos.append(photo)
    for n in range(55):
        claim = ClaimFactory(case=case, author=reporter)
        stances = ("supports", "contradicts", "context")
        for photo, stance in zip(photos[n : n + 3], stances, strict=False):
            EvidenceLink.objects.create(
                claim=claim, evidence=photo, stance=stance, created_by=reporter
            )
    for n in range(55):
        activity_record(case=case, actor=reporter, verb="case.updated", data={"n": n})
    return personas


# Made once per session, restored into each test (tests/snapshot.py).
_big_case_snapshot = session_snapshot(build_big_case)


@pytest.fixture
def personas(_big_case_snapshot, db):
    """The personas of the big case (every test here has it): `as_role` signs them in."""
    return _big_case_snapshot.restore()


@pytest.fixture
def big_case(personas):
    return personas.case


LISTS = [
    "/api/v1/cases/{case}/evidence/",
    "/api/v1/cases/{case}/claims/",
    "/api/v1/cases/{case}/sources/",
    "/api/v1/cases/{case}/activity/",
    "/api/v1/cases/{case}/members/",
    "/api/v1/cases/",
]


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured.captured_queries), response.json()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("role", ["viewer", "owner"])
def test_a_page_of_50_costs_a_constant_number_of_queries(
    big_case, as_role, path, role, django_assert_max_num_queries
):
    client = as_role(role)
    url = path.format(case=big_case.pk)
    client.get(url)  # the token's last_used is written on first use only
    small, _ = queries_for(client, url + "?page_size=5")
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url + "?page_size=50")
    assert response.status_code == 200
    large, body = queries_for(client, url + "?page_size=50")
    assert large == small, f"{url}: {small} queries for 5 rows, {large} for 50"
    if "cases/" + str(big_case.pk) in url and "members" not in url:
        assert len(body["results"]) == 50


def test_claims_list_carries_links_grouped_by_stance(big_case, as_role):
    body = as_role("viewer").get(f"/api/v1/cases/{big_case.pk}/claims/?page_size=50").json()
    first = body["results"][0]["links"]
    assert [len(first[s]) for s in ("supports", "contradicts", "context")] == [1, 1, 1]
    assert first["supports"][0]["evidence"]["kind"] == "photo"
    assert Activity.objects.filter(case=big_case).count() >= 55


def test_an_object_its_case_and_the_members_role_come_in_one_query(
    big_case, as_role, django_assert_num_queries
):
    client = as_role("viewer")
    claim = big_case.claims.first()
    client.get(f"/api/v1/claims/{claim.pk}/")  # the token's last_used is written on first use
    # The token, the claim with its case and the member's role, the claim's links; its
    # corroboration: the provenances, near-duplicates and flags of the linked items.
    with django_assert_num_queries(6):
        assert client.get(f"/api/v1/claims/{claim.pk}/").status_code == 200
