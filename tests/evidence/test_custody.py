"""The chain of custody: every kind of event lands in an item's record; `verify_custody` names
an altered original or an altered row of the activity record; deletion leaves a tombstone and
the original until an owner purges it."""

import hashlib
import io
import os

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.http import Http404
from django.test import Client
from django.urls import reverse

from cases.models import Activity
from evidence.custody import custody_entries
from evidence.models import Evidence
from evidence.reader import Reader, activity_rows
from evidence.selectors import custody_of, evidence_for_user, evidence_of
from evidence.services.comments import comment_create, comment_edit
from evidence.services.custody import (
    custody_verify,
    evidence_delete,
    evidence_purge,
    original_download,
    original_view_record,
)
from evidence.services.evidence import evidence_update, photo_ingest
from evidence.services.exports import export_request
from evidence.services.links import link_update
from tests.api.conftest import token_client
from tests.custody_case import custody_fixtures
from tests.images import jpeg_bytes, upload
from tests.tamper import append_only_lifted

# The custody case, made once and restored into each test (tests/custody_case.py).
_custody_snapshot, _custody_world, personas, things = custody_fixtures()


def verbs_of(evidence) -> list[str]:
    return list(custody_of(evidence=evidence).values_list("verb", flat=True))


def run_verify(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_custody", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


# --- Each kind of event lands in the record ----------------------------------------------------


def test_receipt_records_who_when_source_name_size_and_hash(personas, things):
    received = custody_of(evidence=things.secret_photo).first()
    assert received.verb == "evidence.received"
    assert received.actor == personas.reporter
    assert received.data == {
        "kind": "photo",
        "source": things.protected.pk,
        "original_name": "empty-train.jpg",
        "sha256": things.secret_photo.sha256,
        "size": things.secret_photo.size,
        "content_type": "image/jpeg",
    }


def test_processing_records_the_hash_it_derived_from_and_the_software(things):
    processed = custody_of(evidence=things.public_photo).get(verb="photo.processed")
    assert processed.actor is None
    assert processed.data["derived_from"] == things.public_photo.sha256
    thumbnail = things.public_photo.photo.thumbnail
    with default_storage.open(thumbnail.name, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert processed.data["derivatives"]["thumbnail"] == digest
    assert {"python", "pillow", "imagehash"} <= set(processed.data["software"])


def test_the_same_file_again_edits_links_and_comments_land_in_the_record(
    personas, things, django_capture_on_commit_callbacks
):
    photo = things.public_photo
    with django_capture_on_commit_callbacks(execute=True):
        again, created = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(
                jpeg_bytes(seed=2, taken_at="2024:05:14 09:30:00", offset="+08:00", make="Nikon"),
                "copy.jpg",
            ),
        )
    assert again == photo and not created
    evidence_update(actor=personas.reporter, evidence=photo, title="Loaded, 14 May")
    link = photo.links.get(claim=things.never_left)
    link_update(actor=personas.reporter, link=link, note="Same cars, loaded")
    comment = comment_create(actor=personas.reporter, evidence=photo, text="Count the cars")
    comment_edit(actor=personas.reporter, comment=comment, text="Count the cars: five")
    verbs = verbs_of(photo)
    for verb in (
        "evidence.received",
        "photo.processed",
        "link.created",
        "evidence.uploaded_again",
        "evidence.updated",
        "link.updated",
        "comment.created",
        "comment.edited",
    ):
        assert verb in verbs, verb
    # Nothing of another item's record.
    assert all(
        row.target_id in (photo.pk, link.pk, comment.pk) for row in custody_of(evidence=photo)
    )


def test_downloads_of_the_original_through_both_doors_land_in_the_record(personas, things):
    photo = things.public_photo
    api = token_client(personas.editor)
    response = api.get(reverse("api:evidence-original", kwargs={"pk": photo.pk}))
    assert response.status_code == 200
    page = Client()
    page.force_login(personas.owner)
    response = page.get(reverse("web:evidence_original", kwargs={"evidence_id": photo.pk}))
    assert response.status_code == 200
    original_view_record(actor=personas.editor, evidence=photo, via="viewer", download=False)
    rows = custody_of(evidence=photo).filter(verb__startswith="evidence.original_")
    assert [(r.verb, r.actor.username) for r in rows] == [
        ("evidence.original_downloaded", "erin"),
        ("evidence.original_downloaded", "alice"),
        ("evidence.original_viewed", "erin"),
    ]
    assert all(r.data["sha256"] == photo.sha256 for r in rows)


def test_one_service_opens_an_original_records_it_and_gives_the_facts_of_its_headers(
    personas, things
):
    photo = things.public_photo
    original = original_download(actor=personas.editor, evidence=photo, via="api")
    with original.file:
        body = original.file.read()
    assert (original.filename, original.content_type, original.size, original.sha256) == (
        "loaded-train.jpg",
        photo.content_type,
        len(body),
        hashlib.sha256(body).hexdigest(),
    )
    (row,) = custody_of(evidence=photo).filter(verb="evidence.original_downloaded")
    assert (row.actor, row.data) == (personas.editor, {"sha256": photo.sha256, "via": "api"})


def test_both_doors_serve_an_original_with_the_same_facts(personas, things):
    photo = things.public_photo
    api = token_client(personas.editor).get(
        reverse("api:evidence-original", kwargs={"pk": photo.pk})
    )
    page = Client()
    page.force_login(personas.editor)
    web = page.get(reverse("web:evidence_original", kwargs={"evidence_id": photo.pk}))
    for response in (api, web):
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="loaded-train.jpg"'
        assert response["Content-Type"] == photo.content_type
        assert response["Content-Length"] == str(photo.size)
        assert response["X-Content-SHA256"] == photo.sha256
        assert response["Cache-Control"] == "private, no-store"
        assert (
            b"".join(response.streaming_content) == default_storage.open(photo.original.name).read()
        )
    vias = custody_of(evidence=photo).filter(verb="evidence.original_downloaded")
    assert sorted(vias.values_list("data__via", flat=True)) == ["api", "page"]


@pytest.mark.parametrize("role", ["viewer", "reporter"])
def test_the_download_service_refuses_below_editor_before_anything_is_opened(
    personas, things, role
):
    with pytest.raises(PermissionDenied) as refused:
        original_download(actor=personas.by_role(role), evidence=things.link, via="page")
    # The refusal comes first, even for an item without a file.
    assert str(refused.value) == "To download originals you need the editor role in this case."
    assert not Activity.objects.filter(verb__startswith="evidence.original_").exists()


def test_the_download_service_answers_404_for_evidence_without_a_file(personas, things):
    with pytest.raises(Http404):
        original_download(actor=personas.editor, evidence=things.link, via="page")
    assert not Activity.objects.filter(verb__startswith="evidence.original_").exists()


def test_viewers_cannot_open_originals_and_nothing_is_recorded(personas, things):
    with pytest.raises(PermissionDenied):
        original_view_record(actor=personas.viewer, evidence=things.public_photo, via="x")
    assert not custody_of(evidence=things.public_photo).filter(
        verb__startswith="evidence.original_"
    )


def test_reveals_of_a_protected_identity_land_in_the_record_of_its_evidence(personas, things):
    reader = Reader(actor=personas.editor, case=personas.case, via="page")
    assert reader.source_name(things.protected) == things.protected.name
    assert reader.source_name(things.public) == things.public.name
    assert reader.record() == 1  # the public source needs no record
    assert reader.record() == 0  # what was recorded is not recorded twice
    # The same reveal again at once (a reload: another reader) is the same reveal.
    again = Reader(actor=personas.editor, case=personas.case, via="page")
    again.source_name(things.protected)
    assert again.record() == 0
    for item in (things.secret_photo, things.testimony):
        (row,) = custody_of(evidence=item).filter(verb="source.revealed")
        assert row.actor == personas.editor and row.data == {"via": "page"}
        # The row commits to its label; a reader below editor is shown the pseudonym.
        assert row.target_label.startswith("$c:")
        (shown,), _ = activity_rows([row], reveal=False)
        assert shown.target_label == "Source in China"  # never the name itself
    assert not custody_of(evidence=things.public_photo).filter(verb="source.revealed")


def test_an_export_lands_in_the_record_of_every_item_it_carried(
    personas, things, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export_request(
            actor=personas.owner, case=personas.case, originals=True, reveal_protected=False
        )
    for item in (things.secret_photo, things.public_photo, things.testimony, things.link):
        (row,) = custody_of(evidence=item).filter(verb="case.exported")
        assert row.actor == personas.owner
    owner = Reader(actor=personas.owner, case=personas.case, via="page")
    entries = custody_entries(evidence=things.public_photo, reader=owner)
    exported = next(e for e in entries if e["verb"] == "case.exported")
    assert "evidence" not in exported["data"]  # not the whole list in each item's record
    assert exported["data"]["originals"] is True


def test_deletion_and_purge_land_in_the_record(personas, things):
    evidence_delete(actor=personas.editor, evidence=things.public_photo, reason="Wrong train")
    evidence_purge(actor=personas.owner, evidence=things.public_photo)
    verbs = verbs_of(things.public_photo)
    assert verbs[-3:] == ["link.removed", "evidence.deleted", "evidence.purged"]
    deleted = custody_of(evidence=things.public_photo).get(verb="evidence.deleted")
    assert deleted.data["reason"] == "Wrong train"
    assert deleted.data["sha256"] == things.public_photo.sha256
    assert deleted.data["links_removed"] == [{"claim": things.never_left.pk, "stance": "context"}]


def test_viewers_get_the_record_without_the_exact_place_of_a_protected_source(personas, things):
    evidence_update(
        actor=personas.editor, evidence=things.secret_photo, place_name="Dandong, platform 3"
    )
    # Location values written by older code (or by hand) are still kept from viewers.
    row = custody_of(evidence=things.secret_photo).get(verb="evidence.updated")
    with append_only_lifted():
        Activity.objects.filter(pk=row.pk).update(
            data={"fields": ["latitude"], "values": {"latitude": 40.5}}
        )
    readers = {
        role: Reader(actor=personas.by_role(role), case=personas.case, via="page")
        for role in ("viewer", "editor")
    }
    viewer = custody_entries(evidence=things.secret_photo, reader=readers["viewer"])
    editor = custody_entries(evidence=things.secret_photo, reader=readers["editor"])
    assert "40.5" not in str(viewer) and "40.5" in str(editor)


# --- Deletion keeps a tombstone -----------------------------------------------------------------


def test_deleted_evidence_disappears_from_lists_but_keeps_its_tombstone(personas, things):
    evidence_delete(actor=personas.editor, evidence=things.link, reason="Wrong story")
    assert things.link not in evidence_of(case=personas.case)
    from django.http import Http404

    with pytest.raises(Http404):
        evidence_for_user(user=personas.owner, evidence_id=things.link.pk)
    tombstone = evidence_for_user(
        user=personas.viewer, evidence_id=things.link.pk, include_deleted=True
    )
    assert tombstone.deleted_by == personas.editor and tombstone.deletion_reason == "Wrong story"
    assert not things.link.links.exists()


def test_a_deleted_original_is_retained_until_an_owner_purges_it(personas, things):
    name = things.public_photo.original.name
    evidence_delete(actor=personas.editor, evidence=things.public_photo, reason="Duplicate")
    assert default_storage.exists(name)
    with pytest.raises(PermissionDenied, match="owner"):
        evidence_purge(actor=personas.editor, evidence=things.public_photo)
    evidence_purge(actor=personas.owner, evidence=things.public_photo)
    assert not default_storage.exists(name)
    things.public_photo.refresh_from_db()
    assert things.public_photo.sha256 and things.public_photo.purged_by == personas.owner
    with pytest.raises(ValidationError, match="already purged"):
        evidence_purge(actor=personas.owner, evidence=things.public_photo)


def test_deletion_needs_an_editor_and_a_reason_and_only_happens_once(personas, things):
    with pytest.raises(PermissionDenied, match="editor"):
        evidence_delete(actor=personas.reporter, evidence=things.link, reason="Mine")
    with pytest.raises(ValidationError, match="reason"):
        evidence_delete(actor=personas.editor, evidence=things.link, reason="   ")
    evidence_delete(actor=personas.editor, evidence=things.link, reason="Wrong story")
    with pytest.raises(ValidationError, match="already deleted"):
        evidence_delete(actor=personas.owner, evidence=things.link, reason="Again")
    with pytest.raises(ValidationError, match="delete it first"):
        evidence_purge(actor=personas.owner, evidence=things.testimony)


def test_the_same_bytes_collected_again_after_deletion_make_a_new_item(
    personas, things, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(seed=2, taken_at="2024:05:14 09:30:00", offset="+08:00", make="Nikon")
    evidence_delete(actor=personas.editor, evidence=things.public_photo, reason="By mistake")
    with django_capture_on_commit_callbacks(execute=True):
        again, created = photo_ingest(
            actor=personas.reporter, case=personas.case, file=upload(data, "again.jpg")
        )
    assert created and again.pk != things.public_photo.pk
    assert again.sha256 == things.public_photo.sha256
    # Purging the tombstone keeps the file the new item shares.
    evidence_purge(actor=personas.owner, evidence=things.public_photo)
    assert default_storage.exists(again.original.name)
    code, out = run_verify()
    assert code == 0, out


# --- verify_custody -----------------------------------------------------------------------------


def test_verify_custody_reports_every_item_intact(personas, things):
    code, out = run_verify("--case", str(personas.case.pk))
    assert code == 0
    assert "activity chain intact" in out
    assert f"evidence {things.public_photo.pk} “The loaded train, 14 May”: intact" in out
    assert f"evidence {things.link.pk}" in out and "no file" in out
    assert "Custody intact" in out


def test_one_changed_byte_of_a_stored_original_fails_and_names_the_item(personas, things):
    path = default_storage.path(things.secret_photo.original.name)
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    code, out = run_verify()
    assert code == 1
    line = f"evidence {things.secret_photo.pk} “The empty train, 25 May”: BROKEN"
    assert line in out
    assert "the original was altered" in out and things.secret_photo.sha256 in out
    assert f"evidence {things.public_photo.pk} “The loaded train, 14 May”: intact" in out


def test_a_missing_original_fails(personas, things):
    default_storage.delete(things.public_photo.original.name)
    code, out = run_verify()
    assert code == 1 and "missing from storage" in out


def test_one_changed_activity_row_fails_and_names_the_row_and_its_item(personas, things):
    row = custody_of(evidence=things.public_photo).get(verb="evidence.received")
    data = dict(row.data, original_name="someone-elses.jpg")
    with append_only_lifted():
        Activity.objects.filter(pk=row.pk).update(data=data)
    code, out = run_verify()
    assert code == 1
    assert f"BROKEN activity {row.pk} (evidence.received): its content was changed" in out
    assert f"its custody record was altered (activity {row.pk})" in out
    assert f"evidence {things.public_photo.pk} “The loaded train, 14 May”: BROKEN" in out


def test_a_removed_activity_row_breaks_the_chain(personas, things):
    rows = list(Activity.objects.filter(case=personas.case).order_by("id"))
    victim, following = rows[3], rows[4]
    with append_only_lifted():
        Activity.objects.filter(pk=victim.pk).delete()
    code, out = run_verify("--case", str(personas.case.pk))
    assert code == 1
    assert f"activity {following.pk}: the row before it was changed or removed" in out


def test_verify_custody_checks_only_the_case_asked_for(personas, things):
    other = personas.outsider.cases.get()
    path = default_storage.path(things.public_photo.original.name)
    with open(path, "ab") as handle:
        handle.write(b"\0")
    assert run_verify("--case", str(other.pk))[0] == 0
    assert run_verify("--case", str(personas.case.pk))[0] == 1


def test_verify_custody_keeps_checking_a_deleted_but_retained_original(personas, things):
    evidence_delete(actor=personas.editor, evidence=things.public_photo, reason="Duplicate")
    path = default_storage.path(things.public_photo.original.name)
    with open(path, "ab") as handle:
        handle.write(b"\0")
    code, out = run_verify()
    assert code == 1 and f"evidence {things.public_photo.pk}" in out
    evidence_purge(actor=personas.owner, evidence=things.public_photo)
    code, out = run_verify()
    assert code == 0 and "purged" in out


def test_verify_custody_of_an_unknown_case_is_an_error(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No case"):
        call_command("verify_custody", "--case", "999999", stdout=io.StringIO())


def test_custody_check_reads_originals_in_chunks(personas, things, monkeypatch):
    sizes = []
    real_open = default_storage.open

    class Spy:
        def __init__(self, handle):
            self.handle = handle

        def read(self, size=-1):
            sizes.append(size)
            return self.handle.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def spy(name, mode="rb"):
        return Spy(real_open(name, mode))

    monkeypatch.setattr(default_storage, "open", spy)
    assert custody_verify(case=personas.case).intact
    assert sizes and all(0 < size <= 1024 * 1024 for size in sizes)


def test_evidence_ids_do_not_leak_between_cases(personas, things):
    # The record of an item holds only rows of its own case.
    assert set(custody_of(evidence=things.public_photo).values_list("case_id", flat=True)) == {
        personas.case.pk
    }
    assert Evidence.objects.filter(case=personas.case).count() == 4


def test_pages_and_api_record_each_reveal_of_a_protected_identity_once(personas, things):
    page = Client()
    page.force_login(personas.editor)
    detail = reverse("web:evidence_detail", kwargs={"evidence_id": things.secret_photo.pk})
    assert page.get(detail).status_code == 200
    assert page.get(detail).status_code == 200  # a reload within the window: the same reveal
    sources = reverse("web:source_list", kwargs={"case_id": personas.case.pk})
    assert page.get(sources).status_code == 200
    api = token_client(personas.editor)
    assert (
        api.get(reverse("api:source-detail", kwargs={"pk": things.protected.pk})).status_code == 200
    )
    assert (
        api.get(reverse("api:evidence-detail", kwargs={"pk": things.testimony.pk})).status_code
        == 200
    )
    rows = Activity.objects.filter(verb="source.revealed", target_id=things.protected.pk)
    assert sorted(rows.values_list("data__via", flat=True)) == ["api", "page"]
    assert all(row.actor == personas.editor for row in rows)
    assert rows.count() == len(
        custody_of(evidence=things.secret_photo).filter(verb="source.revealed")
    )


def test_viewers_and_unprotected_sources_leave_no_reveal(personas, things):
    page = Client()
    page.force_login(personas.viewer)
    page.get(reverse("web:evidence_detail", kwargs={"evidence_id": things.secret_photo.pk}))
    page.get(reverse("web:source_list", kwargs={"case_id": personas.case.pk}))
    token_client(personas.viewer).get(
        reverse("api:source-detail", kwargs={"pk": things.protected.pk})
    )
    editor = Client()
    editor.force_login(personas.editor)
    editor.get(reverse("web:evidence_detail", kwargs={"evidence_id": things.public_photo.pk}))
    assert not Activity.objects.filter(verb="source.revealed").exists()


@pytest.mark.parametrize(
    ("uploaded_as", "offered_as"),
    [
        ("report.html", "report.jpg"),
        ("IMG_0412.JPEG", "IMG_0412.jpg"),
        (".htaccess", "htaccess.jpg"),
    ],
)
def test_a_download_takes_its_extension_from_the_type_told_at_ingest(
    personas, uploaded_as, offered_as
):
    # A JPEG whose bytes are also a web page, uploaded under a page's name.
    data = jpeg_bytes(seed=41) + b"<html><script>alert(document.cookie)</script></html>"
    evidence, _ = photo_ingest(
        actor=personas.reporter, case=personas.case, file=upload(data, uploaded_as)
    )
    api = token_client(personas.editor).get(
        reverse("api:evidence-original", kwargs={"pk": evidence.pk})
    )
    page = Client()
    page.force_login(personas.editor)
    web = page.get(reverse("web:evidence_original", kwargs={"evidence_id": evidence.pk}))
    for response in (api, web):
        assert response["Content-Disposition"] == f'attachment; filename="{offered_as}"'
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
    # The name the reporter gave stays in the record.
    evidence.refresh_from_db()
    assert evidence.original_name == uploaded_as


def test_every_download_through_either_door_is_kept_by_no_cache(
    personas, things, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = export_request(
            actor=personas.owner, case=personas.case, originals=False, reveal_protected=False
        )
    photo = things.public_photo.pk
    api = token_client(personas.owner)
    page = Client()
    page.force_login(personas.owner)
    answers = {
        "api original": api.get(reverse("api:evidence-original", kwargs={"pk": photo})),
        "api thumbnail": api.get(reverse("api:evidence-thumbnail", kwargs={"pk": photo})),
        "api preview": api.get(reverse("api:evidence-preview", kwargs={"pk": photo})),
        "api export": api.get(reverse("api:export-download", kwargs={"pk": export.pk})),
        "web original": page.get(reverse("web:evidence_original", args=[photo])),
        "web thumbnail": page.get(reverse("web:photo_thumbnail", args=[photo])),
        "web preview": page.get(reverse("web:photo_preview", args=[photo])),
        "web export": page.get(reverse("web:export_download", args=[export.pk])),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    assert {name: r["Cache-Control"] for name, r in answers.items()} == dict.fromkeys(
        answers, "private, no-store"
    )
    assert {name: r["X-Content-Type-Options"] for name, r in answers.items()} == dict.fromkeys(
        answers, "nosniff"
    )
