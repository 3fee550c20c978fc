"""A small case for the custody, export and source-protection tests: a protected source whose
photo carries GPS, a public photographer's photo, testimony, a web link, claims linked for and
against, one of them reviewed.

    things = custody_case(personas, capture=django_capture_on_commit_callbacks)

Or, made once and restored into each test of a module that asks (tests/snapshot.py):

    _custody_snapshot, _custody_world, personas, things = custody_fixtures()
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.test import TestCase, override_settings
from django.urls import reverse

from cases.models import Claim
from cases.services import claim_create, claim_review, claim_submit
from evidence.models import Evidence, Source
from evidence.services.assignments import work_assign
from evidence.services.evidence import evidence_create, photo_ingest
from evidence.services.links import evidence_link
from evidence.services.sources import source_create
from evidence.services.texts import text_read_queue
from tests.api.conftest import token_client
from tests.conftest import Personas, make_personas
from tests.images import jpeg_bytes, upload
from tests.snapshot import session_snapshot

# What a viewer must never see, anywhere.
PROTECTED_NAME = "Zhang Wei-Protected"
PROTECTED_NOTES = "Reachable on +86 555 0199 via the tea house on Jinqiao Road"
PSEUDONYM = "Source in China"
# The protected source's photo: EXIF GPS, and the place the reporter stated for it.
SECRET_GPS = (40.1186, 124.3940)
STATED = (40.1194, 124.3862)
# Where a reporter later corrected that place to (an edit recorded in the activity record).
CORRECTED = (40.1201, 124.3871)


@dataclass
class Things:
    protected: Source
    public: Source
    secret_photo: Evidence
    public_photo: Evidence
    testimony: Evidence
    link: Evidence
    never_left: Claim
    arrived: Claim


def secret_strings() -> list[bytes]:
    """Byte strings that must not appear in what a viewer receives."""
    lat, lon = SECRET_GPS
    slat, slon = STATED
    clat, clon = CORRECTED
    return [
        f"{clat}".encode(),
        f"{clon}".encode(),
        PROTECTED_NAME.encode(),
        PROTECTED_NOTES.encode(),
        b"Zhang Wei",
        b"555 0199",
        f"{lat}".encode(),
        f"{lon}".encode(),
        f"{slat}".encode(),
        f"{slon}".encode(),
    ]


def leaks(data: bytes) -> list[bytes]:
    return [s for s in secret_strings() if s in data]


def custody_case(personas, *, capture) -> Things:
    case, reporter, editor = personas.case, personas.reporter, personas.editor
    protected = source_create(
        actor=editor,
        case=case,
        kind="person",
        name=PROTECTED_NAME,
        protected=True,
        pseudonym=PSEUDONYM,
        reliability="B",
        notes=PROTECTED_NOTES,
    )
    public = source_create(
        actor=reporter, case=case, kind="own_reporting", name="Newsroom photographer"
    )
    with capture(execute=True):
        secret_photo, _ = photo_ingest(
            actor=reporter,
            case=case,
            file=upload(
                jpeg_bytes(
                    seed=1,
                    taken_at="2024:05:25 10:00:00",
                    offset="+08:00",
                    make="Canon",
                    model="EOS R6",
                    gps=SECRET_GPS,
                ),
                "empty-train.jpg",
            ),
            source=protected,
            title="The empty train, 25 May",
            observed_at=datetime(2024, 5, 25, 2, 0, tzinfo=UTC),
            place_name="Dandong station",
            latitude=STATED[0],
            longitude=STATED[1],
        )
        public_photo, _ = photo_ingest(
            actor=reporter,
            case=case,
            file=upload(
                jpeg_bytes(seed=2, taken_at="2024:05:14 09:30:00", offset="+08:00", make="Nikon"),
                "loaded-train.jpg",
            ),
            source=public,
            title="The loaded train, 14 May",
            observed_at=datetime(2024, 5, 14, 1, 30, tzinfo=UTC),
            place_name="Dandong station",
            sensitive=True,
        )
    # The protected source's photo has its text read too (OCR, after ready), so that the pages,
    # the API and the exports checked against these secrets show a reading of a protected item.
    # Where Tesseract is absent the reading is `skipped`, with its note: shown all the same.
    with override_settings(CASEFILE_OCR=True), capture(execute=True):
        text_read_queue(evidence=secret_photo)
    testimony = evidence_create(
        actor=reporter,
        case=case,
        kind="testimony",
        source=protected,
        text="The goods were trucked to Longkou on 17 May.",
        stated_on=datetime(2024, 5, 28).date(),
    )
    link = evidence_create(
        actor=reporter,
        case=case,
        kind="link",
        url="https://news.example.org/april-report",
        title="April report: the train arrived in North Korea",
    )
    never_left = claim_create(
        actor=reporter,
        case=case,
        statement="The train never left Dandong since January of last year",
    )
    arrived = claim_create(
        actor=reporter,
        case=case,
        statement="The train left China and arrived in North Korea in April",
    )
    evidence_link(actor=reporter, claim=never_left, evidence=secret_photo, stance="supports")
    evidence_link(actor=reporter, claim=never_left, evidence=public_photo, stance="context")
    evidence_link(actor=reporter, claim=arrived, evidence=secret_photo, stance="contradicts")
    evidence_link(actor=reporter, claim=arrived, evidence=link, stance="supports")
    claim_submit(actor=reporter, claim=never_left)
    claim_review(actor=editor, claim=never_left, decision="supported", note="Two photos agree.")
    # Notifications naming the protected source's evidence (rendered per recipient).
    work_assign(actor=editor, target=secret_photo, assignee=personas.viewer)
    work_assign(actor=editor, target=testimony, assignee=reporter)
    for item in (secret_photo, public_photo):
        item.refresh_from_db()
    return Things(
        protected=protected,
        public=public,
        secret_photo=secret_photo,
        public_photo=public_photo,
        testimony=testimony,
        link=link,
        never_left=never_left,
        arrived=arrived,
    )


@dataclass
class CustodyWorld:
    personas: Personas
    things: Things


def build_custody_world() -> CustodyWorld:
    personas = make_personas()
    # What the django_capture_on_commit_callbacks fixture gives a test: the photos processed.
    things = custody_case(personas, capture=TestCase.captureOnCommitCallbacks)
    return CustodyWorld(personas=personas, things=things)


def custody_fixtures(build: Callable[[], CustodyWorld] = build_custody_world) -> tuple:
    """The fixtures of a module whose tests share the custody case, made once by `build`:

        _custody_snapshot, _custody_world, personas, things = custody_fixtures()

    `things` is a restored copy in each test; `personas` are its people in a test that has
    `things` (one case, not two), and a case of their own in any other test of the module."""
    snapshot = session_snapshot(build)

    @pytest.fixture
    def world(_custody_snapshot, db) -> CustodyWorld:
        return _custody_snapshot.restore()

    @pytest.fixture
    def personas(request, db) -> Personas:
        if "things" in request.fixturenames:
            return request.getfixturevalue("_custody_world").personas
        return make_personas()

    @pytest.fixture
    def things(_custody_world) -> Things:
        return _custody_world.things

    return snapshot, world, personas, things


# --- Every door, for the tests that read them all ------------------------------------------


def content(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


# Searches for a protected source's name, its contact details and place, its pseudonym, and
# what everyone may find.
SEARCHES = ("Zhang", "Wei", "555", "tea house", "Source in China", "train", "40.11", "Dandong")


def api_urls(personas, things) -> list[str]:
    case = personas.case.pk
    urls = [
        reverse("api:case-list"),
        reverse("api:case-detail", kwargs={"case_id": case}),
        reverse("api:case-members", kwargs={"case_id": case}),
        reverse("api:case-sources", kwargs={"case_id": case}),
        reverse("api:case-evidence", kwargs={"case_id": case}),
        # The text read in photos and documents (a document's below editor: nothing).
        reverse("api:case-evidence", kwargs={"case_id": case}) + "?ocr_text=Dandong",
        reverse("api:case-claims", kwargs={"case_id": case}),
        reverse("api:case-activity", kwargs={"case_id": case}) + "?page_size=200",
        reverse("api:source-detail", kwargs={"pk": things.protected.pk}),
        reverse("api:notifications"),
        reverse("api:review-inbox"),
    ]
    for item in (things.secret_photo, things.public_photo, things.testimony, things.link):
        for name in ("evidence-detail", "evidence-custody", "evidence-comments"):
            urls.append(reverse(f"api:{name}", kwargs={"pk": item.pk}))
    for item in (things.secret_photo, things.public_photo):
        for name in ("evidence-similar", "evidence-thumbnail", "evidence-preview"):
            urls.append(reverse(f"api:{name}", kwargs={"pk": item.pk}))
    urls.append(reverse("api:evidence-captures", kwargs={"pk": things.link.pk}))
    for claim in (things.never_left, things.arrived):
        for name in ("claim-detail", "claim-links", "claim-history", "claim-comments"):
            urls.append(reverse(f"api:{name}", kwargs={"pk": claim.pk}))
    for q in SEARCHES:
        urls.append(reverse("api:search") + f"?q={q}")
    return urls


def page_urls(personas, things) -> list[str]:
    case = personas.case.pk
    urls = [
        reverse("web:case_list"),
        reverse("web:case_dashboard", kwargs={"case_id": case}),
        reverse("web:evidence_gallery", kwargs={"case_id": case}),
        reverse("web:claim_board", kwargs={"case_id": case}),
        reverse("web:source_list", kwargs={"case_id": case}),
        reverse("web:timeline", kwargs={"case_id": case}),
        reverse("web:case_map", kwargs={"case_id": case}),
        reverse("web:photo_compare", kwargs={"case_id": case})
        + f"?a={things.secret_photo.pk}&b={things.public_photo.pk}",
        reverse("web:case_activity", kwargs={"case_id": case}),
        reverse("web:notifications"),
        reverse("web:notifications_count"),
        reverse("web:review_inbox"),
    ]
    for item in (things.secret_photo, things.public_photo, things.testimony, things.link):
        urls.append(reverse("web:evidence_detail", kwargs={"evidence_id": item.pk}))
        urls.append(reverse("web:evidence_card", kwargs={"evidence_id": item.pk}))
    for claim in (things.never_left, things.arrived):
        urls.append(reverse("web:claim_detail", kwargs={"claim_id": claim.pk}))
    for q in SEARCHES:
        urls.append(reverse("web:search") + f"?q={q}")
        urls.append(reverse("web:search_quick") + f"?q={q}")
    for item in (things.secret_photo, things.public_photo):
        urls.append(reverse("web:search_image") + f"?evidence={item.pk}")
    return urls


def editors_bundle(personas, capture, *, originals: bool) -> bytes:
    """The bytes of a bundle an editor exports (without identities) and downloads."""
    client = token_client(personas.editor)
    with capture(execute=True):
        created = client.post(
            reverse("api:case-exports", kwargs={"case_id": personas.case.pk}),
            {"originals": originals},
            format="json",
        ).json()
    return content(client.get(reverse("api:export-download", kwargs={"pk": created["id"]})))
