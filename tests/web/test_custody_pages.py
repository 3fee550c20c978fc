"""The custody pages: an item's record, deleting evidence with a reason, purging, and the
case's exports panel with its progress and downloads."""

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import Activity
from evidence.models import Evidence, Export
from tests.custody_case import custody_fixtures, leaks

# The custody case, made once and restored into each test (tests/custody_case.py).
_custody_snapshot, _custody_world, personas, things = custody_fixtures()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_evidence_page_offers_the_custody_record_and_deletion_to_editors(personas, things):
    url = reverse("web:evidence_detail", kwargs={"evidence_id": things.public_photo.pk})
    custody = reverse("web:evidence_custody", kwargs={"evidence_id": things.public_photo.pk})
    delete = reverse("web:evidence_delete", kwargs={"evidence_id": things.public_photo.pk})
    editor_page = client_for(personas.editor).get(url).content.decode()
    assert custody in editor_page and delete in editor_page
    viewer_page = client_for(personas.viewer).get(url).content.decode()
    assert custody in viewer_page and delete not in viewer_page


def test_custody_page_lists_events_with_hashes_for_any_member(personas, things):
    url = reverse("web:evidence_custody", kwargs={"evidence_id": things.secret_photo.pk})
    response = client_for(personas.viewer).get(url)
    assert response.status_code == 200
    page = response.content
    assert b"Received" in page and b"Processed" in page and b"Linked to a claim" in page
    assert things.secret_photo.sha256.encode() in page
    assert leaks(page) == []
    assert client_for(personas.outsider).get(url).status_code == 404


def test_deleting_through_the_page_needs_a_reason_and_leaves_a_tombstone(personas, things):
    url = reverse("web:evidence_delete", kwargs={"evidence_id": things.link.pk})
    editor = client_for(personas.editor)
    assert editor.get(url).status_code == 200
    refused = editor.post(url, {"reason": "  "})
    assert refused.status_code == 400 and b"reason" in refused.content
    response = editor.post(url, {"reason": "Wrong story"})
    assert response.status_code == 302
    things.link.refresh_from_db()
    assert (
        things.link.deletion_reason == "Wrong story" and things.link.deleted_by == personas.editor
    )
    # The tombstone's custody page still answers, with the deletion.
    custody = reverse("web:evidence_custody", kwargs={"evidence_id": things.link.pk})
    page = editor.get(custody).content
    assert b"Deleted by" in page and b"Wrong story" in page


@pytest.mark.parametrize("role", ["reporter", "viewer"])
def test_reporters_and_viewers_cannot_delete_through_the_page(personas, things, role):
    url = reverse("web:evidence_delete", kwargs={"evidence_id": things.link.pk})
    client = client_for(personas.by_role(role))
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403
    assert not Evidence.objects.filter(deleted_at__isnull=False).exists()


def test_outsider_cannot_reach_delete_purge_exports_or_downloads(personas, things):
    outsider = client_for(personas.outsider)
    export = Export.objects.create(case=personas.case, requested_by=personas.owner)
    for method, url in (
        ("get", reverse("web:evidence_delete", kwargs={"evidence_id": things.link.pk})),
        ("post", reverse("web:evidence_delete", kwargs={"evidence_id": things.link.pk})),
        ("post", reverse("web:evidence_purge", kwargs={"evidence_id": things.link.pk})),
        ("get", reverse("web:case_exports", kwargs={"case_id": personas.case.pk})),
        ("post", reverse("web:case_exports", kwargs={"case_id": personas.case.pk})),
        ("get", reverse("web:export_download", kwargs={"export_id": export.pk})),
    ):
        assert getattr(outsider, method)(url).status_code == 404, url


def test_owner_purges_a_deleted_original_from_its_custody_page(personas, things):
    from evidence.services.custody import evidence_delete

    evidence_delete(actor=personas.editor, evidence=things.public_photo, reason="Duplicate")
    url = reverse("web:evidence_purge", kwargs={"evidence_id": things.public_photo.pk})
    assert client_for(personas.editor).post(url).status_code == 403
    assert client_for(personas.owner).post(url).status_code == 302
    things.public_photo.refresh_from_db()
    assert things.public_photo.purged_by == personas.owner


def test_exports_panel_exports_shows_progress_and_downloads(
    personas, things, django_capture_on_commit_callbacks
):
    url = reverse("web:case_exports", kwargs={"case_id": personas.case.pk})
    owner = client_for(personas.owner)
    page = owner.get(url).content
    assert b"Export the case file" in page and b"reveal_protected" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url, {"originals": "on"})
    assert response.status_code == 302
    export = Export.objects.get()
    assert export.status == Export.Status.READY and export.originals and not export.reveal_protected
    page = owner.get(url).content.decode()
    download = reverse("web:export_download", kwargs={"export_id": export.pk})
    assert download in page
    response = owner.get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert Activity.objects.filter(verb="export.downloaded").count() == 1


def test_a_running_export_polls_for_progress(personas, things):
    Export.objects.create(
        case=personas.case, requested_by=personas.owner, status="running", progress=40
    )
    page = client_for(personas.editor).get(
        reverse("web:case_exports", kwargs={"case_id": personas.case.pk})
    )
    assert b'hx-trigger="every' in page.content and b'value="40"' in page.content
    # An editor is not offered identities: only owners export them.
    assert b"reveal_protected" not in page.content


def test_viewers_get_no_exports_panel_and_cannot_export(personas, things):
    url = reverse("web:case_exports", kwargs={"case_id": personas.case.pk})
    viewer = client_for(personas.viewer)
    assert b"Export the case file" not in viewer.get(url).content
    assert viewer.post(url, {"originals": "on"}).status_code == 403
    assert not Export.objects.exists()
