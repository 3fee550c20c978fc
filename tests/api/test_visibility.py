"""What each role sees: protected sources, EXIF, GPS, originals; near-duplicates, flags,
hashes; filters and ordering."""

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from cases.activity import activity_record
from cases.models import Activity, Case
from evidence.models import Evidence, Photo, PhotoFlag, PhotoMatch
from tests.factories import ClaimFactory, LinkEvidenceFactory, ProtectedSourceFactory, SourceFactory

ROLES_BELOW_EDITOR = ("viewer", "reporter")
ROLES_EDITOR_UP = ("editor", "owner")


def make_photo(case, user, *, source=None, n=1, **photo_fields) -> Evidence:
    sha = f"{n:064x}"
    evidence = Evidence.objects.create(
        case=case,
        kind=Evidence.Kind.PHOTO,
        collected_by=user,
        source=source,
        title=f"Photo {n}",
        original=default_storage.save(f"originals/{sha}", ContentFile(b"\xff\xd8\xff" + b"x" * n)),
        original_name=f"photo-{n}.jpg",
        sha256=sha,
        size=3 + n,
        content_type="image/jpeg",
        latitude=40.1186,
        longitude=124.394,
    )
    Photo.objects.create(
        evidence=evidence,
        **{
            "status": Photo.Status.READY,
            "width": 640,
            "height": 480,
            "gps_latitude": 40.1186,
            "gps_longitude": 124.394,
            "gps_altitude": 12.0,
            "exif": {"Make": "Canon", "GPSInfo": {"GPSLatitude": [40, 7, 7]}},
            "phash": -1,
            "dhash": 1,
            **photo_fields,
        },
    )
    return evidence


@pytest.fixture
def protected(personas):
    return ProtectedSourceFactory(
        case=personas.case, name="Li Wei", pseudonym="Source in China", created_by=personas.owner
    )


@pytest.mark.parametrize("role", ROLES_BELOW_EDITOR)
def test_below_editor_a_protected_source_shows_only_its_pseudonym(as_role, protected, role):
    client = as_role(role)
    for body in (
        client.get(f"/api/v1/sources/{protected.pk}/").json(),
        client.get(f"/api/v1/cases/{protected.case_id}/sources/").json()["results"][0],
    ):
        assert body["name"] is None and body["notes"] is None
        assert body["display_name"] == body["pseudonym"] == "Source in China"
    raw = client.get(f"/api/v1/cases/{protected.case_id}/sources/").content.decode()
    assert "Li Wei" not in raw and "tea house" not in raw


@pytest.mark.parametrize("role", ROLES_EDITOR_UP)
def test_editors_and_owners_see_a_protected_source(as_role, protected, role):
    body = as_role(role).get(f"/api/v1/sources/{protected.pk}/").json()
    assert body["name"] == body["display_name"] == "Li Wei"
    assert "tea house" in body["notes"]


