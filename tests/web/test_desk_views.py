"""The desk's pages without a browser: the upload's batch fields, the bulk edit, "use camera
date and GPS", the timeline's camera dates, and flags and near-duplicate stacks on cards."""

import re
from datetime import UTC, datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Activity
from evidence.models import Evidence, PhotoMatch, Provenance
from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_create, evidence_update
from tests.web.conftest import demo_photo


def test_the_upload_takes_the_batchs_source_title_stated_date_and_place(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {
            "file": SimpleUploadedFile("x.jpg", demo_photo(25)[:-10] + b"\xff\xd9", "image/jpeg"),
            "source": world.china.pk,
            "title": "Yard, from the batch",
            "observed_at": "2026-05-25T10:00",
            "place_name": "Dandong",
            "latitude": "40.12",
            "longitude": "124.39",
            "sensitive": "on",
        },
    )
    assert response.status_code == 201, response.content
    item = Evidence.objects.get(pk=response.json()["id"])
    assert (item.source, item.title, item.place_name, item.sensitive) == (
        world.china,
        "Yard, from the batch",
        "Dandong",
        True,
    )
    assert item.observed_at == datetime(2026, 5, 25, 10, 0, tzinfo=UTC)
    assert (item.latitude, item.longitude) == (40.12, 124.39)


def test_the_same_bytes_uploaded_again_are_recorded_as_another_provenance(world, client_for):
    response = client_for(world.personas.editor).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {
            "file": SimpleUploadedFile("copy.jpg", demo_photo(14), "image/jpeg"),
            "source": world.china.pk,
        },
    )
    assert response.status_code == 200
    assert "another arrival" in response.json()["message"]
    assert list(
        Provenance.objects.filter(evidence=world.photo14).values_list("source", "original_name")
    )[-1] == (world.china.pk, "copy.jpg")


def test_the_bulk_edit_page_changes_the_ticked_items(world, client_for):
    client = client_for(world.personas.reporter)
    url = reverse("web:evidence_bulk", args=[world.case.pk])
    response = client.post(
        url,
        {
            "evidence": [world.photo14.pk, world.photo25.pk],
            "sensitive": "yes",
            "title_prefix": "Dandong:",
        },
        follow=True,
    )
    assert "2 items changed." in response.content.decode()
    for item in (world.photo14, world.photo25):
        item.refresh_from_db()
        assert item.sensitive and item.title.startswith("Dandong: ")
    batches = set(
        Activity.objects.filter(verb="evidence.updated").values_list("data__batch", flat=True)
    )
    assert len(batches) == 1
    # Nothing to change, or nothing selected: said, nothing done.
    response = client.post(url, {"evidence": [world.photo14.pk]}, follow=True)
    assert "Fill in at least one field" in response.content.decode()
    response = client.post(url, {"sensitive": "no"}, follow=True)
    assert "Select at least one item." in response.content.decode()


def test_the_bulk_edit_refuses_a_reporter_the_place_of_a_protected_sources_item(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_bulk", args=[world.case.pk]),
        {"evidence": [world.testimony.pk], "place_name": "Nampo"},
        follow=True,
    )
    assert "is for editors" in response.content.decode()
    world.testimony.refresh_from_db()
    assert world.testimony.place_name != "Nampo"


def test_bulk_edit_and_use_camera_are_refused_to_outsiders_and_viewers(world, client_for):
    bulk = reverse("web:evidence_bulk", args=[world.case.pk])
    camera = reverse("web:evidence_use_camera", args=[world.photo14.pk])
    outsider = client_for(world.personas.outsider)
    assert (
        outsider.post(bulk, {"evidence": [world.photo14.pk], "sensitive": "yes"}).status_code == 404
    )
    assert outsider.post(camera).status_code == 404
    viewer = client_for(world.personas.viewer)
    assert (
        viewer.post(bulk, {"evidence": [world.photo14.pk], "sensitive": "yes"}).status_code == 403
    )
    assert viewer.post(camera).status_code == 403
    world.photo14.refresh_from_db()
    assert not world.photo14.sensitive


