"""The pages, through the Django test client: every page for every role, every form, and the
posts a role may not make (refused whatever the page shows)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Activity, Case, Claim, Membership
from evidence.models import Comment, Evidence, EvidenceLink, Photo, Source
from tests.factories import CaseFactory, MembershipFactory
from tests.images import svg_bytes
from tests.web.conftest import demo_photo

MEMBERS = ("owner", "editor", "reporter", "viewer")
WRITERS = ("owner", "editor", "reporter")


def page_urls(w):
    """Every GET page and partial of a case, as (name, url)."""
    c = w.case.pk
    return [
        ("dashboard", reverse("web:case_dashboard", args=[c])),
        ("gallery", reverse("web:evidence_gallery", args=[c])),
        ("gallery filtered", reverse("web:evidence_gallery", args=[c]) + "?kind=photo&flagged=on"),
        ("compare", reverse("web:photo_compare", args=[c])),
        ("claims", reverse("web:claim_board", args=[c])),
        ("sources", reverse("web:source_list", args=[c])),
        ("timeline", reverse("web:timeline", args=[c])),
        ("map", reverse("web:case_map", args=[c])),
        ("photo", reverse("web:evidence_detail", args=[w.photo14.pk])),
        ("link", reverse("web:evidence_detail", args=[w.link.pk])),
        ("testimony", reverse("web:evidence_detail", args=[w.testimony.pk])),
        ("card", reverse("web:evidence_card", args=[w.photo25.pk])),
        ("thumbnail", reverse("web:photo_thumbnail", args=[w.photo14.pk])),
        ("preview", reverse("web:photo_preview", args=[w.photo14.pk])),
        ("claim", reverse("web:claim_detail", args=[w.in_review.pk])),
        ("link options", reverse("web:claim_link_options", args=[w.draft.pk]) + "?q=train"),
        ("search in the case", reverse("web:search") + f"?q=train&case={c}"),
        ("quick search in the case", reverse("web:search_quick") + f"?q=train&case={c}"),
        ("image search by a photo", reverse("web:search_image") + f"?evidence={w.photo14.pk}"),
    ]


def writer_form_urls(w):
    c = w.case.pk
    return [
        ("new claim", reverse("web:claim_new", args=[c])),
        ("new link", reverse("web:evidence_new", args=[c, "link"])),
        ("new testimony", reverse("web:evidence_new", args=[c, "testimony"])),
        ("edit evidence", reverse("web:evidence_edit", args=[w.photo14.pk])),
        ("edit claim", reverse("web:claim_edit", args=[w.draft.pk])),
        ("edit source", reverse("web:source_edit", args=[w.photographer.pk])),
    ]


# --- Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", MEMBERS)
def test_every_page_opens_for_every_member(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    for name, url in page_urls(world):
        response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)


def test_every_page_is_404_to_a_non_member(world, client_for):
    client = client_for(world.personas.outsider)
    urls = page_urls(world) + writer_form_urls(world)
    urls += [
        ("edit case", reverse("web:case_edit", args=[world.case.pk])),
        ("original", reverse("web:evidence_original", args=[world.photo14.pk])),
    ]
    for name, url in urls:
        assert client.get(url).status_code == 404, name


def test_anonymous_visitors_are_sent_to_sign_in(world, client):
    for _name, url in page_urls(world) + [("cases", reverse("web:case_list"))]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_malformed_and_unknown_ids_are_404(world, client_for):
    client = client_for(world.personas.owner)
    assert client.get("/cases/99999999/").status_code == 404
    assert client.get("/evidence/99999999/").status_code == 404
    assert client.get(f"/cases/{world.case.pk}/evidence/new/photo/").status_code == 404


@pytest.mark.parametrize("role", WRITERS)
def test_write_forms_open_for_reporters_and_above(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    for name, url in writer_form_urls(world):
        assert client.get(url).status_code == 200, name


def test_write_forms_are_refused_to_a_viewer(world, client_for):
    client = client_for(world.personas.viewer)
    for name, url in writer_form_urls(world):
        response = client.get(url)
        assert response.status_code == 403, name
        assert b"reporter role" in response.content


def test_viewer_sees_no_write_controls(world, client_for):
    client = client_for(world.personas.viewer)
    c = world.case.pk
    gallery = client.get(reverse("web:evidence_gallery", args=[c])).content.decode()
    assert 'id="upload-form"' not in gallery
    assert "Add a web link" not in gallery
    claim = client.get(reverse("web:claim_detail", args=[world.draft.pk])).content.decode()
    assert "Submit for review" not in claim
    assert "Link evidence" not in claim
    assert "Add a comment" not in claim
    assert "Record decision" not in claim
    assert "Write a claim" not in client.get(reverse("web:claim_board", args=[c])).content.decode()
    sources = client.get(reverse("web:source_list", args=[c])).content.decode()
    assert "Add a source" not in sources
    assert reverse("web:source_edit", args=[world.china.pk]) not in sources
    photo = client.get(reverse("web:evidence_detail", args=[world.photo14.pk])).content.decode()
    assert reverse("web:evidence_edit", args=[world.photo14.pk]) not in photo
    assert reverse("web:evidence_original", args=[world.photo14.pk]) not in photo
    assert "Add a comment" not in photo
    dashboard = client.get(reverse("web:case_dashboard", args=[c])).content.decode()
    assert reverse("web:case_edit", args=[c]) not in dashboard
    assert "Remove" not in dashboard and "Add member" not in dashboard
    claim = client.get(reverse("web:claim_detail", args=[world.in_review.pk])).content.decode()
    assert "Unlink" not in claim


# --- Sign in, case list, new case -----------------------------------------------------------


def test_sign_in_page_signs_in_and_out(world, client):
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'for="id_username"' in page.content
    response = client.post("/login/", {"username": "bob", "password": "pass-word-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    # Signing out is a POST (a GET would be a link anyone could make a browser follow).
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_an_error(world, client):
    response = client.post("/login/", {"username": "bob", "password": "wrong"})
    assert response.status_code == 200
    assert b"form-error" in response.content


def test_case_list_shows_member_cases_with_counts_and_latest_activity(world, client_for):
    response = client_for(world.personas.reporter).get("/")
    html = response.content.decode()
    assert world.case.title in html
    case = [c for c, _role in response.context["rows"]][0]
    assert case.claim_count == 3
    assert case.evidence_count == 4
    assert case.source_count == 2
    assert case.member_count == 4
    assert case.last_activity.verb == "claim.submitted"
    assert "submitted for review" in html
    # The outsider's own case is not listed to bob.
    assert len(response.context["rows"]) == 1


def test_case_list_of_an_outsider_does_not_show_the_case(world, client_for):
    html = client_for(world.personas.outsider).get("/").content.decode()
    assert world.case.title not in html


def test_anyone_signed_in_can_create_a_case_and_owns_it(world, client_for):
    client = client_for(world.personas.viewer)
    response = client.post("/cases/new/", {"title": "Nampo port", "summary": "Ships."})
    case = Case.objects.get(title="Nampo port")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:case_dashboard", args=[case.pk])
    assert Membership.objects.get(case=case, user=world.personas.viewer).role == "owner"


def test_new_case_needs_a_title(world, client_for):
    response = client_for(world.personas.viewer).post("/cases/new/", {"title": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["title"]


# --- Dashboard, case edit, members ----------------------------------------------------------


def test_dashboard_shows_claims_by_status_activity_and_members(world, client_for):
    response = client_for(world.personas.viewer).get(
        reverse("web:case_dashboard", args=[world.case.pk])
    )
    columns = {key: n for key, _label, n in response.context["columns"]}
    assert columns == {
        "draft": 1,
        "in_review": 2,
        "supported": 0,
        "contradicted": 0,
        "unverified": 0,
    }
    html = response.content.decode()
    assert "Recent activity" in html and "erin" in html
    assert "Add member" not in html  # owners only


def test_dashboard_activity_names_what_each_link_joined(world, client_for):
    from evidence.services import links as link_services

    link = EvidenceLink.objects.get(claim=world.in_review, evidence=world.link)
    link_services.link_remove(actor=world.personas.reporter, link=link)
    html = client_for(world.personas.viewer).get(
        reverse("web:case_dashboard", args=[world.case.pk])
    )
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.content.decode()))
    claim_url = reverse("web:claim_detail", args=[world.in_review.pk])
    assert (
        "linked Source in China on the cargo to The cargo was trucked to Longkou supports" in text
    )
    assert (
        "unlinked April report: the train arrived in North Korea from "
        "The cargo was trucked to Longkou contradicts" in text
    )
    assert f'href="{claim_url}"' in html.content.decode()
    assert "linked evidence to a claim" not in text


def test_activity_times_say_just_now_rather_than_zero_minutes(world, client_for):
    from datetime import timedelta

    from django.utils import timezone

    from web.templatetags.casefile import ago

    client = client_for(world.personas.viewer)
    dashboard = client.get(reverse("web:case_dashboard", args=[world.case.pk])).content.decode()
    cases = client.get(reverse("web:case_list")).content.decode()
    for html in (dashboard, cases):
        assert "just now" in html
        assert "0\xa0minutes ago" not in html and "0 minutes ago" not in html
    assert ago(timezone.now() - timedelta(hours=3, minutes=5)) == "3\xa0hours, 5\xa0minutes ago"
    assert ago(None) == ""


def test_dashboard_lists_photos_still_processing_or_failed(world, client_for):
    Photo.objects.filter(pk=world.photo25.pk).update(status="failed", failure_reason="truncated")
    response = client_for(world.personas.viewer).get(
        reverse("web:case_dashboard", args=[world.case.pk])
    )
    assert [c["e"].pk for c in response.context["unfinished"]] == [world.photo25.pk]
    assert "truncated" in response.content.decode()


def test_owner_manages_members_from_the_dashboard(world, client_for):
    p = world.personas
    client = client_for(p.owner)
    url = reverse("web:case_dashboard", args=[world.case.pk])
    assert "Add member" in client.get(url).content.decode()
    response = client.post(
        reverse("web:member_add", args=[world.case.pk]),
        {"username": "charlie", "role": "viewer"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(case=world.case, user=p.outsider)
    assert membership.role == "viewer"
    client.post(
        reverse("web:member_change", args=[world.case.pk, membership.pk]), {"role": "reporter"}
    )
    membership.refresh_from_db()
    assert membership.role == "reporter"
    client.post(reverse("web:member_remove", args=[world.case.pk, membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_an_unknown_user_is_a_message_not_an_error(world, client_for):
    client = client_for(world.personas.owner)
    response = client.post(
        reverse("web:member_add", args=[world.case.pk]),
        {"username": "nobody", "role": "viewer"},
        follow=True,
    )
    assert "There is no account named" in response.content.decode()


def members_panel_and_the_rest(html: str) -> tuple[str, str]:
    start = html.index('<section class="panel" id="members">')
    end = html.index("</section>", start)
    return html[start:end], html[:start] + html[end:]


def test_member_changes_answer_in_the_members_panel_where_the_owner_is_looking(world, client_for):
    client = client_for(world.personas.owner)
    case = world.case.pk
    # The forms send the owner back to #members, far below the top of the page.
    response = client.post(
        reverse("web:member_add", args=[case]), {"username": "nobody", "role": "viewer"}
    )
    assert response.url.endswith("#members")
    panel, rest = members_panel_and_the_rest(client.get(response.url).content.decode())
    assert "There is no account named" in panel and "There is no account named" not in rest
    assert "message-error" in panel

    client.post(reverse("web:member_add", args=[case]), {"username": "charlie", "role": "viewer"})
    panel, rest = members_panel_and_the_rest(
        client.get(reverse("web:case_dashboard", args=[case])).content.decode()
    )
    assert "charlie added as Viewer." in panel and "charlie added as" not in rest
    assert "message-success" in panel


def test_other_messages_on_the_dashboard_stay_at_the_top(world, client_for):
    client = client_for(world.personas.owner)
    case = world.case.pk
    client.post(
        reverse("web:case_edit", args=[case]),
        {"title": "Dandong train", "summary": "", "status": "open"},
    )
    panel, rest = members_panel_and_the_rest(
        client.get(reverse("web:case_dashboard", args=[case])).content.decode()
    )
    assert "Case saved." in rest and "Case saved." not in panel


def test_last_owner_cannot_be_demoted(world, client_for):
    p = world.personas
    owner_membership = Membership.objects.get(case=world.case, user=p.owner)
    response = client_for(p.owner).post(
        reverse("web:member_change", args=[world.case.pk, owner_membership.pk]),
        {"role": "viewer"},
        follow=True,
    )
    assert "keep at least one owner" in response.content.decode()
    owner_membership.refresh_from_db()
    assert owner_membership.role == "owner"


@pytest.mark.parametrize("role", ("editor", "reporter", "viewer"))
def test_members_management_is_refused_below_owner(world, client_for, role):
    p = world.personas
    client = client_for(p.by_role(role))
    victor = Membership.objects.get(case=world.case, user=p.viewer)
    c = world.case.pk
    assert (
        client.post(
            reverse("web:member_add", args=[c]), {"username": "charlie", "role": "owner"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("web:member_change", args=[c, victor.pk]), {"role": "owner"}
        ).status_code
        == 403
    )
    assert client.post(reverse("web:member_remove", args=[c, victor.pk])).status_code == 403
    victor.refresh_from_db()
    assert victor.role == "viewer"
    assert not Membership.objects.filter(case=world.case, user=p.outsider).exists()


def test_members_management_is_404_to_a_non_member(world, client_for):
    victor = Membership.objects.get(case=world.case, user=world.personas.viewer)
    client = client_for(world.personas.outsider)
    c = world.case.pk
    assert client.post(reverse("web:member_add", args=[c]), {"username": "x"}).status_code == 404
    assert client.post(reverse("web:member_remove", args=[c, victor.pk])).status_code == 404


def test_membership_of_another_case_is_404(world, client_for):
    other = Membership.objects.get(user=world.personas.outsider)
    response = client_for(world.personas.owner).post(
        reverse("web:member_remove", args=[world.case.pk, other.pk])
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=other.pk).exists()


def test_editor_edits_the_case_but_only_the_owner_closes_it(world, client_for):
    p = world.personas
    url = reverse("web:case_edit", args=[world.case.pk])
    editor = client_for(p.editor)
    assert "status" not in editor.get(url).context["form"].fields
    editor.post(url, {"title": "Renamed", "summary": "New"})
    world.case.refresh_from_db()
    assert world.case.title == "Renamed"
    owner = client_for(p.owner)
    owner.post(url, {"title": "Renamed", "summary": "New", "status": "closed"})
    world.case.refresh_from_db()
    assert world.case.status == "closed"


@pytest.mark.parametrize("role", ("reporter", "viewer"))
def test_case_edit_is_refused_below_editor(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    url = reverse("web:case_edit", args=[world.case.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"title": "Hijacked"}).status_code == 403
    world.case.refresh_from_db()
    assert world.case.title != "Hijacked"


def test_closed_case_refuses_writes_and_hides_their_controls(world, client_for):
    Case.objects.filter(pk=world.case.pk).update(status="closed")
    client = client_for(world.personas.reporter)
    c = world.case.pk
    gallery = client.get(reverse("web:evidence_gallery", args=[c])).content.decode()
    assert 'id="upload-form"' not in gallery
    response = client.post(reverse("web:claim_new", args=[c]), {"statement": "Late"})
    assert response.status_code == 403
    assert not Claim.objects.filter(statement="Late").exists()


# --- Evidence -------------------------------------------------------------------------------


def test_gallery_shows_cards_with_kind_source_status_and_flags(world, client_for):
    html = (
        client_for(world.personas.viewer)
        .get(reverse("web:evidence_gallery", args=[world.case.pk]))
        .content.decode()
    )
    assert html.count('class="card ') == 4
    assert "Newsroom photographer" in html
    assert "Source in China" in html and "Zhang Min" not in html
    assert 'data-status="ready"' in html
    assert reverse("web:photo_thumbnail", args=[world.photo14.pk]) in html
    # Derivatives are served through the permission-checked view, never from MEDIA_URL.
    assert "/media/" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=photo", {"photo14", "photo25"}),
        ("kind=testimony", {"testimony"}),
        ("status=ready", {"photo14", "photo25"}),
        ("q=April", {"link"}),
        ("source={photographer}", {"photo14", "photo25"}),
    ],
)
def test_gallery_filters(world, client_for, query, expected):
    query = query.format(photographer=world.photographer.pk)
    response = client_for(world.personas.reporter).get(
        reverse("web:evidence_gallery", args=[world.case.pk]) + "?" + query
    )
    found = {card["e"].pk for card in response.context["cards"]}
    assert found == {getattr(world, name).pk for name in expected}


def test_gallery_flag_filter_keeps_only_flagged_photos(world, client_for):
    from evidence.models import PhotoFlag

    PhotoFlag.objects.create(photo=world.photo25.photo, code="editing_software", message="GIMP")
    response = client_for(world.personas.reporter).get(
        reverse("web:evidence_gallery", args=[world.case.pk]) + "?flagged=on"
    )
    assert [card["e"].pk for card in response.context["cards"]] == [world.photo25.pk]


def test_upload_endpoint_takes_a_photo_and_returns_a_polling_card(world, client_for):
    client = client_for(world.personas.reporter)
    data = demo_photo(14)[:-10] + b"\xff\xd9"  # other bytes than the fixture's
    response = client.post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {"file": SimpleUploadedFile("IMG_9999.jpg", data, "image/jpeg")},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    evidence = Evidence.objects.get(pk=body["id"])
    assert evidence.kind == "photo" and evidence.collected_by == world.personas.reporter
    # Still pending (nothing processed it yet): the card polls its status partial.
    assert f'hx-get="{reverse("web:evidence_card", args=[evidence.pk])}"' in body["html"]
    assert 'hx-trigger="every 2s"' in body["html"]
    assert body["message"] == "Uploaded — processing"


def test_a_ready_card_stops_polling(world, client_for):
    html = (
        client_for(world.personas.viewer)
        .get(reverse("web:evidence_card", args=[world.photo14.pk]))
        .content.decode()
    )
    # The card does not poll (the page's header polls its unread count, a thing of its own).
    card = html[html.index(f'id="evidence-{world.photo14.pk}"') :]
    assert "hx-trigger" not in card[: card.index("</article>")]
    assert "Ready" in html


def _waiting(evidence, *, status="pending", seconds: float) -> None:
    """Put a photo back in `status`, as if it had been waiting for `seconds`."""
    from datetime import timedelta

    from django.utils import timezone

    Photo.objects.filter(evidence=evidence).update(
        status=status, status_changed_at=timezone.now() - timedelta(seconds=seconds)
    )


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_polling_card_of_deleted_evidence_shows_the_deletion_and_stops_polling(world, client_for):
    from evidence.services.custody import evidence_delete

    _waiting(world.photo25, seconds=5)
    url = reverse("web:evidence_card", args=[world.photo25.pk])
    viewer = client_for(world.personas.viewer)
    assert 'hx-trigger="every 2s"' in viewer.get(url, **HTMX).content.decode()
    evidence_delete(actor=world.personas.editor, evidence=world.photo25, reason="Wrong case")
    response = viewer.get(url, **HTMX)
    html = response.content.decode()
    # 286: htmx swaps the answer in and stops polling (instead of a 404 on every tick).
    assert response.status_code == 286
    assert "hx-trigger" not in html and 'data-status="deleted"' in html
    assert "Deleted by erin" in html and "Wrong case" in html
    assert reverse("web:evidence_custody", args=[world.photo25.pk]) in html
    assert viewer.get(url).status_code == 410  # not a poll
    assert client_for(world.personas.outsider).get(url, **HTMX).status_code == 404


def test_the_photo_page_polling_a_deleted_photo_gets_its_tombstone_and_stops(world, client_for):
    from evidence.services.custody import evidence_delete

    _waiting(world.photo25, seconds=5)
    url = reverse("web:evidence_detail", args=[world.photo25.pk])
    reporter = client_for(world.personas.reporter)
    assert 'hx-select="#main"' in reporter.get(url).content.decode()
    evidence_delete(actor=world.personas.editor, evidence=world.photo25, reason="Wrong case")
    response = reporter.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 286
    assert 'id="main"' in html and "was deleted" in html and "Wrong case" in html
    # What the poll swaps in (#main) polls no more (the header's unread count is outside it).
    assert "hx-trigger" not in html[html.index('id="main"') :]
    # An old link to it says the same, as 410 Gone; to outsiders it stays 404.
    assert reporter.get(url).status_code == 410
    assert client_for(world.personas.outsider).get(url).status_code == 404


@pytest.mark.parametrize(
    ("waited", "interval"), [(0, 2), (20, 2), (60, 6), (150, 15), (400, 30), (3600, 30)]
)
def test_a_waiting_card_polls_less_often_the_longer_it_waits(world, client_for, waited, interval):
    _waiting(world.photo25, seconds=waited)
    html = (
        client_for(world.personas.viewer)
        .get(reverse("web:evidence_card", args=[world.photo25.pk]), **HTMX)
        .content.decode()
    )
    assert f'hx-trigger="every {interval}s"' in html


def test_a_photo_waiting_past_the_stale_time_says_processing_is_late(world, settings):
    from django.test import Client

    settings.CASEFILE_STALE_AFTER_SECONDS = 180
    card = reverse("web:evidence_card", args=[world.photo25.pk])
    page = reverse("web:evidence_detail", args=[world.photo25.pk])
    viewer, reporter = Client(), Client()
    viewer.force_login(world.personas.viewer)
    reporter.force_login(world.personas.reporter)
    _waiting(world.photo25, status="processing", seconds=120)
    assert "late" not in viewer.get(card).content.decode()
    assert "Process again" not in reporter.get(page).content.decode()
    _waiting(world.photo25, status="processing", seconds=240)
    html = viewer.get(card).content.decode()
    assert "Processing is late" in html and "card-late" in html
    assert 'hx-trigger="every 24s"' in html  # still asking, less often
    # The photo page says so too; a viewer cannot act on it, a reporter can.
    viewer_page = viewer.get(page).content.decode()
    assert "Processing is late" in viewer_page and "Process again" not in viewer_page
    assert "Process again" in reporter.get(page).content.decode()
    response = reporter.post(reverse("web:photo_retry", args=[world.photo25.pk]))
    assert response.status_code == 302
    photo = Photo.objects.get(evidence=world.photo25)
    assert photo.status == "pending"
    assert Activity.objects.filter(verb="photo.reprocess_requested").count() == 1
    assert 'hx-trigger="every 2s"' in viewer.get(card).content.decode()


def test_upload_of_the_same_bytes_returns_the_existing_evidence(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {"file": SimpleUploadedFile("copy.jpg", demo_photo(14), "image/jpeg")},
    )
    assert response.status_code == 200
    assert response.json()["id"] == world.photo14.pk
    assert "Already in this case" in response.json()["message"]


def test_upload_with_a_source(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {
            "file": SimpleUploadedFile("x.jpg", demo_photo(25)[:-10] + b"\xff\xd9", "image/jpeg"),
            "source": world.china.pk,
        },
    )
    assert response.status_code == 201
    assert Evidence.objects.get(pk=response.json()["id"]).source == world.china


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("drawing.jpg", svg_bytes(), 415),
        ("empty.jpg", b"", 400),
        ("random.bin", bytes(range(256)) * 20, 415),
    ],
)
def test_upload_refuses_bad_files_with_a_readable_reason(world, client_for, name, data, status):
    before = Evidence.objects.count()
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {"file": SimpleUploadedFile(name, data, "image/jpeg")},
    )
    assert response.status_code == status, response.content
    assert response.json()["error"]
    assert Evidence.objects.count() == before


def test_upload_over_the_size_limit_is_413(world, client_for, settings):
    settings.CASEFILE_MAX_UPLOAD_BYTES = 1000
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {"file": SimpleUploadedFile("big.jpg", demo_photo(14), "image/jpeg")},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_upload_of_a_pdf_becomes_a_document_and_does_not_claim_to_be_processing(world, client_for):
    from tests.images import pdf_bytes

    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_upload", args=[world.case.pk]),
        {"file": SimpleUploadedFile("manifest.pdf", pdf_bytes(), "application/pdf")},
    )
    assert response.status_code == 201, response.content
    assert Evidence.objects.get(pk=response.json()["id"]).kind == "document"
    # Nothing processes a document: the upload row must not say that something will.
    assert response.json()["message"] == "Uploaded"


def test_file_picker_offers_every_kind_of_file_the_upload_takes(world, client_for):
    html = client_for(world.personas.reporter).get(
        reverse("web:evidence_gallery", args=[world.case.pk])
    )
    accept = re.search(r'id="upload-files"[^>]*accept="([^"]*)"', html.content.decode()).group(1)
    offered = set(accept.split(","))
    # The help text promises photos, PDFs, office files and text; the picker must let a
    # reporter choose them (the bytes decide what is accepted, on the server).
    for kind in ("image/*", ".heic", ".pdf", ".docx", ".doc", ".xlsx", ".pptx", ".odt", ".rtf"):
        assert kind in offered, kind
    assert ".txt" in offered


# Two requests that each read and then write, at the same moment, on the one-machine setup's
# SQLite file: the upload page sends three files at once. Run in a fresh process so that it
# uses the settings' SQLite options whatever database the suite itself runs on.
SQLITE_WRITERS = """
import threading, time
import django
django.setup()
from django.db import connection, connections, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE upload (n integer)")
start, errors = threading.Event(), []

