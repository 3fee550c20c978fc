"""Below editor, a protected source's identity and the place of its evidence never reach the
reader, by any door: every API endpoint, every page (the activity feed on the dashboard and the
case list, search, timeline, map, compare, the edit forms) and the bundle of an export made
without identities.

Scenarios (issue #12): a source protected after it was created and renamed, its evidence's place
stated and corrected while it was open; a protected source's photo with EXIF GPS and stated
coordinates; a deleted item of a protected source; a guess of a protected source's name; a
protected source's photo whose IPTC names a place (city, sublocation, country) and a byline.
"""

import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, TestCase
from django.urls import reverse

from cases.models import Activity
from evidence.models import Evidence, Source
from evidence.selectors import REVEAL_VERB
from evidence.services.custody import evidence_delete
from evidence.services.evidence import evidence_create, evidence_update, photo_ingest
from evidence.services.sources import source_create, source_update
from tests.api.conftest import token_client
from tests.custody_case import (
    CORRECTED,
    PROTECTED_NAME,
    CustodyWorld,
    api_urls,
    build_custody_world,
    content,
    editors_bundle,
    page_urls,
    secret_strings,
)
from tests.images import jpeg_bytes, upload, with_iptc
from tests.snapshot import session_snapshot

pytestmark = pytest.mark.django_db

# The source a reporter added in the open and an editor protected later.
LATE_NAME, LATE_RENAMED = "Kim Chol-su", "Kim Chol-jin"
LATE_NOTES = "Works nights at the Sinuiju yard"
LATE_PSEUDONYM = "Rail worker"
YARD, YARD_CORRECTED = (40.0992, 124.4011), (40.0996, 124.4017)
YARD_NAME = "Sinuiju freight yard"
# A protected source's item, deleted: its place stays out of every redacted copy.
GONE = (40.0871, 124.3655)
GONE_PLACE = "Behind the Dandong customs shed"
# What a protected source's photo says in its IPTC: a place and a byline (the source).
FILED = {
    "caption": "Wagons at the depot",
    "byline": "Ri Kwang-il",
    "credit": "Ri Kwang-il / stringer",
    "copyright": "(c) Ri Kwang-il",
    "city": "Kwaksan county",
    "sublocation": "Behind the Namsi depot",
    "country": "Tongrim land",
}


def secrets() -> list[bytes]:
    late = [
        b"Kim Chol",
        LATE_NOTES.encode(),
        YARD_NAME.encode(),
        GONE_PLACE.encode(),
        *(f"{v}".encode() for v in (*YARD, *YARD_CORRECTED, *GONE)),
        b"Ri Kwang-il",
        b"Kwaksan",
        b"Namsi depot",
        b"Tongrim",
    ]
    return [*secret_strings(), *late]


def leaks(body: bytes) -> list[bytes]:
    return [s for s in secrets() if s in body]


@dataclass
class MatrixWorld(CustodyWorld):
    late: Source
    said: Evidence
    gone: Evidence
    filed: Evidence


def build_matrix() -> MatrixWorld:
    """The custody case, plus the late-protected source and its corrected testimony, and a
    deleted item of the protected source."""
    base = build_custody_world()
    personas, things = base.personas, base.things
    reporter, editor = personas.reporter, personas.editor
    evidence_update(
        actor=reporter,
        evidence=things.secret_photo,
        latitude=CORRECTED[0],
        longitude=CORRECTED[1],
        place_name="Dandong station, platform 3",
    )
    # Added in the open, renamed, its testimony's place stated and corrected, then protected.
    late = source_create(
        actor=reporter, case=personas.case, kind="person", name=LATE_NAME, notes=LATE_NOTES
    )
    source_update(actor=reporter, source=late, name=LATE_RENAMED)
    said = evidence_create(
        actor=reporter,
        case=personas.case,
        kind="testimony",
        source=late,
        text="The wagons stood empty all week.",
        place_name=YARD_NAME,
        latitude=YARD[0],
        longitude=YARD[1],
    )
    evidence_update(actor=reporter, evidence=said, latitude=YARD_CORRECTED[0])
    evidence_update(actor=reporter, evidence=said, longitude=YARD_CORRECTED[1])
    source_update(actor=editor, source=late, protected=True, pseudonym=LATE_PSEUDONYM)
    gone = evidence_create(
        actor=reporter,
        case=personas.case,
        kind="testimony",
        source=things.protected,
        text="They unloaded at night.",
        place_name=GONE_PLACE,
        latitude=GONE[0],
        longitude=GONE[1],
    )
    evidence_delete(actor=editor, evidence=gone, reason="Told us twice")
    with TestCase.captureOnCommitCallbacks(execute=True):
        filed, _ = photo_ingest(
            actor=reporter,
            case=personas.case,
            file=upload(with_iptc(jpeg_bytes(seed=11), **FILED), "filed.jpg"),
            source=things.protected,
        )
    return MatrixWorld(
        personas=personas, things=things, late=late, said=said, gone=gone, filed=filed
    )