def test_use_camera_date_and_gps_from_the_photo_page(world, client_for):
    item = world.photo14
    evidence_update(
        actor=world.personas.reporter,
        evidence=item,
        observed_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    client = client_for(world.personas.reporter)
    page = client.get(reverse("web:evidence_detail", args=[item.pk])).content.decode()
    assert "Use camera date and GPS" in page and "EXIF date differs" in page
    response = client.post(reverse("web:evidence_use_camera", args=[item.pk]), follow=True)
    body = response.content.decode()
    assert "now the stated date and place" in body and "EXIF date differs" not in body
    item.refresh_from_db()
    assert item.observed_at == datetime(2026, 5, 14, 2, 40, tzinfo=UTC)


def test_the_timeline_places_a_photo_without_a_stated_date_by_its_camera_date(world, client_for):
    evidence_update(actor=world.personas.reporter, evidence=world.photo25, observed_at=None)
    page = (
        client_for(world.personas.viewer)
        .get(reverse("web:timeline", args=[world.case.pk]))
        .content.decode()
    )
    day = page.index('datetime="2026-05-25"')
    assert "camera date" in page[day : day + 3000]
    assert "without a date" not in page


def test_gallery_cards_show_flags_in_words_and_near_duplicate_stacks(world, client_for):
    a, b = sorted((world.photo14.pk, world.photo25.pk))
    PhotoMatch.objects.get_or_create(
        case=world.case, photo_a_id=a, photo_b_id=b, defaults={"distance": 9}
    )
    evidence_update(
        actor=world.personas.reporter,
        evidence=world.photo14,
        observed_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    page = (
        client_for(world.personas.viewer)
        .get(reverse("web:evidence_gallery", args=[world.case.pk]))
        .content.decode()
    )
    card = page[page.index(f'id="evidence-{world.photo14.pk}"') :]
    card = card[: card.index("</article>")]
    assert "1 near-duplicate" in card
    assert re.search(rf'class="[^"]*card-stacked[^"]*" id="evidence-{world.photo14.pk}"', page)
    assert "EXIF date differs from the stated date" in card


def test_the_notifications_page_count_and_email_choice(world, client_for):
    comment_create(actor=world.personas.reporter, claim=world.draft, text="@victor see")
    viewer = client_for(world.personas.viewer)
    count = viewer.get(reverse("web:notifications_count")).content.decode()
    assert "has-unread" in count and ">1<" in count
    page = viewer.get(reverse("web:notifications")).content.decode()
    assert "bob mentioned you in a comment on the claim" in page and "1 unread" in page
    viewer.post(reverse("web:notifications"), {"read": "all"})
    assert "has-unread" not in viewer.get(reverse("web:notifications_count")).content.decode()
    viewer.post(reverse("web:notifications"), {"email": "immediate"})
    assert world.personas.viewer.notification_settings.email == "immediate"


def test_assignments_from_the_claim_and_evidence_pages_notify(world, client_for):
    reporter = client_for(world.personas.reporter)
    response = reporter.post(
        reverse("web:claim_assign", args=[world.draft.pk]), {"assignee": "erin"}, follow=True
    )
    assert "Assigned to erin." in response.content.decode()
    assert 'option value="erin" selected' in response.content.decode()
    response = reporter.post(
        reverse("web:evidence_assign", args=[world.testimony.pk]),
        {"assignee": "victor"},
        follow=True,
    )
    assert "Assigned to victor." in response.content.decode()
    page = client_for(world.personas.viewer).get(reverse("web:notifications")).content.decode()
    # The protected source by its pseudonym to a viewer.
    assert "(from Source in China)" in page and "Zhang Min" not in page
    outsider = client_for(world.personas.outsider)
    url = reverse("web:claim_assign", args=[world.draft.pk])
    assert outsider.post(url, {"assignee": "erin"}).status_code == 404
    viewer = client_for(world.personas.viewer)
    assert viewer.post(url, {"assignee": "erin"}).status_code == 403


def test_the_review_inbox_page(world, client_for):
    page = client_for(world.personas.editor).get(reverse("web:review_inbox")).content.decode()
    # Erin reviews Bob's claim, not her own.
    assert "The cargo was trucked to Longkou" in page
    assert "The train arrived in North Korea in April" not in page
    assert "independent source" in page
    page = client_for(world.personas.viewer).get(reverse("web:review_inbox")).content.decode()
    assert "Nothing is waiting for your review." in page


def test_the_activity_feed_groups_a_batch_and_filters_by_kind_and_person(world, client_for):
    for n in range(30):
        evidence_create(
            actor=world.personas.reporter,
            case=world.case,
            kind="link",
            url=f"https://news.example.org/{n}",
        )
    client = client_for(world.personas.viewer)
    url = reverse("web:case_activity", args=[world.case.pk])
    page = client.get(url).content.decode()
    assert "and 29 more like it" in page
    only_claims = client.get(url + "?kind=claim").content.decode()
    assert "added evidence" not in only_claims and "wrote a claim" in only_claims
    erin = client.get(url + "?person=erin").content.decode()
    assert "added evidence" not in erin and ">erin<" in erin
    dashboard = client.get(reverse("web:case_dashboard", args=[world.case.pk])).content.decode()
    assert "and 29 more like it" in dashboard
    assert client_for(world.personas.outsider).get(url).status_code == 404
