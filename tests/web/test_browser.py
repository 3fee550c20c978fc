"""The pages in a real browser: Playwright for Python driving Debian's Chromium against a live
server. Every test fails on any JavaScript error or CSP violation in the console, and saves a
screenshot of every page it visits to tests/artifacts/ (git-ignored) for a person to look at.

Run: .venv/bin/pytest tests/web/test_browser.py -m browser
"""

import re

import pytest

from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_update
from evidence.services.links import evidence_link
from tests.needs import unavailable
from tests.web.browsing import (  # noqa: F401 - the shared browser's names
    DB_LOCK,
    LAPTOP,
    PASSWORD,
    PHONE,
    TILE_HOST,
    TIMEOUT_MS,
)
from tests.web.conftest import demo_photo

pytestmark = pytest.mark.browser


@pytest.fixture
def queued_photos(monkeypatch):
    """Hold photo processing back (record what was queued), so that the test sees the cards
    pending and then watches them turn ready when it processes them itself."""
    from evidence import enqueue

    queued: list[int] = []
    send = enqueue.task_send

    def hold_photos(name, *args):
        if name != enqueue.PHOTO_PROCESS:
            return send(name, *args)
        queued.append(*args)
        return True

    monkeypatch.setattr(enqueue, "task_send", hold_photos)
    return queued


def test_reporter_uploads_links_and_submits_editor_reviews_viewer_reads_outsider_is_refused(
    personas, visit, queued_photos, tmp_path
):
    from playwright.sync_api import expect

    from cases.models import Claim
    from evidence.services.photos import photo_process

    case = personas.case
    files = []
    for day in (14, 25):
        path = tmp_path / f"IMG_05{day}.jpg"
        path.write_bytes(demo_photo(day))
        files.append(str(path))

    # --- The reporter signs in and uploads the two demo photos through the file input.
    bob = visit("reporter")
    bob.sign_in("bob")
    page = bob.page
    page.get_by_role("link", name=case.title).click()
    page.wait_for_load_state("networkidle")
    bob.shot("dashboard")
    page.get_by_role("navigation", name="Case").get_by_role("link", name="Evidence").click()
    page.wait_for_load_state("networkidle")
    bob.shot("gallery-empty")
    page.evaluate("window.__casefileNoReload = true")
    page.set_input_files("#upload-files", files)
    rows = page.locator(".upload-item")
    expect(rows).to_have_count(2)
    expect(page.locator(".upload-item.done")).to_have_count(2)
    cards = page.locator("#gallery .card")
    expect(cards).to_have_count(2)
    expect(page.locator('#gallery .card [data-status="pending"]')).to_have_count(2)
    bob.shot("gallery-pending")

    # --- A worker processes them; the cards turn ready by themselves (htmx polling).
    assert len(queued_photos) == 2
    for photo_id in queued_photos:
        with DB_LOCK:
            photo_process(photo_id=photo_id)
    expect(page.locator('#gallery .card [data-status="ready"]')).to_have_count(2)
    expect(page.locator("#gallery .card img")).to_have_count(2)
    assert page.evaluate("window.__casefileNoReload") is True, "the page was reloaded"
    bob.shot("gallery-ready")

    # --- The photo page.
    page.locator("#gallery .card", has_text="IMG_0514.jpg").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("cell", name=re.compile(r"2026-05-14 10:40:00"))).to_be_visible()
    expect(page.locator(".leaflet-interactive")).to_have_count(1)  # EXIF GPS (no stated place)
    bob.shot("photo")

    # --- The claim: written, both photos linked, submitted.
    page.get_by_role("navigation", name="Case").get_by_role("link", name="Claims").click()
    page.get_by_role("link", name="Write a claim").click()
    page.wait_for_load_state("networkidle")
    bob.shot("claim-new")
    statement = "The train never left Dandong since January of last year"
    page.get_by_label("Statement").fill(statement)
    page.get_by_label("Details").fill(
        "Same train, same platform, loaded on 14 May, empty on 25 May."
    )
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name=statement)).to_be_visible()
    bob.shot("claim-draft")
    for name in ("IMG_0514", "IMG_0525"):
        page.get_by_label("Find evidence").fill(name)
        option = page.locator(".link-option", has_text=name)
        expect(page.locator(".link-option")).to_have_count(1)
        option.locator("input").check()
        page.get_by_label("Supports").check()
        page.get_by_role("button", name="Link", exact=True).click()
        page.wait_for_load_state("networkidle")
        expect(page.locator(".col-supports .link-item", has_text=name)).to_be_visible()
    expect(page.locator(".col-supports .link-item img")).to_have_count(2)
    bob.shot("claim-linked")
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".claim-head .status-in_review")).to_be_visible()
    bob.shot("claim-submitted")
    with DB_LOCK:
        claim = Claim.objects.get(statement=statement)
        assert claim.status == "in_review" and claim.links.count() == 2
    claim_url = f"/claims/{claim.pk}/"

    # --- An editor reviews it.
    erin = visit("editor")
    erin.sign_in("erin")
    erin.goto(claim_url, "claim-to-review")
    review = erin.page.locator(".review-panel")
    review.get_by_label("Supported").check()
    review.get_by_label("Confidence").select_option("high")
    review.get_by_label("Note").fill("Two dated photos of the same train at the same platform.")
    review.get_by_role("button", name="Record decision").click()
    erin.page.wait_for_load_state("networkidle")
    expect(erin.page.locator(".claim-head .status-supported")).to_be_visible()
    erin.shot("claim-reviewed")
    with DB_LOCK:
        claim.refresh_from_db()
    assert claim.status == "supported" and claim.reviewer_id == personas.editor.pk

    # --- A viewer sees it, with no review form (and no other write control).
    victor = visit("viewer")
    victor.sign_in("victor")
    victor.goto(claim_url, "claim-as-viewer")
    expect(victor.page.get_by_role("heading", name=statement)).to_be_visible()
    expect(victor.page.locator(".col-supports .link-item")).to_have_count(2)
    expect(victor.page.get_by_role("button", name="Record decision")).to_have_count(0)
    expect(victor.page.locator(".review-panel")).to_have_count(0)
    expect(victor.page.get_by_role("button", name="Link", exact=True)).to_have_count(0)

    # --- A non-member gets 404 (the browser logs the 404 itself: that one is expected).
    charlie = visit("outsider")
    charlie.sign_in("charlie")
    charlie.expected_errors.append(re.compile(r"status of 404"))
    response = charlie.goto(claim_url, "claim-as-outsider")
    assert response.status == 404
    expect(charlie.page.get_by_role("heading", name="Not found")).to_be_visible()
    assert statement not in charlie.page.content()