# Made once per module, restored into each test (tests/snapshot.py).
_matrix_snapshot = session_snapshot(build_matrix)


@pytest.fixture
def matrix(_matrix_snapshot, db) -> MatrixWorld:
    return _matrix_snapshot.restore()


@pytest.fixture
def personas(matrix):
    return matrix.personas


@pytest.fixture
def world(matrix):
    return matrix.things, matrix.late, matrix.said, matrix.gone, matrix.filed


def urls(personas, world) -> tuple[list[str], list[str]]:
    things, late, said, gone, filed = world
    api = api_urls(personas, things) + [
        reverse("api:evidence-detail", kwargs={"pk": filed.pk}),
        reverse("api:source-detail", kwargs={"pk": late.pk}),
        reverse("api:evidence-detail", kwargs={"pk": said.pk}),
        reverse("api:evidence-custody", kwargs={"pk": said.pk}),
        reverse("api:case-webhooks", kwargs={"case_id": personas.case.pk}),
    ]
    pages = page_urls(personas, things) + [
        reverse("web:evidence_detail", kwargs={"evidence_id": said.pk}),
        reverse("web:evidence_edit", kwargs={"evidence_id": said.pk}),
        reverse("web:evidence_edit", kwargs={"evidence_id": things.secret_photo.pk}),
        reverse("web:evidence_custody", kwargs={"evidence_id": said.pk}),
        reverse("web:evidence_custody", kwargs={"evidence_id": things.secret_photo.pk}),
        reverse("web:evidence_detail", kwargs={"evidence_id": gone.pk}),
        reverse("web:evidence_detail", kwargs={"evidence_id": filed.pk}),
        reverse("web:photo_compare", args=[personas.case.pk])
        + f"?a={filed.pk}&b={things.public_photo.pk}",
        reverse("web:source_edit", kwargs={"source_id": late.pk}),
        reverse("web:source_edit", kwargs={"source_id": things.protected.pk}),
        reverse("web:bulk_import", kwargs={"case_id": personas.case.pk}),
        reverse("web:webhook_list", kwargs={"case_id": personas.case.pk}),
        reverse("web:token_list"),
    ]
    guesses = ("Kim", "Sinuiju", "yard", "customs", "Kwaksa", "Ri Kwang")
    pages += [
        reverse(name) + f"?q={q}" for q in guesses for name in ("web:search", "web:search_quick")
    ]
    api += [reverse("api:search") + f"?q={q}" for q in guesses]
    return api, pages


@pytest.mark.parametrize("role", ["viewer", "reporter"])
def test_below_editor_no_door_gives_a_protected_identity_or_place(personas, world, role):
    api_list, page_list = urls(personas, world)
    api = token_client(personas.by_role(role))
    pages = Client()
    pages.force_login(personas.by_role(role))
    checked = []
    for client, url_list in ((api, api_list), (pages, page_list)):
        for url in url_list:
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
            assert leaks(content(response)) == [], url
            checked.append(response.status_code)
    assert len(checked) > 60 and checked.count(200) > 55


def test_an_editor_sees_them_so_the_matrix_can_fail(personas, world):
    api_list, page_list = urls(personas, world)
    api = token_client(personas.editor)
    pages = Client()
    pages.force_login(personas.editor)
    found = set()
    for url in api_list:
        found.update(leaks(content(api.get(url))))
    for url in page_list:
        found.update(leaks(content(pages.get(url))))
    # The earlier names in the activity feed, the notes, the corrected places.
    for expected in (b"Kim Chol", LATE_NOTES.encode(), YARD_NAME.encode(), b"40.0996"):
        assert expected in found, expected
    # The place and byline the photo's IPTC gives.
    for expected in (b"Ri Kwang-il", b"Kwaksan", b"Namsi depot", b"Tongrim"):
        assert expected in found, expected


