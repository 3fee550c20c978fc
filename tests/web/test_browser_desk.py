"""The verification desk in a real browser (see tests/web/test_browser.py for the harness):
sensitive media blurred behind a labelled overlay wherever an image appears, shown and hidden
again; the claim's corroboration in the review panel; the batch upload fields, the bulk edit
and "use camera date and GPS". Screenshots at desktop and phone widths in tests/artifacts/.

Run: .venv/bin/pytest tests/web/test_browser_desk.py -m browser
"""

import re

import pytest

from evidence.services.comments import comment_create
from evidence.services.evidence import evidence_update
from evidence.services.links import evidence_link
from tests.web.test_browser import (  # noqa: F401 - fixtures
    DB_LOCK,
    LAPTOP,
    PHONE,
    chromium,
    server,
    visit,
)

pytestmark = pytest.mark.browser

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
    visit,  # noqa: F811 - the harness's fixture
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
    visit,  # noqa: F811 - the harness's fixture
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
    visit,  # noqa: F811 - the harness's fixture
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
    visit,  # noqa: F811 - the harness's fixture
    viewport_name,
):
    from playwright.sync_api import expect

    with DB_LOCK:
        comment_create(actor=world.personas.reporter, claim=world.in_review, text="@erin check")
    editor = visit(f"editor-{viewport_name}", LAPTOP if viewport_name == "laptop" else PHONE)
    editor.sign_in("erin")
    page = editor.page
    # The header's unread count comes in by itself.
    expect(page.locator(".notif-count.has-unread")).to_have_text(re.compile(r"^1"))
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