@pytest.fixture
def demo_world(world):
    """The web tests' world, plus what the pages tour needs to show everything at once."""
    return world


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_every_page_renders_without_console_errors(demo_world, visit, viewport_name):
    from playwright.sync_api import expect

    w = demo_world
    c = w.case.pk
    owner = visit(f"owner-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    owner.sign_in("alice")
    pages = [
        (f"/cases/{c}/", "dashboard"),
        (f"/cases/{c}/evidence/", "gallery"),
        (f"/cases/{c}/evidence/new/link/", "new-link"),
        (f"/cases/{c}/evidence/new/testimony/", "new-testimony"),
        (f"/evidence/{w.photo14.pk}/", "photo"),
        (f"/evidence/{w.testimony.pk}/", "testimony"),
        (f"/evidence/{w.link.pk}/", "link"),
        (f"/cases/{c}/compare/?a={w.photo14.pk}&b={w.photo25.pk}", "compare"),
        (f"/cases/{c}/claims/", "claims"),
        (f"/claims/{w.in_review.pk}/", "claim-in-review"),
        (f"/claims/{w.draft.pk}/", "claim-draft"),
        (f"/cases/{c}/sources/", "sources"),
        (f"/sources/{w.china.pk}/edit/", "source-edit"),
        (f"/cases/{c}/timeline/", "timeline"),
        (f"/cases/{c}/map/", "map"),
        ("/search/?q=Dandong", "search"),
        ("/search/?q=train&type=evidence&kind=photo", "search-filtered"),
        ("/search/image/", "search-image"),
        (f"/search/image/?evidence={w.photo14.pk}", "search-image-photo"),
        ("/cases/new/", "case-new"),
        (f"/cases/{c}/edit/", "case-edit"),
    ]
    for path, label in pages:
        response = owner.goto(path, label)
        assert response.status == 200, path
        # Nothing may stick out sideways: the layout holds at this width.
        overflow = owner.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"
        if label == "map":
            expect(owner.page.locator(".leaflet-interactive")).to_have_count(5)


def test_near_duplicate_names_do_not_run_into_their_distance_on_a_phone(demo_world, visit):
    from evidence.models import Evidence, PhotoMatch

    w = demo_world
    # A camera's file name: one long word, the common case for photos sent in by readers.
    Evidence.objects.filter(pk=w.photo25.pk).update(title="IMG_20260525_164012_DANDONG.jpg")
    a, b = sorted([w.photo14.photo, w.photo25.photo], key=lambda p: p.pk)
    PhotoMatch.objects.get_or_create(case=w.case, photo_a=a, photo_b=b, defaults={"distance": 7})
    viewer = visit("viewer-phone", PHONE)
    viewer.sign_in("victor")
    viewer.goto(f"/evidence/{w.photo14.pk}/", "photo-near-duplicates")
    boxes = viewer.page.evaluate(
        """() => {
            const item = document.querySelector(".similar li");
            const box = el => el.getBoundingClientRect().toJSON();
            return {
                item: box(item),
                name: box(item.querySelector("a:first-child span")),
                distance: box(item.querySelector(".distance")),
            };
        }"""
    )
    name, distance, item = boxes["name"], boxes["distance"], boxes["item"]
    overlaps = (
        name["left"] < distance["right"]
        and distance["left"] < name["right"]
        and name["top"] < distance["bottom"]
        and distance["top"] < name["bottom"]
    )
    assert not overlaps, boxes
    assert name["right"] <= item["right"] + 0.5, boxes


def test_map_markers_and_list_show_when_tiles_cannot_load(demo_world, visit):
    from playwright.sync_api import expect

    reporter = visit("reporter")
    reporter.tiles_fail = True
    reporter.expected_errors.append(re.compile(re.escape(TILE_HOST)))
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{demo_world.case.pk}/map/", "map-no-tiles")
    page = reporter.page
    points = page.locator(".map-list-item")
    # Two stated places and two camera positions; the protected source's Longkou is for editors.
    expect(points).to_have_count(4)
    expect(page.locator(".leaflet-interactive")).to_have_count(4)
    expect(page.locator(".map-note")).to_have_text(re.compile("tiles could not be loaded"))
    # The list drives the map from the keyboard.
    points.nth(0).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".leaflet-popup")).to_be_visible()
    reporter.shot("map-popup")