def test_a_reporter_cannot_change_a_protected_identity(as_role, protected):
    response = as_role("reporter").patch(
        f"/api/v1/sources/{protected.pk}/", {"name": "Someone else"}, format="json"
    )
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
    ok = as_role("reporter").patch(
        f"/api/v1/sources/{protected.pk}/", {"reliability": "A"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["name"] is None


@pytest.mark.parametrize("role", ROLES_BELOW_EDITOR)
def test_below_editor_no_exif_and_no_location_of_a_protected_sources_photo(
    personas, as_role, protected, role
):
    photo = make_photo(personas.case, personas.reporter, source=protected)
    open_photo = make_photo(personas.case, personas.reporter, n=2)
    body = as_role(role).get(f"/api/v1/evidence/{photo.pk}/").json()
    assert body["exif"] is None and body["original_url"] is None
    for field in ("gps_latitude", "gps_longitude", "gps_altitude", "latitude", "longitude"):
        assert body[field] is None, field
    assert body["source_name"] == "Source in China"
    # A photo from an unprotected source keeps its GPS; only the EXIF is for editors.
    body = as_role(role).get(f"/api/v1/evidence/{open_photo.pk}/").json()
    assert body["gps_latitude"] == 40.1186 and body["exif"] is None


@pytest.mark.parametrize("role", ROLES_EDITOR_UP)
def test_editors_see_exif_and_location(personas, as_role, protected, role):
    photo = make_photo(personas.case, personas.reporter, source=protected)
    body = as_role(role).get(f"/api/v1/evidence/{photo.pk}/").json()
    assert body["exif"]["Make"] == "Canon"
    assert body["gps_latitude"] == 40.1186 and body["latitude"] == 40.1186
    assert body["source_name"] == "Li Wei"
    assert body["original_url"].endswith(f"/api/v1/evidence/{photo.pk}/original/")


def test_hashes_are_sixteen_hex_digits(personas, as_role):
    photo = make_photo(personas.case, personas.reporter, phash=-1, dhash=0x0123456789ABCDEF)
    body = as_role("viewer").get(f"/api/v1/evidence/{photo.pk}/").json()
    assert body["phash"] == "ffffffffffffffff"
    assert body["dhash"] == "0123456789abcdef"
    photo.photo.phash = -(2**63)
    photo.photo.save()
    assert as_role("viewer").get(f"/api/v1/evidence/{photo.pk}/").json()["phash"] == (
        "8000000000000000"
    )


def test_original_downloads_as_an_attachment_and_is_recorded(personas, as_role):
    photo = make_photo(personas.case, personas.reporter)
    response = as_role("editor").get(f"/api/v1/evidence/{photo.pk}/original/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="photo-1.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == b"\xff\xd8\xffx"
    row = Activity.objects.get(verb="evidence.original_downloaded")
    assert row.actor == personas.editor and row.target_id == photo.pk
    assert row.data["sha256"] == photo.sha256


def test_original_of_a_link_is_404_and_viewers_are_refused(personas, as_role):
    link = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    assert as_role("editor").get(f"/api/v1/evidence/{link.pk}/original/").status_code == 404
    photo = make_photo(personas.case, personas.reporter)
    response = as_role("reporter").get(f"/api/v1/evidence/{photo.pk}/original/")
    assert response.status_code == 403
    assert "editor" in response.json()["detail"]
    assert not Activity.objects.filter(verb="evidence.original_downloaded").exists()


def test_similar_lists_near_duplicates_with_distances(personas, as_role, protected):
    a = make_photo(personas.case, personas.reporter, n=1, thumbnail="derivatives/a.jpg")
    b = make_photo(personas.case, personas.reporter, n=2, source=protected)
    c = make_photo(personas.case, personas.reporter, n=3)
    PhotoMatch.objects.create(
        case=personas.case, photo_a=a.photo, photo_b=b.photo, distance=4, cross_source=True
    )
    PhotoMatch.objects.create(case=personas.case, photo_a=a.photo, photo_b=c.photo, distance=2)
    body = as_role("viewer").get(f"/api/v1/evidence/{b.pk}/similar/").json()
    assert [(r["evidence"], r["distance"], r["cross_source"]) for r in body["results"]] == [
        (a.pk, 4, True)
    ]
    assert body["results"][0]["thumbnail_url"].endswith(f"/api/v1/evidence/{a.pk}/thumbnail/")
    body = as_role("viewer").get(f"/api/v1/evidence/{a.pk}/similar/").json()
    assert [(r["evidence"], r["distance"]) for r in body["results"]] == [(c.pk, 2), (b.pk, 4)]
    assert body["results"][1]["source_name"] == "Source in China"
    link = LinkEvidenceFactory(case=personas.case, collected_by=personas.reporter)
    assert as_role("viewer").get(f"/api/v1/evidence/{link.pk}/similar/").status_code == 404


def test_flags_are_listed_and_filterable(personas, as_role):
    flagged = make_photo(personas.case, personas.reporter, n=1)
    make_photo(personas.case, personas.reporter, n=2)
    PhotoFlag.objects.create(
        photo=flagged.photo, code="editing_software", message="Edited with Photoshop."
    )
    client = as_role("viewer")
    body = client.get(f"/api/v1/evidence/{flagged.pk}/").json()
    assert body["flags"] == [{"code": "editing_software", "message": "Edited with Photoshop."}]
    url = f"/api/v1/cases/{personas.case.pk}/evidence/"
    assert [e["id"] for e in client.get(url + "?flag=editing_software").json()["results"]] == [
        flagged.pk
    ]
    assert [e["id"] for e in client.get(url + "?flagged=true").json()["results"]] == [flagged.pk]
    assert client.get(url + "?flagged=false").json()["count"] == 1


def test_lists_filter_by_status_kind_source_date_and_order(personas, as_role):
    case, reporter = personas.case, personas.reporter
    source = SourceFactory(case=case, created_by=reporter)
    old = LinkEvidenceFactory(
        case=case, collected_by=reporter, observed_at=timezone.now() - timedelta(days=400)
    )
    new = LinkEvidenceFactory(
        case=case, collected_by=reporter, source=source, observed_at=timezone.now()
    )
    failed = make_photo(case, reporter, status=Photo.Status.FAILED, failure_reason="Truncated.")
    client = as_role("viewer")
    url = f"/api/v1/cases/{case.pk}/evidence/"

    def ids(query):
        response = client.get(url + query)
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids("?kind=link&ordering=observed_at") == [old.pk, new.pk]
    assert ids("?kind=link&ordering=-observed_at") == [new.pk, old.pk]
    assert ids(f"?source={source.pk}") == [new.pk]
    assert ids("?status=failed") == [failed.pk]
    since = (timezone.now() - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert ids(f"?kind=link&observed_after={since}") == [new.pk]
    assert client.get(url + "?page_size=1").json()["next"] is not None

    draft = ClaimFactory(case=case, author=reporter)
    ClaimFactory(case=case, author=reporter, status="in_review")
    claims = client.get(f"/api/v1/cases/{case.pk}/claims/?status=draft").json()["results"]
    assert [c["id"] for c in claims] == [draft.pk]
    assert client.get(f"/api/v1/cases/{case.pk}/claims/?author=bob").json()["count"] == 2
    assert client.get(f"/api/v1/cases/{case.pk}/activity/?verb=nothing").json()["count"] == 0


def test_writes_to_a_closed_case_are_refused(personas, as_role):
    owner = as_role("owner")
    case_url = f"/api/v1/cases/{personas.case.pk}/"
    assert owner.patch(case_url, {"status": "closed"}, format="json").json()["status"] == "closed"
    response = as_role("reporter").post(
        case_url + "claims/", {"statement": "Too late"}, format="json"
    )
    assert response.status_code == 403
    assert "closed" in response.json()["detail"]
    assert as_role("viewer").get(case_url + "claims/").status_code == 200
    # Only an owner reopens it.
    assert as_role("editor").patch(case_url, {"status": "open"}, format="json").status_code == 403
    assert owner.patch(case_url, {"status": "open"}, format="json").status_code == 200
    assert Case.objects.get(pk=personas.case.pk).status == "open"


def test_case_list_shows_only_my_cases_with_my_role(personas, as_role):
    body = as_role("reporter").get("/api/v1/cases/").json()
    assert [(c["id"], c["role"]) for c in body["results"]] == [(personas.case.pk, "reporter")]
    assert as_role("outsider").get("/api/v1/cases/").json()["count"] == 1


def test_activity_hides_a_protected_sources_place_below_editor(personas, as_role, protected):
    photo = make_photo(personas.case, personas.reporter, source=protected)
    response = as_role("reporter").patch(
        f"/api/v1/evidence/{photo.pk}/", {"latitude": 39.91734, "longitude": 124.1}, format="json"
    )
    assert response.status_code == 200
    # A row that carries the place (committed, as every row's place is): editors only.
    activity_record(
        case=personas.case,
        actor=personas.reporter,
        verb="evidence.updated",
        target=photo,
        data={"values": {"latitude": 39.91734, "longitude": 124.1, "place_name": "Dandong"}},
    )
    url = f"/api/v1/cases/{personas.case.pk}/activity/"
    for role in ROLES_BELOW_EDITOR:
        body = as_role(role).get(url).json()
        assert "39.91734" not in json.dumps(body)
        located = body["results"][0]  # the newest row first
        # The stated place too: below editor, a protected source's evidence has none.
        assert located["data"] == {"values": {}}
    located = as_role("editor").get(url + "?verb=evidence.updated").json()["results"][0]
    assert located["data"]["values"] == {
        "latitude": 39.91734,
        "longitude": 124.1,
        "place_name": "Dandong",
    }


def test_an_editor_reading_lists_leaves_one_reveal_per_protected_source(db):
    """Lists name protected sources to editors too: each identity shown is on the record once,
    and a reload within the window adds nothing."""
    from rest_framework.test import APIClient

    from cases.models import Activity
    from tests.factories import (
        CaseFactory,
        LinkEvidenceFactory,
        MembershipFactory,
        ProtectedSourceFactory,
        UserFactory,
    )

    editor = UserFactory(username="lists-editor")
    case = CaseFactory(created_by=editor)
    MembershipFactory(case=case, user=editor, role="editor")
    secrets = [ProtectedSourceFactory(case=case, created_by=editor) for _ in range(3)]
    for source in secrets:
        LinkEvidenceFactory(case=case, collected_by=editor, source=source)
    client = APIClient()
    client.force_authenticate(editor)
    for path in ("sources", "evidence", "sources"):
        assert client.get(f"/api/v1/cases/{case.pk}/{path}/").status_code == 200
    reveals = Activity.objects.filter(case=case, verb="source.revealed")
    assert sorted(reveals.values_list("target_id", flat=True)) == sorted(s.pk for s in secrets)
    assert all(row.data == {"via": "api"} for row in reveals)


@pytest.mark.parametrize("path", ["claims", "claim", "links", "link"])
def test_a_claim_naming_a_protected_source_leaves_a_reveal_for_an_editor_only(
    personas, as_role, protected, path
):
    """The claim endpoints show a linked item's protected source by name to editors and owners,
    as the claim's page does: the custody record says so, once within the window; a viewer,
    shown only the pseudonym, leaves nothing."""
    case, reporter = personas.case, personas.reporter
    claim = ClaimFactory(case=case, author=reporter)
    evidence = LinkEvidenceFactory(case=case, collected_by=reporter, source=protected)
    link = as_role("reporter").post(
        f"/api/v1/claims/{claim.pk}/links/",
        {"evidence": evidence.pk, "stance": "supports"},
        format="json",
    )
    url = {
        "claims": f"/api/v1/cases/{case.pk}/claims/",
        "claim": f"/api/v1/claims/{claim.pk}/",
        "links": f"/api/v1/claims/{claim.pk}/links/",
        "link": f"/api/v1/links/{link.json()['id']}/",
    }[path]
    reveals = Activity.objects.filter(case=case, verb="source.revealed", target_id=protected.pk)
    body = as_role("viewer").get(url)
    assert body.status_code == 200
    assert "Li Wei" not in body.content.decode()
    assert not reveals.exists()
    for _ in range(2):
        body = as_role("editor").get(url)
        assert "Li Wei" in body.content.decode()
    assert list(reveals.values_list("actor__username", "data")) == [
        (personas.editor.username, {"via": "api"})
    ]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_claims_links_read_the_same_in_the_claim_the_list_and_the_link(
    personas, as_role, protected, role
):
    # The claim and the claim list write their links from rows, the links endpoints from
    # instances: every kind of evidence, labels that fall back, protected or no source.
    case, reporter = personas.case, personas.reporter
    claim = ClaimFactory(case=case, author=reporter)
    untitled = make_photo(
        case, reporter, source=protected, n=7, status=Photo.Status.FAILED, failure_reason="Bad."
    )
    Evidence.objects.filter(pk=untitled.pk).update(title="")
    items = [
        untitled,
        LinkEvidenceFactory(case=case, collected_by=reporter),
        Evidence.objects.create(
            case=case,
            kind=Evidence.Kind.TESTIMONY,
            collected_by=reporter,
            source=SourceFactory(case=case, created_by=reporter),
            text="The goods were trucked away on 17 May. " * 5,
        ),
    ]
    client = as_role("editor")
    for evidence, stance in zip(items, ["supports", "contradicts", "context"], strict=True):
        response = client.post(
            f"/api/v1/claims/{claim.pk}/links/",
            {"evidence": evidence.pk, "stance": stance, "note": stance},
            format="json",
        )
        assert response.status_code == 201, response.content
    client = as_role(role)
    links = client.get(f"/api/v1/claims/{claim.pk}/links/").json()["results"]
    in_claim = client.get(f"/api/v1/claims/{claim.pk}/").json()["links"]
    in_list = next(
        row
        for row in client.get(f"/api/v1/cases/{case.pk}/claims/?page_size=200").json()["results"]
        if row["id"] == claim.pk
    )["links"]
    assert in_list == in_claim
    assert [
        link for stance in ("supports", "contradicts", "context") for link in in_claim[stance]
    ] == links
    for link in links:
        assert client.get(f"/api/v1/links/{link['id']}/").json() == link
    photo, web, testimony = (link["evidence"] for link in links)
    assert photo["label"] == "photo-7.jpg" and photo["status"] == "failed"
    expected = "Li Wei" if role == "editor" else "Source in China"
    assert photo["source_name"] == expected
    assert web["label"].startswith("https://") and web["source_name"] is None
    assert web["status"] is None
    assert testimony["label"] == items[2].text[:80]


@pytest.mark.parametrize("role", ROLES_BELOW_EDITOR)
def test_below_editor_no_stated_place_of_a_protected_sources_evidence(as_role, protected, role):
    item = Evidence.objects.create(
        case=protected.case,
        kind="testimony",
        source=protected,
        text="Trucked to Longkou.",
        place_name="Longkou port",
        latitude=37.65,
        longitude=120.3,
        collected_by=protected.created_by,
    )
    response = as_role(role).get(f"/api/v1/evidence/{item.pk}/")
    body = response.json()
    assert (body["place_name"], body["latitude"], body["longitude"]) == ("", None, None)
    assert "Longkou port" not in response.content.decode()
    listed = as_role(role).get(f"/api/v1/cases/{protected.case_id}/evidence/")
    assert "Longkou port" not in listed.content.decode()
    editor = as_role("editor").get(f"/api/v1/evidence/{item.pk}/").json()
    assert editor["place_name"] == "Longkou port"
