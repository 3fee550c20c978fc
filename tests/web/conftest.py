"""The web tests' world: the Dandong case with a protected source, both train photos processed,
a web link, testimony and claims in several states, made through the services.

Made once per session (processing the photos is most of a second) and restored into each test
that asks for it, as a copy of its own (tests/snapshot.py)."""

import functools
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services as case_services
from cases.models import Claim
from demo.story import CHINA, DANDONG, LONGKOU, train_photo
from evidence.models import Evidence, Source
from evidence.services import evidence as evidence_services
from evidence.services import links as link_services
from evidence.services import sources as source_services
from evidence.services.photos import photo_process
from tests.conftest import make_personas
from tests.snapshot import session_snapshot

# The browser tests' shared browser, live server and tabs: one definition for every module.
from tests.web.browsing import chromium, server, visit  # noqa: F401 - fixtures


@functools.cache  # drawing it takes most of a second; the bytes never change
def demo_photo(day: int) -> bytes:
    """The demo case's 14 May (loaded) or 25 May (empty) train photo, with its EXIF."""
    taken = datetime(2026, 5, day, 10, 40, tzinfo=CHINA)
    return train_photo(loaded=day == 14, taken=taken, place=DANDONG)


@dataclass
class World:
    personas: object
    photographer: Source
    china: Source
    photo14: Evidence
    photo25: Evidence
    link: Evidence
    testimony: Evidence
    draft: Claim
    in_review: Claim
    editors_claim: Claim

    @property
    def case(self):
        return self.personas.case


def build_world() -> World:
    personas = make_personas()
    case, bob, erin = personas.case, personas.reporter, personas.editor
    photographer = source_services.source_create(
        actor=bob, case=case, kind="own_reporting", name="Newsroom photographer", reliability="A"
    )
    china = source_services.source_create(
        actor=bob,
        case=case,
        kind="person",
        name="Zhang Min",
        protected=True,
        pseudonym="Source in China",
        reliability="B",
        notes="Freight forwarder in Dandong; reach through the Shenyang stringer.",
    )
    photos = {}
    for day in (14, 25):
        evidence, _ = evidence_services.photo_ingest(
            actor=bob,
            case=case,
            file=SimpleUploadedFile(f"IMG_05{day}.jpg", demo_photo(day), "image/jpeg"),
            source=photographer,
            title=f"Train at Dandong station, {day} May",
            observed_at=datetime(2026, 5, day, 10, 40, tzinfo=CHINA),
            place_name=DANDONG[0],
            latitude=DANDONG[1],
            longitude=DANDONG[2],
        )
        # The test transaction never commits, so the queued task never runs: process here.
        photo_process(photo_id=evidence.pk)
        evidence.refresh_from_db()
        photos[day] = evidence
    link = evidence_services.evidence_create(
        actor=bob,
        case=case,
        kind="link",
        url="https://news.example.org/2026/04/train-arrives",
        title="April report: the train arrived in North Korea",
        observed_at=datetime(2026, 4, 9, 12, 0, tzinfo=CHINA),
    )
    testimony = evidence_services.evidence_create(
        actor=bob,
        case=case,
        kind="testimony",
        source=china,
        text="The goods were trucked to Longkou on 17 May.",
        stated_on=date(2026, 5, 28),
        place_name=LONGKOU[0],
        latitude=LONGKOU[1],
        longitude=LONGKOU[2],
        title="Source in China on the cargo",
    )
    draft = case_services.claim_create(
        actor=bob, case=case, statement="The train never left Dandong since January"
    )
    in_review = case_services.claim_create(
        actor=bob,
        case=case,
        statement="The cargo was trucked to Longkou",
        occurred_on=date(2026, 5, 17),
    )
    link_services.evidence_link(
        actor=bob, claim=in_review, evidence=testimony, stance="supports", note="Says so."
    )
    link_services.evidence_link(actor=bob, claim=in_review, evidence=link, stance="contradicts")
    case_services.claim_submit(actor=bob, claim=in_review)
    editors_claim = case_services.claim_create(
        actor=erin, case=case, statement="The train arrived in North Korea in April"
    )
    case_services.claim_submit(actor=erin, claim=editors_claim)
    return World(
        personas=personas,
        photographer=photographer,
        china=china,
        photo14=photos[14],
        photo25=photos[25],
        link=link,
        testimony=testimony,
        draft=draft,
        in_review=in_review,
        editors_claim=editors_claim,
    )


_world_snapshot = session_snapshot(build_world)


@pytest.fixture
def world(_world_snapshot, db) -> World:
    """The world, in this test's database and media folder."""
    return _world_snapshot.restore()


@pytest.fixture
def personas(request, db):
    """The world's people when the test has the world (one case, not two); otherwise a case of
    their own, as everywhere else."""
    if "world" in request.fixturenames:
        return request.getfixturevalue("world").personas
    return make_personas()


@pytest.fixture
def client_for(client):
    """A test client signed in as the persona of the given role."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