def test_compare_wipe_slider_moves_with_the_keyboard(demo_world, visit):
    from playwright.sync_api import expect

    w = demo_world
    viewer = visit("viewer")
    viewer.sign_in("victor")
    viewer.goto(f"/cases/{w.case.pk}/compare/?a={w.photo14.pk}&b={w.photo25.pk}", "compare")
    page = viewer.page
    slider = page.get_by_label("Wipe between the two photos")
    expect(slider).to_have_value("50")
    top = page.locator(".wipe-top")
    assert "inset(0px 50% 0px 0px)" in top.evaluate("el => getComputedStyle(el).clipPath")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("60")
    assert "inset(0px 40% 0px 0px)" in top.evaluate("el => getComputedStyle(el).clipPath")
    viewer.shot("compare-wiped")


def test_upload_refusal_shows_its_reason_beside_the_file(personas, visit, tmp_path):
    from playwright.sync_api import expect

    from tests.images import svg_bytes

    bad = tmp_path / "drawing.jpg"
    bad.write_bytes(svg_bytes())
    reporter = visit("reporter")
    # The browser logs the refused upload's 415 itself; the page shows the reason instead.
    reporter.expected_errors.append(re.compile(r"status of 415"))
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    reporter.page.set_input_files("#upload-files", [str(bad)])
    failed = reporter.page.locator(".upload-item.error")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("Not an image")
    expect(reporter.page.locator("#gallery .card")).to_have_count(0)
    reporter.shot("upload-refused")


def test_an_upload_the_server_failed_can_be_tried_again_from_its_row(personas, visit, tmp_path):
    from playwright.sync_api import expect

    from tests.images import jpeg_bytes

    photo = tmp_path / "platform.jpg"
    photo.write_bytes(jpeg_bytes(seed=7, make="Nikon"))
    reporter = visit("reporter")
    reporter.expected_errors.append(re.compile(r"status of 503"))
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    page = reporter.page
    failures = []

    def fail_once(route):
        if failures:
            route.continue_()
        else:
            failures.append(route.request.url)
            route.fulfill(status=503, content_type="text/html", body="<h1>Unavailable</h1>")

    page.route("**/evidence/upload/", fail_once)
    page.set_input_files("#upload-files", [str(photo)])
    row = page.locator(".upload-item", has_text="platform.jpg")
    expect(row).to_have_class(re.compile(r"\berror\b"))
    expect(row).to_contain_text("Nothing was saved")
    again = row.get_by_role("button", name="Try uploading platform.jpg again")
    expect(again).to_be_focused()
    reporter.shot("upload-failed")
    page.keyboard.press("Enter")
    expect(row).to_have_class(re.compile(r"\bdone\b"))
    expect(row).to_contain_text("Uploaded — processing")
    expect(again).to_have_count(0)
    expect(page.locator("#gallery .card", has_text="platform.jpg")).to_have_count(1)
    assert len(failures) == 1
    reporter.shot("upload-retried")


