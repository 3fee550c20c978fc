"""The custody and export endpoints, evidence deletion through the API, and source protection
across every door a viewer can reach (API, pages, search, exports): the bytes of each response
are searched for the protected source's name, notes and the coordinates of its photo."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from cases.models import Activity
from evidence.bundle.verify import bundle_verify
from evidence.models import Evidence, Export
from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_update, photo_ingest
from evidence.services.exports import exports_expire
from tests.api.conftest import token_client
from tests.custody_case import (
    CORRECTED,
    STATED,
    CustodyWorld,
    api_urls,
    build_custody_world,
    content,
    custody_fixtures,
    editors_bundle,
    leaks,
    page_urls,
)
from tests.images import jpeg_bytes, upload


def build_world() -> CustodyWorld:
    world = build_custody_world()
    personas, things = world.personas, world.things
    # An edit of the protected photo's place: its record must not carry the place to a viewer.
    evidence_update(
        actor=personas.reporter,
        evidence=things.secret_photo,
        latitude=CORRECTED[0],
        longitude=CORRECTED[1],
        place_name="Dandong station, platform 3",
    )
    comment_create(actor=personas.reporter, evidence=things.secret_photo, text="Same cars?")
    return world


# Made once and restored into each test (tests/custody_case.py).
_custody_snapshot, _custody_world, personas, things = custody_fixtures(build_world)


# --- Custody ----------------------------------------------------------------------------------


def test_custody_endpoint_lists_the_items_events_in_order(personas, things):
    response = token_client(personas.viewer).get(
        reverse("api:evidence-custody", kwargs={"pk": things.public_photo.pk})
    )
    assert response.status_code == 200
    body = response.json()
    assert body["sha256"] == things.public_photo.sha256 and body["deleted"] is None
    verbs = [e["verb"] for e in body["events"]]
    assert verbs[0] == "evidence.received"
    assert {"photo.processed", "link.created"} <= set(verbs)
    received = body["events"][0]
    assert received["data"]["sha256"] == things.public_photo.sha256
    assert received["actor"] == "bob" and len(received["hash"]) == 64
    processed = next(e for e in body["events"] if e["verb"] == "photo.processed")
    assert processed["data"]["derived_from"] == things.public_photo.sha256
    assert processed["data"]["software"]["pillow"]


def test_outsider_gets_404_for_custody_and_exports(personas, things):
    client = token_client(personas.outsider)
    export = Export.objects.create(case=personas.case, requested_by=personas.owner)
    for url in (
        reverse("api:evidence-custody", kwargs={"pk": things.public_photo.pk}),
        reverse("api:case-exports", kwargs={"case_id": personas.case.pk}),
        reverse("api:export-detail", kwargs={"pk": export.pk}),
        reverse("api:export-download", kwargs={"pk": export.pk}),
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        reverse("api:case-exports", kwargs={"case_id": personas.case.pk}), {}, format="json"
    )
    assert response.status_code == 404
    response = client.delete(
        reverse("api:evidence-detail", kwargs={"pk": things.link.pk}),
        {"reason": "mine now"},
        format="json",
    )
    assert response.status_code == 404
    assert not Evidence.objects.filter(deleted_at__isnull=False).exists()


# --- Exports ----------------------------------------------------------------------------------


def test_export_is_accepted_polled_and_downloaded_as_a_verifiable_bundle(
    personas, things, django_capture_on_commit_callbacks, tmp_path
):
    client = token_client(personas.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api:case-exports", kwargs={"case_id": personas.case.pk}),
            {"originals": True, "reveal_protected": False},
            format="json",
        )
    assert response.status_code == 202
    body = response.json()
    assert set(body) >= {"id", "status", "progress", "download_url"}
    polled = client.get(reverse("api:export-detail", kwargs={"pk": body["id"]})).json()
    assert polled["status"] == "ready" and polled["progress"] == 100
    assert polled["download_url"].endswith(f"/api/v1/exports/{body['id']}/download/")
    download = client.get(polled["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(content(download))
    assert bundle_verify(path).intact
    assert download["X-Content-SHA256"] == polled["sha256"]
    assert Activity.objects.filter(verb="export.downloaded", actor=personas.owner).count() == 1
    listed = client.get(reverse("api:case-exports", kwargs={"case_id": personas.case.pk}))
    assert [e["id"] for e in listed.json()["results"]] == [body["id"]]


def test_a_queued_export_has_no_download_url_and_its_download_is_a_conflict(personas, things):
    export = Export.objects.create(case=personas.case, requested_by=personas.owner)
    client = token_client(personas.editor)
    body = client.get(reverse("api:export-detail", kwargs={"pk": export.pk})).json()
    assert body["status"] == "queued" and body["download_url"] is None
    response = client.get(reverse("api:export-download", kwargs={"pk": export.pk}))
    assert response.status_code == 409


def test_only_owners_export_protected_identities(
    personas, things, django_capture_on_commit_callbacks
):
    url = reverse("api:case-exports", kwargs={"case_id": personas.case.pk})
    body = {"originals": False, "reveal_protected": True}
    response = token_client(personas.editor).post(url, body, format="json")
    assert response.status_code == 403 and "owner" in response.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(personas.owner).post(url, body, format="json")
    assert response.status_code == 202
    # A bundle with identities is downloaded by owners only.
    download = reverse("api:export-download", kwargs={"pk": response.json()["id"]})
    assert token_client(personas.editor).get(download).status_code == 403


def test_an_expired_export_keeps_its_row_and_its_download_is_gone(
    personas, things, django_capture_on_commit_callbacks
):
    client = token_client(personas.owner)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            reverse("api:case-exports", kwargs={"case_id": personas.case.pk}), {}, format="json"
        ).json()
    detail = reverse("api:export-detail", kwargs={"pk": created["id"]})
    body = client.get(detail).json()
    assert body["status"] == "ready" and body["expired_at"] is None
    finished = Export.objects.get(pk=created["id"]).finished_at
    assert parse_datetime(body["expires_at"]) == finished + timedelta(days=7)
    Export.objects.filter(pk=created["id"]).update(finished_at=finished - timedelta(days=8))
    assert exports_expire() == [created["id"]]
    body = client.get(detail).json()
    assert body["status"] == "expired" and body["download_url"] is None
    assert body["expired_at"] and body["expires_at"] is None and body["sha256"]
    response = client.get(reverse("api:export-download", kwargs={"pk": created["id"]}))
    assert response.status_code == 410
    assert set(response.json()) == {"detail"}
    assert "expired" in response.json()["detail"] and "again" in response.json()["detail"]
    listed = client.get(reverse("api:case-exports", kwargs={"case_id": personas.case.pk}))
    assert [(e["id"], e["status"]) for e in listed.json()["results"]] == [
        (created["id"], "expired")
    ]


@pytest.mark.parametrize("role", ["reporter", "viewer"])
def test_reporters_and_viewers_cannot_export_or_see_exports(personas, things, role):
    client = token_client(personas.by_role(role))
    url = reverse("api:case-exports", kwargs={"case_id": personas.case.pk})
    assert client.post(url, {"originals": False}, format="json").status_code == 403
    assert client.get(url).status_code == 403


def test_export_options_must_be_booleans(personas, things):
    url = reverse("api:case-exports", kwargs={"case_id": personas.case.pk})
    response = token_client(personas.owner).post(url, {"originals": "maybe"}, format="json")
    assert response.status_code == 400 and "originals" in response.json()


# --- Deletion ---------------------------------------------------------------------------------


def test_delete_needs_a_reason_and_leaves_a_tombstone(personas, things):
    client = token_client(personas.editor)
    url = reverse("api:evidence-detail", kwargs={"pk": things.secret_photo.pk})
    assert client.delete(url, {}, format="json").status_code == 400
    response = client.delete(url, {"reason": "Shows a bystander's face"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted_by"] == "erin" and body["deletion_reason"] == "Shows a bystander's face"
    assert body["sha256"] == things.secret_photo.sha256 and body["original_retained"] is True
    # Gone from lists and details; its custody record (with the deletion) remains.
    listed = client.get(reverse("api:case-evidence", kwargs={"case_id": personas.case.pk}))
    assert things.secret_photo.pk not in [e["id"] for e in listed.json()["results"]]
    assert client.get(url).status_code == 404
    custody = client.get(reverse("api:evidence-custody", kwargs={"pk": things.secret_photo.pk}))
    assert custody.json()["deleted"]["deletion_reason"] == "Shows a bystander's face"
    # (The editor's list above named the protected source again: that reveal is recorded too.)
    verbs = [e["verb"] for e in custody.json()["events"] if e["verb"] != "source.revealed"]
    assert verbs[-1] == "evidence.deleted"
    # Its links were removed (recorded), so no claim rests on it any more.
    links = client.get(reverse("api:claim-links", kwargs={"pk": things.never_left.pk})).json()
    linked = [link["evidence"]["id"] for link in links.get("results", links)]
    assert things.public_photo.pk in linked and things.secret_photo.pk not in linked
    assert client.delete(url, {"reason": "again"}, format="json").status_code == 404


def test_reporter_cannot_delete_and_owner_purges_recorded(personas, things):
    url = reverse("api:evidence-detail", kwargs={"pk": things.public_photo.pk})
    assert (
        token_client(personas.reporter).delete(url, {"reason": "x"}, format="json").status_code
        == 403
    )
    token_client(personas.editor).delete(url, {"reason": "Wrong train"}, format="json")
    purge = reverse("api:evidence-purge", kwargs={"pk": things.public_photo.pk})
    assert token_client(personas.editor).post(purge).status_code == 403
    response = token_client(personas.owner).post(purge)
    assert response.status_code == 200 and response.json()["original_retained"] is False
    assert Activity.objects.filter(
        verb="evidence.purged", target_id=things.public_photo.pk
    ).exists()


# --- Source protection across every door --------------------------------------------------------


def test_a_viewer_never_receives_a_protected_identity_or_its_photos_location(personas, things):
    api = token_client(personas.viewer)
    checked = 0
    for url in api_urls(personas, things):
        response = api.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert leaks(content(response)) == [], url
        checked += 1
    pages = Client()
    pages.force_login(personas.viewer)
    for url in page_urls(personas, things):
        response = pages.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert leaks(content(response)) == [], url
        checked += 1
    assert checked > 50


def test_an_editor_does_see_the_identity_so_the_check_above_can_fail(personas, things):
    # The same byte search, as an editor: it finds the name and the place, so the viewer's
    # clean result means something.
    api = token_client(personas.editor)
    found = set()
    for url in api_urls(personas, things):
        found.update(leaks(content(api.get(url))))
    assert b"Zhang Wei" in found and str(CORRECTED[0]).encode() in found


def test_a_deleted_item_is_gone_from_pages_and_search(personas, things):
    from evidence.services.custody import evidence_delete

    pages = Client()
    pages.force_login(personas.editor)
    gallery_url = reverse("web:evidence_gallery", kwargs={"case_id": personas.case.pk})
    search_url = reverse("web:search") + "?q=april+report"
    title = b"April report: the train arrived"
    assert title in pages.get(gallery_url).content and title in pages.get(search_url).content
    evidence_delete(actor=personas.editor, evidence=things.link, reason="Wrong story")
    assert title not in pages.get(gallery_url).content
    assert title not in pages.get(search_url).content
    # Its own page is its tombstone (410 Gone, web.views.base.gone), not the item.
    assert (
        pages.get(
            reverse("web:evidence_detail", kwargs={"evidence_id": things.link.pk})
        ).status_code
        == 410
    )


def test_a_bundle_downloaded_by_an_editor_without_identities_holds_none(
    personas, things, django_capture_on_commit_callbacks
):
    data = editors_bundle(personas, django_capture_on_commit_callbacks, originals=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert leaks(archive.read(name)) == [], name


def test_a_place_mismatch_flag_on_a_protected_sources_photo_names_no_coordinates(
    personas, things, django_capture_on_commit_callbacks
):
    # The camera says Nampo; the reporter says Dandong: the flag is raised for every member to
    # read, so it must not carry the camera's coordinates.
    nampo = (38.7342, 125.3967)
    with django_capture_on_commit_callbacks(execute=True):
        far, _ = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(jpeg_bytes(seed=9, make="Canon", gps=nampo), "far.jpg"),
            source=things.protected,
            place_name="Dandong station",
            latitude=STATED[0],
            longitude=STATED[1],
        )
    flag = far.photo.flags.get(code="place_mismatch")
    assert flag.message.endswith("km from the place given.")
    coordinates = [b"38.73", b"125.39", b"38.7342", b"125.3967"]
    viewer = token_client(personas.viewer)
    pages = Client()
    pages.force_login(personas.viewer)
    detail = viewer.get(reverse("api:evidence-detail", kwargs={"pk": far.pk}))
    page = pages.get(reverse("web:evidence_detail", kwargs={"evidence_id": far.pk}))
    for response in (detail, page):  # the flag is shown, without the coordinates or place
        assert "km from the place given" in response.content.decode()
        assert "Dandong station" not in response.content.decode()
    for response in (
        detail,
        page,
        viewer.get(reverse("api:case-evidence", kwargs={"case_id": personas.case.pk})),
        viewer.get(reverse("api:evidence-custody", kwargs={"pk": far.pk})),
        pages.get(reverse("web:evidence_gallery", kwargs={"case_id": personas.case.pk})),
    ):
        assert response.status_code == 200
        body = content(response)
        assert [c for c in coordinates if c in body] == []


def test_a_bundle_without_identities_carries_no_place_of_a_protected_sources_deleted_item(
    personas, things, django_capture_on_commit_callbacks
):
    from evidence.services.custody import evidence_delete

    evidence_delete(actor=personas.editor, evidence=things.secret_photo, reason="Duplicate")
    data = editors_bundle(personas, django_capture_on_commit_callbacks, originals=False)
    stated_place = b"Dandong station, platform 3"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert "manifest.json" in names
        for name in names:
            body = archive.read(name)
            assert [*leaks(body), *([stated_place] if stated_place in body else [])] == [], name