def test_every_door_that_names_a_protected_source_to_an_editor_records_it(
    personas, world, monkeypatch
):
    """The reader's view notes each protected identity a door shows, and the end of the
    request records it: wherever a protected name is in the bytes an editor gets, the custody
    record says so, for that source and door; where it is not, nothing is recorded."""
    things, late, *_ = world
    monkeypatch.setattr("evidence.reader.REVEAL_WINDOW", timedelta(0))  # every request counts
    names = {things.protected.pk: PROTECTED_NAME.encode(), late.pk: LATE_RENAMED.encode()}
    reveals = Activity.objects.filter(verb=REVEAL_VERB, actor=personas.editor)
    api_list, page_list = urls(personas, world)
    api = token_client(personas.editor)
    pages = Client()
    pages.force_login(personas.editor)
    named = 0
    for client, via, url_list in ((api, "api", api_list), (pages, "page", page_list)):
        for url in url_list:
            last = reveals.order_by("-id").values_list("id", flat=True).first() or 0
            body = content(client.get(url))
            new = reveals.filter(pk__gt=last)
            shown = {pk for pk, name in names.items() if name in body}
            assert set(new.values_list("target_id", flat=True)) == shown, url
            assert set(new.values_list("data__via", flat=True)) <= {via}, url
            named += bool(shown)
    assert named > 20


def test_an_export_without_identities_holds_none(
    personas, world, django_capture_on_commit_callbacks
):
    data = editors_bundle(personas, django_capture_on_commit_callbacks, originals=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert "manifest.json" in names and "report.html" in names
        for name in names:
            assert leaks(archive.read(name)) == [], name


def test_a_search_on_the_place_a_protected_photo_names_finds_it_only_for_editors(personas, world):
    filed = world[4]
    for role, expected in (("viewer", []), ("reporter", []), ("editor", [filed])):
        client = Client()
        client.force_login(personas.by_role(role))
        for q in ("Kwaksa", "Namsi", "Tongri", "Ri Kwang"):
            results = client.get(reverse("web:search"), {"q": q}).context["results"]
            hits = [h.object_id for h in results.hits if h.type == "evidence"]
            assert hits == [e.pk for e in expected], (role, q)
            assert results.total == len(expected), (role, q)


def test_a_guess_of_a_protected_name_gets_the_same_answer_as_any_pseudonym(personas, world):
    _, late, _, _, _ = world
    answers = []
    for guess in (LATE_RENAMED, "Somebody else"):
        with pytest.raises(PermissionDenied) as refused:
            source_update(actor=personas.reporter, source=late, pseudonym=guess)
        answers.append(str(refused.value))
    assert answers[0] == answers[1]
    api = token_client(personas.reporter)
    url = reverse("api:source-detail", kwargs={"pk": late.pk})
    bodies = [
        (r.status_code, r.content)
        for r in (api.patch(url, {"pseudonym": g}, format="json") for g in (LATE_RENAMED, "X"))
    ]
    assert bodies[0] == bodies[1] and bodies[0][0] == 403


def test_the_activity_feed_names_a_late_protected_source_by_its_pseudonym(personas, world):
    _, late, _, _, _ = world
    url = reverse("api:case-activity", kwargs={"case_id": personas.case.pk}) + "?page_size=200"

    def source_rows(user):
        rows = token_client(user).get(url).json()["results"]
        return [r for r in rows if r["target_type"] == "source" and r["target_id"] == late.pk]

    viewer = source_rows(personas.viewer)
    assert {r["verb"] for r in viewer} >= {"source.created", "source.updated"}
    assert {r["target_label"] for r in viewer} == {LATE_PSEUDONYM}
    assert all("name" not in (r["data"].get("values") or {}) for r in viewer)
    # An editor reads the names it had, as the rows were written; that is a reveal.
    editor = source_rows(personas.editor)
    assert {LATE_NAME, LATE_RENAMED} <= {r["target_label"] for r in editor}
    renamed = next(r for r in editor if r["data"].get("values", {}).get("name"))
    assert renamed["data"]["values"]["name"] == LATE_RENAMED
    assert Activity.objects.filter(
        verb=REVEAL_VERB, actor=personas.editor, target_id=late.pk, data__via="api"
    ).exists()