def test_files_dropped_on_the_page_upload_each_with_its_own_progress_bar(personas, visit):
    import base64

    from playwright.sync_api import expect

    from tests.images import jpeg_bytes

    reporter = visit("reporter")
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    page = reporter.page
    files = [
        [f"dropped-{seed}.jpg", base64.b64encode(jpeg_bytes(seed=seed, make="Nikon")).decode()]
        for seed in (1, 2, 3)
    ]
    page.evaluate(
        """files => {
            const transfer = new DataTransfer();
            for (const [name, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
            }
            const zone = document.getElementById("dropzone");
            const options = {dataTransfer: transfer, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent("dragover", options));
            zone.dispatchEvent(new DragEvent("drop", options));
        }""",
        files,
    )
    expect(page.locator(".upload-item progress")).to_have_count(3)
    expect(page.locator(".upload-item.done")).to_have_count(3)
    for name, _data in files:
        expect(page.locator("#gallery .card", has_text=name)).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("3 items")
    reporter.shot("dropped")


def test_photo_page_fills_in_by_itself_when_processing_ends(
    personas, visit, queued_photos, tmp_path
):
    from playwright.sync_api import expect

    from evidence.services.photos import photo_process

    path = tmp_path / "IMG_0525.jpg"
    path.write_bytes(demo_photo(25))
    reporter = visit("reporter")
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    page = reporter.page
    page.set_input_files("#upload-files", [str(path)])
    card = page.locator("#gallery .card")
    expect(card).to_have_count(1)
    card.click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".preview-pending .status-pending")).to_be_visible()
    reporter.shot("photo-pending")
    page.evaluate("window.__casefileNoReload = true")
    with DB_LOCK:
        photo_process(photo_id=queued_photos[0])
    expect(page.locator(".preview img")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator(".leaflet-interactive")).to_have_count(1)  # the camera's GPS
    assert page.evaluate("window.__casefileNoReload") is True, "the page was reloaded"
    reporter.shot("photo-ready")


def test_keyboard_alone_signs_in_skips_to_content_and_reaches_the_upload(personas, visit):
    from playwright.sync_api import expect

    reporter = visit("reporter")
    reporter.goto("/login/", "login")
    page = reporter.page
    # The username field has the focus on arrival.
    page.keyboard.type("bob")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{reporter.base}/")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "upload-files":
            break
    expect(page.locator("#upload-files")).to_be_focused()
    reporter.shot("upload-focused")


def test_a_polling_card_shows_the_deletion_and_stops_asking(
    personas, visit, queued_photos, tmp_path
):
    from playwright.sync_api import expect

    from evidence.models import Evidence
    from evidence.services.custody import evidence_delete

    path = tmp_path / "IMG_0525.jpg"
    path.write_bytes(demo_photo(25))
    reporter = visit("reporter")
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/evidence/", "gallery")
    page = reporter.page
    page.set_input_files("#upload-files", [str(path)])
    expect(page.locator('#gallery .card [data-status="pending"]')).to_have_count(1)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/card/" in r.url else None)
    with DB_LOCK:
        evidence_delete(
            actor=personas.editor,
            evidence=Evidence.objects.get(pk=queued_photos[0]),
            reason="Posted in the wrong case",
        )
    # The next poll gets 286: htmx swaps the tombstone in and stops (no 404s in the console).
    expect(page.locator('#gallery .card [data-status="deleted"]')).to_have_count(1)
    expect(page.locator("#gallery .card")).to_contain_text("Posted in the wrong case")
    reporter.shot("card-deleted")
    asked = len(polls)
    page.wait_for_timeout(5000)
    assert len(polls) == asked, "the card still polls"