def upload():
    start.wait()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM upload")
            time.sleep(0.3)
            cursor.execute("INSERT INTO upload VALUES (1)")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()

threads = [threading.Thread(target=upload) for _ in range(3)]
for thread in threads:
    thread.start()
start.set()
for thread in threads:
    thread.join()
print(errors or "ok")
"""


def test_parallel_uploads_on_sqlite_wait_for_each_other_instead_of_failing(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'casefile.sqlite3'}",
        "PYTHONPATH": str(settings.BASE_DIR),
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SQLITE_WRITERS],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok", result.stdout


def test_upload_is_refused_to_a_viewer_and_404_to_a_non_member(world, client_for):
    url = reverse("web:evidence_upload", args=[world.case.pk])
    file = {"file": SimpleUploadedFile("a.jpg", demo_photo(14), "image/jpeg")}
    assert client_for(world.personas.viewer).post(url, file).status_code == 403
    file = {"file": SimpleUploadedFile("a.jpg", demo_photo(14), "image/jpeg")}
    assert client_for(world.personas.outsider).post(url, file).status_code == 404


def test_reporter_adds_a_web_link(world, client_for):
    client = client_for(world.personas.reporter)
    response = client.post(
        reverse("web:evidence_new", args=[world.case.pk, "link"]),
        {"url": "https://example.org/report", "title": "A report", "source": world.china.pk},
    )
    evidence = Evidence.objects.get(url="https://example.org/report")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:evidence_detail", args=[evidence.pk])
    assert evidence.source == world.china


def test_reporter_adds_testimony_and_it_needs_a_source(world, client_for):
    client = client_for(world.personas.reporter)
    url = reverse("web:evidence_new", args=[world.case.pk, "testimony"])
    response = client.post(url, {"text": "They left at night."})
    assert response.status_code == 200
    assert response.context["form"].errors["source"]
    client.post(url, {"text": "They left at night.", "source": world.china.pk})
    assert Evidence.objects.filter(kind="testimony", text="They left at night.").exists()


def test_half_a_location_is_a_form_error(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:evidence_new", args=[world.case.pk, "link"]),
        {"url": "https://example.org/x", "latitude": "40.1"},
    )
    assert response.status_code == 200
    assert "latitude and longitude" in response.content.decode()


def test_viewer_cannot_post_evidence(world, client_for):
    before = Evidence.objects.count()
    response = client_for(world.personas.viewer).post(
        reverse("web:evidence_new", args=[world.case.pk, "link"]),
        {"url": "https://example.org/sneaky"},
    )
    assert response.status_code == 403
    assert Evidence.objects.count() == before


def test_reporter_edits_evidence(world, client_for):
    client_for(world.personas.reporter).post(
        reverse("web:evidence_edit", args=[world.link.pk]),
        {"title": "Renamed report", "description": "", "place_name": ""},
    )
    world.link.refresh_from_db()
    assert world.link.title == "Renamed report"


def test_viewer_cannot_edit_evidence(world, client_for):
    response = client_for(world.personas.viewer).post(
        reverse("web:evidence_edit", args=[world.link.pk]), {"title": "Vandalised"}
    )
    assert response.status_code == 403
    world.link.refresh_from_db()
    assert world.link.title != "Vandalised"


def test_photo_page_shows_metadata_hash_map_and_links(world, client_for):
    from evidence.models import PhotoFlag

    PhotoFlag.objects.create(
        photo=world.photo14.photo, code="editing_software", message="Saved by GIMP 2.10."
    )
    response = client_for(world.personas.viewer).get(
        reverse("web:evidence_detail", args=[world.photo14.pk])
    )
    html = response.content.decode()
    rows = dict(response.context["rows"])
    assert rows["Date taken"] == "2026-05-14 10:40:00 (UTC+08:00)"
    assert rows["Camera"] == "Canon EOS 5D Mark IV"  # the model repeats the make: said once
    assert rows["Dimensions"] == "1600 × 1067 px"
    assert rows["GPS (EXIF)"].startswith("40.11")
    assert world.photo14.sha256 in html
    assert "Saved by GIMP 2.10." in html
    assert {p["kind"] for p in response.context["map_points"]} == {"stated", "exif"}
    assert 'data-map data-points="[{&quot;lat&quot;' in html
    # Viewers never get the original, nor the raw EXIF.
    assert "Download original" not in html
    assert response.context["exif"] is None


def test_photo_page_lists_near_duplicates_with_their_distance(world, client_for):
    from evidence.models import PhotoMatch

    a, b = sorted([world.photo14.photo, world.photo25.photo], key=lambda p: p.pk)
    PhotoMatch.objects.get_or_create(
        case=world.case, photo_a=a, photo_b=b, defaults={"distance": 7}
    )
    response = client_for(world.personas.viewer).get(
        reverse("web:evidence_detail", args=[world.photo14.pk])
    )
    similar = response.context["similar"]
    assert [s["e"].pk for s in similar] == [world.photo25.pk]
    assert f"distance {similar[0]['distance']}" in response.content.decode()


def test_photo_page_lists_linked_claims_and_one_history_its_custody_record(world, client_for):
    from evidence.services.links import evidence_link

    evidence_link(
        actor=world.personas.reporter, claim=world.draft, evidence=world.photo25, stance="supports"
    )
    response = client_for(world.personas.viewer).get(
        reverse("web:evidence_detail", args=[world.photo25.pk])
    )
    html = response.content.decode()
    assert world.draft.statement in html
    # One history panel, no separate activity list repeating part of it.
    assert ">History</h2>" in html
    assert ">Activity</h2>" not in html and "Chain of custody" not in html
    events = [row["event"] for row in response.context["history"]]
    # Newest first; the link (absent from the old activity list) is there.
    assert events == ["Linked to a claim", "Processed", "Received"]
    assert reverse("web:evidence_custody", args=[world.photo25.pk]) in html


def test_photo_page_history_shows_the_newest_events_and_counts_the_rest(world, client_for):
    from evidence.services.comments import comment_create

    for n in range(15):
        comment_create(actor=world.personas.reporter, text=f"Note {n}", evidence=world.photo14)
    response = client_for(world.personas.viewer).get(
        reverse("web:evidence_detail", args=[world.photo14.pk])
    )
    history = response.context["history"]
    assert len(history) == 12 and all(row["event"] == "Comment added" for row in history)
    assert response.context["history_earlier"] == 5  # 3 comments, processed, received
    assert "5 earlier events in the" in response.content.decode()


def test_exact_place_of_a_protected_sources_photo_is_hidden_below_editor(world, client_for):
    Evidence.objects.filter(pk=world.photo14.pk).update(source=world.china)
    url = reverse("web:evidence_detail", args=[world.photo14.pk])
    viewer = client_for(world.personas.viewer).get(url)
    assert "hidden" in dict(viewer.context["rows"])["GPS (EXIF)"]
    # Neither the camera's position nor the stated coordinates, nor the stated place.
    assert viewer.context["map_points"] == []
    assert dict(viewer.context["rows"])["Place (stated)"] == (
        "Recorded (hidden: the source is protected)"
    )
    editor = client_for(world.personas.editor).get(url)
    assert dict(editor.context["rows"])["GPS (EXIF)"].startswith("40.11")


@pytest.mark.parametrize("role", ("editor", "owner"))
def test_editors_download_the_original_as_an_attachment_and_it_is_recorded(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    page = client.get(reverse("web:evidence_detail", args=[world.photo14.pk])).content.decode()
    assert "Download original" in page
    response = client.get(reverse("web:evidence_original", args=[world.photo14.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "IMG_0514.jpg" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == demo_photo(14)
    row = Activity.objects.filter(verb="evidence.original_downloaded").get()
    assert row.actor == world.personas.by_role(role) and row.target_id == world.photo14.pk


@pytest.mark.parametrize("role", ("reporter", "viewer"))
def test_original_download_is_refused_below_editor(world, client_for, role):
    response = client_for(world.personas.by_role(role)).get(
        reverse("web:evidence_original", args=[world.photo14.pk])
    )
    assert response.status_code == 403
    assert not Activity.objects.filter(verb="evidence.original_downloaded").exists()


def test_derivatives_carry_no_metadata_and_are_private(world, client_for):
    response = client_for(world.personas.viewer).get(
        reverse("web:photo_preview", args=[world.photo14.pk])
    )
    body = b"".join(response.streaming_content)
    assert response["Content-Type"].startswith("image/")
    assert "private" in response["Cache-Control"]
    assert b"Canon" not in body


def test_derivative_of_an_unprocessed_photo_is_404(world, client_for):
    Photo.objects.filter(pk=world.photo14.pk).update(status="pending", thumbnail="")
    response = client_for(world.personas.viewer).get(
        reverse("web:photo_thumbnail", args=[world.photo14.pk])
    )
    assert response.status_code == 404


def test_failed_photo_can_be_queued_again_by_a_reporter_not_a_viewer(world, client_for):
    Photo.objects.filter(pk=world.photo25.pk).update(status="failed", failure_reason="broken")
    url = reverse("web:photo_retry", args=[world.photo25.pk])
    assert client_for(world.personas.viewer).post(url).status_code == 403
    page = client_for(world.personas.reporter).get(
        reverse("web:evidence_detail", args=[world.photo25.pk])
    )
    assert "Process again" in page.content.decode()
    response = client_for(world.personas.reporter).post(url)
    assert response.status_code == 302
    assert Photo.objects.get(pk=world.photo25.pk).status in ("pending", "ready")


def test_comments_on_evidence(world, client_for):
    url = reverse("web:evidence_comment", args=[world.photo14.pk])
    client_for(world.personas.reporter).post(url, {"text": "Same lamp posts."})
    assert Comment.objects.filter(evidence=world.photo14, text="Same lamp posts.").exists()
    assert client_for(world.personas.viewer).post(url, {"text": "Nope"}).status_code == 403
    assert client_for(world.personas.outsider).post(url, {"text": "Nope"}).status_code == 404
    assert not Comment.objects.filter(text="Nope").exists()


def test_compare_shows_both_photos_metadata_and_hash_distance(world, client_for):
    from evidence.imaging.hashes import hamming

    url = reverse("web:photo_compare", args=[world.case.pk])
    response = client_for(world.personas.viewer).get(
        f"{url}?a={world.photo14.pk}&b={world.photo25.pk}"
    )
    html = response.content.decode()
    p14, p25 = world.photo14.photo, world.photo25.photo
    assert response.context["distances"]["phash"] == hamming(p14.phash, p25.phash)
    assert reverse("web:photo_preview", args=[world.photo14.pk]) in html
    assert reverse("web:photo_preview", args=[world.photo25.pk]) in html
    assert "data-wipe-range" in html
    labels = [row[0] for row in response.context["rows"]]
    assert labels[:2] == ["Title", "Source"] and "Date taken" in labels
    taken = {row[0]: row[1:] for row in response.context["rows"]}["Date taken"]
    assert taken == ("2026-05-14 10:40:00 (UTC+08:00)", "2026-05-25 10:40:00 (UTC+08:00)")


def test_compare_ignores_photos_of_other_cases(world, client_for):
    other = Evidence.objects.create(
        case=CaseFactory(created_by=world.personas.outsider),
        kind="link",
        url="https://x.example",
        collected_by=world.personas.outsider,
    )
    url = reverse("web:photo_compare", args=[world.case.pk])
    response = client_for(world.personas.viewer).get(f"{url}?a={other.pk}&b={world.photo14.pk}")
    assert response.context["a"] is None


# --- Claims ---------------------------------------------------------------------------------


def test_claim_board_has_a_column_per_status(world, client_for):
    response = client_for(world.personas.viewer).get(
        reverse("web:claim_board", args=[world.case.pk])
    )
    columns = {key: [c.pk for c in claims] for key, _label, claims in response.context["columns"]}
    assert columns["draft"] == [world.draft.pk]
    assert set(columns["in_review"]) == {world.in_review.pk, world.editors_claim.pk}
    in_review = [c for c in response.context["columns"][1][2] if c.pk == world.in_review.pk][0]
    assert (in_review.supports, in_review.contradicts) == (1, 1)


def test_reporter_writes_a_claim(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_new", args=[world.case.pk]),
        {"statement": "The goods were shipped to Nampo", "occurred_on": "2026-05-20"},
    )
    claim = Claim.objects.get(statement="The goods were shipped to Nampo")
    assert response["Location"] == reverse("web:claim_detail", args=[claim.pk])
    assert claim.status == "draft" and str(claim.occurred_on) == "2026-05-20"


def test_claim_needs_a_statement(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_new", args=[world.case.pk]), {"statement": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["statement"]


def test_viewer_cannot_write_claims(world, client_for):
    response = client_for(world.personas.viewer).post(
        reverse("web:claim_new", args=[world.case.pk]), {"statement": "Viewer's claim"}
    )
    assert response.status_code == 403
    assert not Claim.objects.filter(statement="Viewer's claim").exists()


def test_claim_page_shows_supporting_and_contradicting_side_by_side(world, client_for):
    response = client_for(world.personas.viewer).get(
        reverse("web:claim_detail", args=[world.in_review.pk])
    )
    assert [link.evidence.pk for link in response.context["supports"]] == [world.testimony.pk]
    assert [link.evidence.pk for link in response.context["contradicts"]] == [world.link.pk]
    html = response.content.decode()
    assert "Source in China" in html and "Zhang Min" not in html
    assert "Waiting for an editor" in html


def test_link_options_search_excludes_linked_evidence(world, client_for):
    url = reverse("web:claim_link_options", args=[world.in_review.pk])
    client = client_for(world.personas.reporter)
    ids = {o["e"].pk for o in client.get(url).context["options"]}
    assert ids == {world.photo14.pk, world.photo25.pk}
    ids = {o["e"].pk for o in client.get(url + "?q=25 May").context["options"]}
    assert ids == {world.photo25.pk}
    assert "No unlinked evidence matches" in client.get(url + "?q=zzz").content.decode()


def test_reporter_links_evidence_to_a_claim(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_link", args=[world.draft.pk]),
        {"evidence": world.photo25.pk, "stance": "supports", "note": "Still there."},
    )
    assert response.status_code == 302
    link = EvidenceLink.objects.get(claim=world.draft, evidence=world.photo25)
    assert link.stance == "supports" and link.note == "Still there."


def test_linking_twice_or_without_evidence_is_a_form_error(world, client_for):
    client = client_for(world.personas.reporter)
    url = reverse("web:claim_link", args=[world.in_review.pk])
    response = client.post(url, {"evidence": world.testimony.pk, "stance": "supports"})
    assert response.status_code == 400
    assert "already linked" in response.content.decode()
    response = client.post(url, {"stance": "supports"})
    assert response.status_code == 400
    assert "Choose the evidence to link" in response.content.decode()


def test_evidence_of_another_case_cannot_be_linked(world, client_for):
    other = Evidence.objects.create(
        case=CaseFactory(created_by=world.personas.outsider),
        kind="link",
        url="https://x.example",
        collected_by=world.personas.outsider,
    )
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_link", args=[world.draft.pk]),
        {"evidence": other.pk, "stance": "supports"},
    )
    assert response.status_code == 400
    assert not EvidenceLink.objects.filter(evidence=other).exists()


def test_viewer_cannot_link_or_unlink(world, client_for):
    client = client_for(world.personas.viewer)
    response = client.post(
        reverse("web:claim_link", args=[world.draft.pk]),
        {"evidence": world.photo25.pk, "stance": "supports"},
    )
    assert response.status_code == 403
    link = EvidenceLink.objects.filter(claim=world.in_review).first()
    assert client.post(reverse("web:link_remove", args=[link.pk])).status_code == 403
    assert EvidenceLink.objects.filter(pk=link.pk).exists()


def test_reporter_unlinks_evidence(world, client_for):
    link = EvidenceLink.objects.filter(claim=world.in_review).first()
    client_for(world.personas.reporter).post(reverse("web:link_remove", args=[link.pk]))
    assert not EvidenceLink.objects.filter(pk=link.pk).exists()


def test_link_and_claim_posts_are_404_to_a_non_member(world, client_for):
    client = client_for(world.personas.outsider)
    link = EvidenceLink.objects.filter(claim=world.in_review).first()
    assert client.post(reverse("web:link_remove", args=[link.pk])).status_code == 404
    assert client.post(reverse("web:claim_submit", args=[world.draft.pk])).status_code == 404
    assert (
        client.post(
            reverse("web:claim_review", args=[world.in_review.pk]),
            {"decision": "supported", "note": "x"},
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("web:claim_link", args=[world.draft.pk]),
            {"evidence": world.photo14.pk, "stance": "supports"},
        ).status_code
        == 404
    )


def test_reporter_submits_a_draft(world, client_for):
    client = client_for(world.personas.reporter)
    page = client.get(reverse("web:claim_detail", args=[world.draft.pk])).content.decode()
    assert "Submit for review" in page
    client.post(reverse("web:claim_submit", args=[world.draft.pk]))
    world.draft.refresh_from_db()
    assert world.draft.status == "in_review"


def test_submitting_twice_is_a_message(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_submit", args=[world.in_review.pk]), follow=True
    )
    assert "cannot move to in review" in response.content.decode()


def test_viewer_cannot_submit(world, client_for):
    assert (
        client_for(world.personas.viewer)
        .post(reverse("web:claim_submit", args=[world.draft.pk]))
        .status_code
        == 403
    )
    world.draft.refresh_from_db()
    assert world.draft.status == "draft"


@pytest.mark.parametrize("role", ("editor", "owner"))
def test_editor_reviews_a_claim_they_did_not_write(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    url = reverse("web:claim_detail", args=[world.in_review.pk])
    assert "Record decision" in client.get(url).content.decode()
    response = client.post(
        reverse("web:claim_review", args=[world.in_review.pk]),
        {"decision": "supported", "confidence": "high", "note": "Two photos agree."},
    )
    assert response.status_code == 302
    world.in_review.refresh_from_db()
    assert world.in_review.status == "supported"
    assert world.in_review.reviewer == world.personas.by_role(role)
    html = client.get(url).content.decode()
    assert "Two photos agree." in html and "Record decision" not in html


def test_review_needs_a_note(world, client_for):
    response = client_for(world.personas.editor).post(
        reverse("web:claim_review", args=[world.in_review.pk]), {"decision": "supported"}
    )
    assert response.status_code == 400
    assert "a review needs a note" in response.content.decode()
    world.in_review.refresh_from_db()
    assert world.in_review.status == "in_review"


def test_review_without_a_decision_says_which_to_choose(world, client_for):
    response = client_for(world.personas.editor).post(
        reverse("web:claim_review", args=[world.in_review.pk]), {"note": "Looks right."}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a decision: supported, contradicted, unverified or back to draft." in html
    assert "This field is required." not in html
    world.in_review.refresh_from_db()
    assert world.in_review.status == "in_review"


def test_review_form_is_hidden_from_and_refused_to_the_claims_author(world, client_for):
    client = client_for(world.personas.editor)
    url = reverse("web:claim_detail", args=[world.editors_claim.pk])
    html = client.get(url).content.decode()
    assert "Record decision" not in html
    assert "another editor must review it" in html
    response = client.post(
        reverse("web:claim_review", args=[world.editors_claim.pk]),
        {"decision": "supported", "note": "I am sure."},
    )
    assert response.status_code == 403
    world.editors_claim.refresh_from_db()
    assert world.editors_claim.status == "in_review"


@pytest.mark.parametrize("role", ("reporter", "viewer"))
def test_review_is_hidden_from_and_refused_below_editor(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    html = client.get(reverse("web:claim_detail", args=[world.in_review.pk])).content.decode()
    assert "Record decision" not in html
    response = client.post(
        reverse("web:claim_review", args=[world.in_review.pk]),
        {"decision": "supported", "note": "Looks fine."},
    )
    assert response.status_code == 403
    world.in_review.refresh_from_db()
    assert world.in_review.status == "in_review"


def test_claim_history_lists_each_transition(world, client_for):
    html = (
        client_for(world.personas.viewer)
        .get(reverse("web:claim_detail", args=[world.in_review.pk]))
        .content.decode()
    )
    assert 'class="history"' in html
    assert html.count("status-in_review") >= 2


def test_reporter_edits_a_draft(world, client_for):
    client_for(world.personas.reporter).post(
        reverse("web:claim_edit", args=[world.draft.pk]),
        {"statement": "The train never left Dandong", "details": "Photos."},
    )
    world.draft.refresh_from_db()
    assert world.draft.statement == "The train never left Dandong"


def test_editing_a_claim_in_review_is_a_form_error(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:claim_edit", args=[world.in_review.pk]), {"statement": "Changed"}
    )
    assert response.status_code == 200
    assert "send the claim back to draft" in response.content.decode()


def test_comments_on_claims_and_their_edit_by_the_author_only(world, client_for):
    url = reverse("web:claim_comment", args=[world.draft.pk])
    client_for(world.personas.reporter).post(url, {"text": "Need a third photo."})
    comment = Comment.objects.get(claim=world.draft)
    page = client_for(world.personas.reporter).get(
        reverse("web:claim_detail", args=[world.draft.pk])
    )
    assert "Need a third photo." in page.content.decode()
    edit = reverse("web:comment_edit", args=[comment.pk])
    assert client_for(world.personas.editor).post(edit, {"text": "Hijack"}).status_code == 403
    client_for(world.personas.reporter).post(edit, {"text": "Need a third photo, dated."})
    comment.refresh_from_db()
    assert comment.text == "Need a third photo, dated." and comment.revisions.count() == 1
    assert client_for(world.personas.viewer).post(url, {"text": "x"}).status_code == 403
    assert client_for(world.personas.outsider).post(url, {"text": "x"}).status_code == 404


# --- Sources --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ("reporter", "viewer"))
def test_protected_source_shows_only_its_pseudonym_below_editor(world, client_for, role):
    html = (
        client_for(world.personas.by_role(role))
        .get(reverse("web:source_list", args=[world.case.pk]))
        .content.decode()
    )
    assert "Source in China" in html
    assert "Zhang Min" not in html and "Shenyang" not in html


@pytest.mark.parametrize("role", ("editor", "owner"))
def test_editors_see_a_protected_sources_identity(world, client_for, role):
    html = (
        client_for(world.personas.by_role(role))
        .get(reverse("web:source_list", args=[world.case.pk]))
        .content.decode()
    )
    assert "Zhang Min" in html and "Shenyang" in html


def test_reporter_adds_a_source(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:source_list", args=[world.case.pk]),
        {"kind": "publication", "name": "Daily NK", "reliability": "C"},
    )
    assert response.status_code == 302
    assert Source.objects.filter(case=world.case, name="Daily NK").exists()


def test_protected_source_without_pseudonym_is_a_form_error(world, client_for):
    response = client_for(world.personas.reporter).post(
        reverse("web:source_list", args=[world.case.pk]),
        {"kind": "person", "name": "Li", "protected": "on", "reliability": "C"},
    )
    assert response.status_code == 400
    assert "needs a pseudonym" in response.content.decode()


def test_viewer_cannot_add_a_source(world, client_for):
    response = client_for(world.personas.viewer).post(
        reverse("web:source_list", args=[world.case.pk]),
        {"kind": "publication", "name": "Sneaky", "reliability": "C"},
    )
    assert response.status_code == 403
    assert not Source.objects.filter(name="Sneaky").exists()


def test_reporter_edits_a_protected_source_without_seeing_its_identity(world, client_for):
    client = client_for(world.personas.reporter)
    url = reverse("web:source_edit", args=[world.china.pk])
    page = client.get(url)
    assert {"name", "pseudonym", "notes"}.isdisjoint(page.context["form"].fields)
    assert "Zhang Min" not in page.content.decode()
    # A posted name or pseudonym is not a field of the form: ignored, never applied.
    client.post(url, {"kind": "person", "pseudonym": "Zhang Min", "reliability": "C", "name": "X"})
    world.china.refresh_from_db()
    assert (world.china.pseudonym, world.china.name, world.china.reliability) == (
        "Source in China",
        "Zhang Min",
        "C",
    )


def test_editor_edits_a_protected_sources_identity(world, client_for):
    client_for(world.personas.editor).post(
        reverse("web:source_edit", args=[world.china.pk]),
        {
            "kind": "person",
            "name": "Zhang Wei",
            "protected": "on",
            "pseudonym": "Source in China",
            "reliability": "B",
            "notes": "",
        },
    )
    world.china.refresh_from_db()
    assert world.china.name == "Zhang Wei"


def test_viewer_cannot_edit_a_source(world, client_for):
    response = client_for(world.personas.viewer).post(
        reverse("web:source_edit", args=[world.photographer.pk]),
        {"kind": "person", "name": "Changed", "reliability": "A"},
    )
    assert response.status_code == 403


# --- Timeline, map, search ------------------------------------------------------------------


def test_timeline_orders_dated_evidence_and_claims(world, client_for):
    response = client_for(world.personas.viewer).get(reverse("web:timeline", args=[world.case.pk]))
    order = [(str(day), [i["label"] for i in items]) for day, items in response.context["days"]]
    assert [day for day, _ in order] == [
        "2026-04-09",
        "2026-05-14",
        "2026-05-17",
        "2026-05-25",
        "2026-05-28",
    ]
    assert order[2][1] == ["The cargo was trucked to Longkou"]


def test_map_has_every_located_piece_of_evidence(world, client_for):
    response = client_for(world.personas.editor).get(reverse("web:case_map", args=[world.case.pk]))
    points = response.context["points"]
    places = {p["place"] for p in points}
    assert "Longkou port, Shandong, China" in places
    assert "Dandong station, Liaoning, China" in places
    assert sum(1 for p in points if p["exif"]) == 2
    html = response.content.decode()
    # The list beside the map is server-rendered: it shows even when tiles or scripts fail.
    assert html.count('class="map-list-item"') == len(points) == 5
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html


def test_map_keeps_a_protected_sources_place_from_viewers(world, client_for):
    response = client_for(world.personas.viewer).get(reverse("web:case_map", args=[world.case.pk]))
    points = response.context["points"]
    assert len(points) == 4
    assert "Longkou" not in response.content.decode()


def _hits(response, type):
    return [hit.object_id for hit in response.context["results"].hits if hit.type == type]


def test_search_finds_claims_sources_and_evidence_of_the_users_cases(world, client_for):
    response = client_for(world.personas.reporter).get("/search/?q=Longkou")
    assert _hits(response, "claim") == [world.in_review.pk]
    assert world.testimony.pk in _hits(response, "evidence")


def test_search_never_reveals_a_protected_identity_below_editor(world, client_for):
    reporter = client_for(world.personas.reporter).get("/search/?q=Zhang")
    assert reporter.context["results"].total == 0
    assert reporter.context["results"].hits == []
    assert "Zhang Min" not in reporter.content.decode()
    pseudonym = client_for(world.personas.reporter).get("/search/?q=Source in China")
    assert [h.label for h in pseudonym.context["results"].hits if h.type == "source"] == [
        "Source in China"
    ]
    editor = client_for(world.personas.editor).get("/search/?q=Zhang")
    assert [h.label for h in editor.context["results"].hits if h.type == "source"] == ["Zhang Min"]


def test_search_is_empty_for_a_non_member(world, client_for):
    response = client_for(world.personas.outsider).get("/search/?q=train")
    assert response.context["results"].total == 0


# --- Content-Security-Policy and markup -----------------------------------------------------


def test_pages_carry_a_strict_content_security_policy(world, client_for):
    response = client_for(world.personas.owner).get(
        reverse("web:case_dashboard", args=[world.case.pk])
    )
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "https://tile.openstreetmap.org" in policy.split("img-src")[1].split(";")[0]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


@pytest.mark.parametrize("role", ("owner", "viewer"))
def test_no_page_has_inline_scripts_styles_or_handlers(world, client_for, role):
    client = client_for(world.personas.by_role(role))
    urls = [u for _n, u in page_urls(world) if "thumbnail" not in u and "preview" not in u]
    urls += ["/", "/search/?q=train", reverse("web:case_new")]
    if role == "owner":
        urls += [u for _n, u in writer_form_urls(world)]
    for url in urls:
        html = client.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert "<style" not in html, url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url


def test_form_controls_have_labels(world, client_for):
    client = client_for(world.personas.owner)
    for url in [u for _n, u in writer_form_urls(world)] + [
        reverse("web:case_dashboard", args=[world.case.pk]),
        reverse("web:evidence_gallery", args=[world.case.pk]),
        reverse("web:claim_detail", args=[world.in_review.pk]),
        reverse("web:evidence_detail", args=[world.photo14.pk]),
        reverse("web:source_list", args=[world.case.pk]),
    ]:
        html = client.get(url).content.decode()
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (url, sorted(i for i in ids if ids.count(i) > 1))
        for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html):
            wrapped = re.search(rf'<label[^>]*>\s*<input[^>]*id="{control_id}"', html)
            assert f'for="{control_id}"' in html or wrapped, (url, control_id)


def test_member_of_several_cases_sees_each_with_its_own_role(world, client_for):
    other = CaseFactory(title="Second case", created_by=world.personas.owner)
    MembershipFactory(case=other, user=world.personas.viewer, role="editor")
    response = client_for(world.personas.viewer).get("/")
    roles = {case.title: role for case, role in response.context["rows"]}
    assert roles == {"The Dandong freight train": "viewer", "Second case": "editor"}


def test_pages_naming_a_protected_source_to_an_editor_record_it_once(world, client_for):
    gallery = reverse("web:evidence_gallery", args=[world.case.pk])
    reveals = Activity.objects.filter(verb__contains="reveal", target_id=world.china.pk)
    client_for(world.personas.viewer).get(gallery)
    assert not reveals.exists()
    editor = client_for(world.personas.editor)
    editor.get(gallery)
    editor.get(gallery)  # the same view again soon after is the same reveal
    assert reveals.count() == 1
    assert reveals.get().data["via"] == "page"


def test_original_download_is_recorded_as_from_the_pages(world, client_for):
    client_for(world.personas.editor).get(reverse("web:evidence_original", args=[world.link.pk]))
    response = client_for(world.personas.editor).get(
        reverse("web:evidence_original", args=[world.photo25.pk])
    )
    assert response.status_code == 200
    row = Activity.objects.get(verb="evidence.original_downloaded")
    assert row.data["via"] == "page"


def test_list_pages_make_the_same_number_of_queries_however_much_evidence(world, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import LinkEvidenceFactory

    client = client_for(world.personas.editor)
    c = world.case.pk
    urls = [
        reverse("web:evidence_gallery", args=[c]),
        reverse("web:case_dashboard", args=[c]),
        reverse("web:timeline", args=[c]),
        reverse("web:case_map", args=[c]),
        reverse("web:source_list", args=[c]),
        reverse("web:claim_detail", args=[world.in_review.pk]),
        "/",
    ]

    def counts():
        result = []
        for url in urls:
            client.get(url)  # the first view of a protected source writes its reveal row
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries.captured_queries))
        return result

    before = counts()
    for n in range(25):
        LinkEvidenceFactory(
            case=world.case,
            collected_by=world.personas.reporter,
            source=world.china,
            observed_at=f"2026-05-{n + 1:02d}T08:00Z",
            latitude=40.0,
            longitude=124.0,
        )
    after = counts()
    assert all(a <= b for a, b in zip(after, before, strict=True)), (before, after)


def test_case_list_shows_the_latest_row_as_its_reader_may_see_it(personas, client):
    from evidence.services.sources import source_create, source_update

    source = source_create(
        actor=personas.reporter, case=personas.case, kind="person", name="Kim Chol-su"
    )
    client.force_login(personas.viewer)
    # The row commits to the name; an open source's name is shown to every member.
    assert "“Kim Chol-su”" in client.get(reverse("web:case_list")).content.decode()
    source_update(actor=personas.editor, source=source, protected=True, pseudonym="Rail worker")
    html = client.get(reverse("web:case_list")).content.decode()
    assert "“Rail worker”" in html and "Kim Chol" not in html
