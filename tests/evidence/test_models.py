"""The database refuses what the domain never allows, whatever code writes the row."""

import pytest
from django.db import IntegrityError, transaction

from evidence.models import EvidenceLink, Photo, PhotoMatch
from tests.factories import (
    ClaimFactory,
    LinkEvidenceFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db


def refused(create, **fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        create(**fields)


def test_second_link_of_the_same_evidence_to_the_same_claim_is_refused():
    evidence = LinkEvidenceFactory()
    claim = ClaimFactory(case=evidence.case)
    EvidenceLink.objects.create(
        evidence=evidence, claim=claim, stance="supports", created_by=claim.author
    )
    refused(
        EvidenceLink.objects.create,
        evidence=evidence,
        claim=claim,
        stance="contradicts",
        created_by=claim.author,
    )


def test_link_stance_must_be_known():
    evidence = LinkEvidenceFactory()
    claim = ClaimFactory(case=evidence.case)
    refused(
        EvidenceLink.objects.create,
        evidence=evidence,
        claim=claim,
        stance="maybe",
        created_by=claim.author,
    )


def test_protected_source_needs_a_pseudonym():
    refused(SourceFactory, protected=True, pseudonym="")


def test_reliability_is_on_the_admiralty_scale():
    refused(SourceFactory, reliability="G")


def test_web_link_needs_a_url():
    refused(LinkEvidenceFactory, url="")


def test_testimony_needs_a_source_and_text():
    refused(LinkEvidenceFactory, kind="testimony", url="", text="They said so.", source=None)


def test_photo_needs_its_hash():
    refused(LinkEvidenceFactory, kind="photo", url="", sha256="")


def test_same_original_only_once_per_case():
    first = LinkEvidenceFactory(kind="document", url="", sha256="a" * 64)
    refused(LinkEvidenceFactory, case=first.case, kind="document", url="", sha256="a" * 64)
    # Another case may hold the same bytes.
    LinkEvidenceFactory(kind="document", url="", sha256="a" * 64)


@pytest.mark.parametrize("lat, lon", [(91, 0), (-91, 0), (0, 181), (0, -181), (40.1, None)])
def test_coordinates_must_be_on_earth_and_together(lat, lon):
    refused(LinkEvidenceFactory, latitude=lat, longitude=lon)


def make_photo(**fields):
    evidence = LinkEvidenceFactory(kind="photo", url="", sha256=fields.pop("sha", "b" * 64))
    return Photo.objects.create(evidence=evidence, **fields)


def test_failed_photo_needs_a_reason():
    refused(make_photo, status="failed", failure_reason="")


def test_photo_orientation_is_one_to_eight():
    refused(make_photo, orientation=9)


def test_near_duplicate_pair_is_recorded_once_in_order():
    a, b = make_photo(sha="c" * 64), make_photo(sha="d" * 64)
    case = a.evidence.case
    PhotoMatch.objects.create(case=case, photo_a=a, photo_b=b, distance=3)
    refused(PhotoMatch.objects.create, case=case, photo_a=a, photo_b=b, distance=3)
    refused(PhotoMatch.objects.create, case=case, photo_a=b, photo_b=a, distance=3)