def test_a_late_photo_says_so_and_offers_processing_again(demo_world, visit):
    from datetime import timedelta

    from django.utils import timezone
    from playwright.sync_api import expect

    from evidence.models import Photo

    w = demo_world
    Photo.objects.filter(evidence=w.photo25).update(
        status="processing", status_changed_at=timezone.now() - timedelta(hours=1)
    )
    reporter = visit("reporter")
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{w.case.pk}/evidence/", "gallery-late")
    expect(reporter.page.locator(".card-late")).to_contain_text("Processing is late")
    reporter.goto(f"/evidence/{w.photo25.pk}/", "photo-late")
    page = reporter.page
    expect(page.locator(".preview-late")).to_be_visible()
    page.get_by_role("button", name="Process again").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("Queued for processing again.")).to_be_visible()
    reporter.shot("photo-requeued")


def test_csrf_failure_lockout_and_not_found_pages_have_the_sites_look(personas, visit):
    from playwright.sync_api import expect

    reporter = visit("reporter")
    reporter.expected_errors += [re.compile(r"status of (403|404|429)")]
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{personas.case.pk}/claims/new/", "claim-new")
    page = reporter.page
    # As if the page had been open while the session changed in another tab.
    page.evaluate(
        """document.querySelectorAll("[name=csrfmiddlewaretoken]")
            .forEach(input => { input.value = "x".repeat(64); })"""
    )
    page.get_by_label("Statement").fill("The train never left Dandong")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name="The form was not sent")).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(245, 246, 248)", "the stylesheet did not apply"
    reporter.shot("csrf-failure")
    reporter.goto("/cases/999999/", "not-found")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    stranger = visit("anonymous")
    stranger.expected_errors += [re.compile(r"status of 429")]
    stranger.goto("/login/", "login")
    for _ in range(6):
        stranger.page.get_by_label("Username").fill("bob")
        stranger.page.get_by_label("Password").fill("not the password")
        stranger.page.get_by_role("button", name="Sign in").click()
        stranger.page.wait_for_load_state("networkidle")
        if stranger.page.get_by_role("heading", name="Sign-in paused").count():
            break
    expect(stranger.page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    assert stranger.page.evaluate("getComputedStyle(document.body).backgroundColor") == (
        "rgb(245, 246, 248)"
    )
    stranger.shot("lockout")


def test_times_follow_the_browsers_time_zone(demo_world, visit):
    from playwright.sync_api import expect

    w = demo_world
    reporter = visit("reporter", timezone_id="America/New_York")
    reporter.sign_in("bob")
    reporter.goto(f"/evidence/{w.link.pk}/edit/", "edit-in-new-york")
    page = reporter.page
    expect(page.get_by_text("In your time zone (America/New_York).")).to_be_visible()
    # Observed 9 April 12:00 in China is midnight in New York.
    expect(page.get_by_label("Observed at")).to_have_value("2026-04-09T00:00")
    reporter.goto(f"/evidence/{w.link.pk}/", "link-in-new-york")
    expect(page.get_by_role("cell", name="2026-04-09 00:00 (America/New_York)")).to_be_visible()


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_the_text_read_in_a_photo_is_selectable_and_its_boxes_sit_on_the_words(
    personas, visit, settings, viewport_name
):
    from playwright.sync_api import expect

    from config.tesseract import tesseract_status
    from evidence.services.evidence import photo_ingest
    from tests.images import upload
    from tests.texts import jpeg_of, sign_picture

    if not tesseract_status().available:
        unavailable(tesseract_status().problem)
    settings.CASEFILE_OCR = True
    settings.CASEFILE_OCR_LANGUAGES = "kor+chi_sim+eng"
    photo, _ = photo_ingest(
        actor=personas.reporter,
        case=personas.case,
        file=upload(jpeg_of(sign_picture((1600, 1200))), "sign.jpg"),
        title="Station sign",
    )
    viewer = visit("viewer", viewport=LAPTOP if viewport_name == "laptop" else PHONE)
    viewer.sign_in("victor")
    viewer.goto(f"/evidence/{photo.pk}/", f"ocr-{viewport_name}")
    page = viewer.page
    expect(page.locator(".ocr-text")).to_contain_text("Dandong Station")
    toggle = page.get_by_role("button", name="Show word boxes")
    toggle.click()
    expect(page.get_by_role("button", name="Hide word boxes")).to_have_attribute(
        "aria-pressed", "true"
    )
    image = page.locator(".ocr-frame img").bounding_box()
    word = page.locator(".ocr-word", has_text="Dandong")
    expect(word).to_be_visible()
    box = word.bounding_box()
    # The sign's English line: left of the middle, in the lower half of the sign (tests/texts.py).
    assert image["x"] <= box["x"] < image["x"] + image["width"] / 2
    assert image["y"] + image["height"] * 0.4 < box["y"] < image["y"] + image["height"] * 0.8
    assert box["width"] > image["width"] * 0.1
    # Selectable text: the words can be selected and copied from the page.
    selected = page.evaluate(
        """() => { const pre = document.querySelector('.ocr-text');
                   const range = document.createRange(); range.selectNodeContents(pre);
                   getSelection().removeAllRanges(); getSelection().addRange(range);
                   return getSelection().toString(); }"""
    )
    assert "Dandong Station" in selected
    viewer.shot(f"ocr-boxes-{viewport_name}")


# --- The verification desk (issue #17): sensitive media blurred wherever an image appears, the
# review panel's corroboration, bulk edit and camera dates, the desk's pages, the offline map.

BLURRED = "el => getComputedStyle(el).filter"


def _sensitive(world):
    with DB_LOCK:
        for item in (world.photo14, world.photo25):
            evidence_update(actor=world.personas.reporter, evidence=item, sensitive=True)
        evidence_link(
            actor=world.personas.reporter,
            claim=world.in_review,
            evidence=world.photo14,
            stance="supports",
        )


def _no_sideways_scroll(page, path):
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_sensitive_images_are_blurred_everywhere_with_a_label_show_and_hide_again(
    world,
    visit,
    viewport_name,
):
    from playwright.sync_api import expect

    _sensitive(world)
    c = world.case.pk
    editor = visit(f"editor-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    editor.sign_in("erin")
    pages = [
        (f"/cases/{c}/evidence/", "gallery"),
        (f"/evidence/{world.photo14.pk}/", "photo"),
        (f"/claims/{world.in_review.pk}/", "claim"),  # linked photo and the link picker
        (f"/cases/{c}/timeline/", "timeline"),
        (f"/cases/{c}/compare/?a={world.photo14.pk}&b={world.photo25.pk}", "compare"),
    ]
    for path, label in pages:
        editor.goto(path, f"blurred-{label}")
        page = editor.page
        _no_sideways_scroll(page, path)
        images = page.locator(".sensitive img")
        assert images.count() >= 1, f"{path}: no blurred image"
        for i in range(images.count()):
            assert "blur" in images.nth(i).evaluate(BLURRED), f"{path}: image {i} not blurred"
        expect(page.locator(".sensitive-label").first).to_have_text("Sensitive image")
        # No image of a sensitive item outside a blurred frame.
        bare = page.evaluate(
            """() => Array.from(document.images).filter(img =>
                !img.closest('.sensitive') && /\\/evidence\\/\\d+\\/(thumbnail|preview)\\//
                .test(img.src)).length"""
        )
        assert bare == 0, f"{path}: {bare} unblurred images"

    # On the photo page: "Show" reveals, "Hide again" blurs once more.
    editor.goto(f"/evidence/{world.photo14.pk}/", "photo-before-show")
    page = editor.page
    frame = page.locator(".preview .sensitive")
    frame.get_by_role("button", name=re.compile("^Show")).click()
    expect(frame.locator("img")).to_have_css("filter", "none")
    editor.shot("photo-shown")
    hide = frame.get_by_role("button", name="Hide again")
    expect(hide).to_be_visible()
    hide.click()
    expect(frame.locator("img")).to_have_css("filter", re.compile("blur"))
    expect(hide).to_be_hidden()
    editor.shot("photo-hidden-again")

    # In the gallery a click on the card's image reveals it instead of following the link.
    editor.goto(f"/cases/{c}/evidence/", "gallery-before-show")
    card = page.locator(f"#evidence-{world.photo14.pk}")
    card.locator(".sensitive").click()
    expect(card.locator(".sensitive img")).to_have_css("filter", "none")
    assert page.url.endswith(f"/cases/{c}/evidence/")
    card.get_by_role("button", name="Hide again").click()
    expect(card.locator(".sensitive img")).to_have_css("filter", re.compile("blur"))
    editor.shot("gallery-hidden-again")


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_the_review_panel_shows_corroboration_and_flags(
    world,
    visit,
    viewport_name,
):
    from playwright.sync_api import expect

    _sensitive(world)
    editor = visit(f"editor-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    editor.sign_in("erin")
    editor.goto(f"/claims/{world.in_review.pk}/", "review-corroboration")
    panel = editor.page.locator(".review-panel .corroboration")
    expect(panel).to_be_visible()
    expect(panel.locator(".corroboration-supports")).to_contain_text("2 independent sources")
    expect(panel.locator(".corroboration-warnings")).to_contain_text(
        "1 contradicting line of evidence names no source."
    )
    panel.locator("summary").first.click()
    expect(panel.locator(".corroboration-lines").first).to_contain_text("Zhang Min (protected)")
    editor.shot("review-corroboration-lines")
    _no_sideways_scroll(editor.page, "claim")
    # A viewer reads the same summary with the pseudonym.
    viewer = visit(f"viewer-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    viewer.sign_in("victor")
    viewer.goto(f"/claims/{world.in_review.pk}/", "viewer-corroboration")
    content = viewer.page.content()
    assert "Source in China" in content and "Zhang Min" not in content


def test_bulk_edit_and_use_camera_date_from_the_gallery_and_photo_page(
    world,
    visit,
):
    from playwright.sync_api import expect

    reporter = visit("reporter")
    reporter.sign_in("bob")
    c = world.case.pk
    reporter.goto(f"/cases/{c}/evidence/", "gallery-bulk")
    page = reporter.page
    for item in (world.photo14, world.photo25):
        page.locator(f'.card-cell input[name=evidence][value="{item.pk}"]').check()
    page.locator(".bulk-edit summary").click()
    page.get_by_label("Put before each title").fill("Dandong:")
    page.locator("#bulk_sensitive").select_option("yes")
    page.locator("#bulk_observed_at").fill("2026-05-20T10:00")
    reporter.shot("gallery-bulk-filled")
    page.get_by_role("button", name="Apply to the selected items").click()
    expect(page.locator(".messages")).to_contain_text("2 items changed.")
    reporter.shot("gallery-bulk-done")
    expect(page.locator(f"#evidence-{world.photo14.pk} .flag-chip").first).to_be_visible()
    # The photo's stated date is now days from its camera date: flagged, and one click fixes it.
    reporter.goto(f"/evidence/{world.photo14.pk}/", "photo-date-flag")
    expect(page.locator(".flags")).to_contain_text("EXIF date differs from the stated date")
    page.get_by_role("button", name="Use camera date and GPS").click()
    expect(page.locator(".messages")).to_contain_text("now the stated date and place")
    expect(page.locator("#main")).not_to_contain_text("EXIF date differs")
    reporter.shot("photo-camera-date-used")


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_the_desk_pages_notifications_inbox_and_activity(
    world,
    visit,
    viewport_name,
):
    from playwright.sync_api import expect

    with DB_LOCK:
        comment_create(actor=world.personas.reporter, claim=world.in_review, text="@erin check")
    editor = visit(f"editor-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    editor.sign_in("erin")
    page = editor.page
    # The header's unread count comes in by itself: the mention, and the claim the demo's
    # reporter submitted for review.
    expect(page.locator(".notif-count.has-unread")).to_have_text(re.compile(r"^2"))
    editor.goto("/notifications/", "notifications-unread")
    expect(page.locator(".notification.unread")).to_have_count(2)
    expect(page.locator(".notification.unread").first).to_contain_text("mentioned you")
    for path, label in (
        ("/notifications/", "notifications"),
        ("/review/", "review-inbox"),
        (f"/cases/{world.case.pk}/activity/", "activity"),
        (f"/claims/{world.in_review.pk}/", "claim-assign"),
    ):
        editor.goto(path, label)
        _no_sideways_scroll(page, path)
    editor.goto("/review/", "review-inbox-again")
    expect(page.locator(".inbox-item")).to_have_count(1)
    expect(page.locator(".inbox-item")).to_contain_text("The cargo was trucked to Longkou")
    editor.goto(f"/claims/{world.in_review.pk}/", "claim-assign-again")
    page.locator("#assignee").select_option("victor")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Assigned to victor.")
    editor.shot("claim-assigned")
    editor.goto("/notifications/", "notifications-again")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".notif-count.has-unread")).to_have_count(0)
    editor.shot("notifications-read")


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_offline_basemap_and_the_line_from_stated_place_to_camera_gps(
    world,
    visit,
    viewport_name,
):
    from playwright.sync_api import expect

    with DB_LOCK:
        # The 25 May photo said to be far from where its camera was: a line with the distance
        # (the 14 May photo's agree: no line).
        evidence_update(
            actor=world.personas.reporter,
            evidence=world.photo25,
            latitude=38.73,
            longitude=125.40,
            place_name="Nampo",
        )
    reporter = visit(f"reporter-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    reporter.tiles_fail = True
    reporter.expected_errors.append(re.compile(re.escape(TILE_HOST)))
    reporter.sign_in("bob")
    page = reporter.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if TILE_HOST in r.url else None)
    reporter.goto(f"/cases/{world.case.pk}/map/", "map-offline")
    expect(page.locator("[data-basemap-drawn]")).to_have_count(1)
    # Countries drawn as paths in the basemap pane.
    assert page.locator(".leaflet-basemap-pane path").count() >= 2
    expect(page.locator(".place-pair-distance")).to_have_count(1)
    expect(page.locator(".place-pair-distance")).to_have_text("177.3 km")
    expect(page.locator(".pair-list")).to_contain_text("km apart")
    # After the first failure, no more tiles are asked for, even when the map moves.
    before = len(requests)
    page.locator(".leaflet-control-zoom-out").click()
    page.wait_for_timeout(300)
    assert len(requests) == before, requests[before:]
    assert before <= 12, f"{before} tile requests before giving up"
    reporter.shot("map-offline-zoomed")
    reporter.goto(f"/evidence/{world.photo25.pk}/", "photo-map-offline")
    expect(page.locator("[data-basemap-drawn]")).to_have_count(1)
    expect(page.locator(".place-pair-distance")).to_have_text(re.compile(r"km$"))
    expect(page.locator(".legend-distance")).to_contain_text("km from the stated place")


@pytest.mark.parametrize("viewport_name", ["laptop", "phone"])
def test_quick_search_opens_with_ctrl_k_and_finds_as_one_types(demo_world, visit, viewport_name):
    from playwright.sync_api import expect

    w = demo_world
    reporter = visit(f"reporter-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    reporter.sign_in("bob")
    reporter.goto(f"/cases/{w.case.pk}/", "dashboard")
    page = reporter.page
    page.keyboard.press("Control+k")
    dialog = page.locator("#quick-search")
    expect(dialog).to_be_visible()
    expect(page.locator("#quick-q")).to_be_focused()
    page.keyboard.type("dandong st")
    first = page.locator("#quick-results a").first
    expect(first).to_contain_text("Dandong")
    expect(page.locator("#quick-results mark").first).to_have_text(re.compile("dandong", re.I))
    expect(page.locator(".quick-all a")).to_contain_text("results")
    reporter.shot("quick-search")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the quick search scrolls sideways by {overflow}px"
    # A protected source's name finds nothing for a reporter.
    page.locator("#quick-q").fill("Zhang")
    expect(page.locator("#quick-results")).to_contain_text("Nothing found")
    assert "Zhang Min" not in page.content()
    reporter.shot("quick-search-protected")
    # Arrows reach the hits, Enter opens one; Escape closes the dialog.
    page.locator("#quick-q").fill("Longkou")
    expect(page.locator("#quick-results a").first).to_be_visible()
    page.keyboard.press("Escape")  # a search field's first Escape clears it, as everywhere
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("Control+k")
    # The field asks 200 ms after the last keystroke: wait for that answer, after which nothing
    # replaces the list under the arrow keys.
    with page.expect_response(lambda r: "/search/quick/" in r.url and "q=Longkou" in r.url):
        page.keyboard.type("Longkou")
    expect(page.locator("#quick-results a").first).to_contain_text("Longkou")
    page.keyboard.press("ArrowDown")
    # The arrow reached a hit: the focus is on one of the results' links.
    expect(page.locator("#quick-results a:focus")).to_have_count(1)
    href = page.locator("#quick-results a:focus").get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{reporter.base}{href}")
    reporter.shot("quick-search-opened")
    # Enter in the field is the full page, with the honest count.
    page.keyboard.press("Control+k")
    page.locator("#quick-q").fill("train")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=train"))
    expect(page.locator("#search-total")).to_contain_text("results for “train”")
    reporter.shot("search-page")


def test_an_image_dropped_on_the_search_page_finds_its_near_duplicates(demo_world, visit, tmp_path):
    from playwright.sync_api import expect

    from tests.web.conftest import demo_photo

    viewer = visit("viewer")
    viewer.sign_in("victor")
    viewer.goto("/search/image/", "image-search")
    photo = tmp_path / "query.jpg"
    photo.write_bytes(demo_photo(25))
    viewer.page.locator("#image-file").set_input_files(str(photo))
    viewer.page.wait_for_load_state("networkidle")
    expect(viewer.page.locator("#image-total")).to_contain_text("match")
    expect(viewer.page.locator(".image-matches a").first).to_contain_text("25 May")
    viewer.shot("image-search-results")
