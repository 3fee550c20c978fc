"""A web link's capture page in a real browser (issue #16): a real capture of a local page,
looked at on a laptop and a phone (screenshots in tests/artifacts/), no console error or CSP
violation of our own, and the archived HTML in its sandboxed frame runs none of its scripts.

Run: .venv/bin/pytest tests/web/test_capture_browser.py -m browser
"""

import re

import pytest

from evidence.services.evidence import evidence_create
from tests.evidence.capture_sites import TWO_IMAGES, Site
from tests.web import browsing

pytestmark = pytest.mark.browser


# Runs only where it is no longer the captured site: in Casefile's frame it must not.
SCRIPTED = TWO_IMAGES.replace(
    b"</body>",
    b"<script>if (location.pathname.includes('/captures/'))"
    b" document.body.append('SCRIPT RAN')</script></body>",
)


@pytest.fixture
def site():
    site = Site(
        routes=lambda h: Site.send(h, 200, SCRIPTED) if h.path == "/scripted" else site.route(h)
    )
    yield site
    site.close()


def test_capture_panel_on_laptop_and_phone_with_a_frame_that_runs_nothing(
    personas, visit, site, settings, django_capture_on_commit_callbacks
):
    settings.CASEFILE_CAPTURE_ALLOW_HOSTS = f"127.0.0.1:{site.port}"
    with django_capture_on_commit_callbacks(execute=True), browsing.DB_LOCK:
        link = evidence_create(
            actor=personas.reporter,
            case=personas.case,
            kind="link",
            url=f"{site.url}/scripted",
            title="April report",
        )
    assert link.captures.get().status == "ready"
    for who, viewport in (("laptop", browsing.LAPTOP), ("phone", browsing.PHONE)):
        reader = visit(f"reporter-{who}", viewport)
        # The sandbox refusing the archived page's script is what the frame is for.
        # So are its images, which would be fetched from the web (or from Casefile, for a
        # relative address): the frame loads nothing, only the screenshots show them.
        reader.expected_errors.append(re.compile("Blocked script execution"))
        reader.expected_errors.append(
            re.compile(
                r"violates the following Content Security Policy directive: \"img-src "
                r"data:\".*/captures/\d+/page/"
            )
        )
        reader.sign_in("bob")
        reader.goto(f"/evidence/{link.pk}/", f"capture-{who}")
        page = reader.page
        assert page.get_by_role("button", name="Capture again").is_visible()
        shots = page.locator(".capture-shots img")
        assert shots.count() == 2
        for n in range(2):
            assert page.evaluate("(img) => img.naturalWidth > 0", shots.nth(n).element_handle())
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page scrolls sideways on a {who}: {width}"
        page.locator(".capture-archived summary").click()
        frame = page.frame_locator(".capture-frame")
        assert frame.locator("h1").inner_text() == "April report"
        assert "SCRIPT RAN" not in frame.locator("body").inner_text()
        reader.shot(f"capture-{who}-archived")
