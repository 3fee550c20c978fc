"""The browser the browser tests share (Debian's Chromium through Playwright's sync API, one per
test process: Playwright runs one sync loop per thread), the live server they visit, and
`Visitor`, a signed-in tab that records console errors and takes screenshots. The fixtures are
registered once, by tests/web/conftest.py, for every browser test module."""

import os
import re
import threading
from pathlib import Path

import pytest

from tests.needs import unavailable

# pytest-django's live_server and Playwright's sync API both run an event loop in this thread;
# Django refuses database access from there unless told that it is fine (it is, in tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "pass-word-123"  # noqa: S105 - tests.factories.UserFactory's
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TILE_HOST = "tile.openstreetmap.org"
# A 1×1 transparent PNG, served for every map tile: tests never reach the network.
BLANK_TILE = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        unavailable(
            f"Browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# One request at a time. Local runs use an in-memory SQLite database whose one connection the
# live server's threads share with the test; two requests (the page uploads three files at once)
# or a request and the test's own work would otherwise interleave their transactions on it.
DB_LOCK = threading.RLock()


@pytest.fixture
def server(live_server):
    httpd = live_server.thread.httpd
    app = httpd.get_app()
    if not getattr(app, "casefile_serialized", False):

        def serialized(environ, start_response):
            with DB_LOCK:
                return app(environ, start_response)

        serialized.casefile_serialized = True
        httpd.set_app(serialized)
    return live_server


class Visitor:
    """One signed-in (or anonymous) browser tab that records console errors and screenshots."""

    def __init__(
        self, browser, live_server, test_name: str, who: str, viewport=LAPTOP, timezone_id=None
    ):
        self.base = live_server.url
        short = re.sub(r"^test_", "", test_name)[:40].rstrip("_")
        self.name = f"{short}-{who}"
        self.context = browser.new_context(
            viewport=viewport, base_url=self.base, timezone_id=timezone_id
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route(
            re.compile(rf"https?://([a-z0-9-]+\.)?{re.escape(TILE_HOST)}/.*"), self._tile
        )
        self.tiles_fail = False
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.expected_errors: list[re.Pattern] = []
        self.shots = 0
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _tile(self, route):
        if self.tiles_fail:
            route.abort()
        else:
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)

    def _console(self, message):
        if message.type != "error":
            return
        text = f"{message.text} ({message.location})"
        if not any(p.search(text) for p in self.expected_errors):
            self.errors.append(text)

    def goto(self, path: str, label: str | None = None):
        response = self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        self.shot(label or path.strip("/").replace("/", "_") or "home")
        return response

    def shot(self, label: str):
        # Lazy thumbnails below the fold load for the full-page picture.
        self.page.evaluate(
            """() => Promise.all(Array.from(document.images).map(img => {
                img.loading = "eager";
                return img.complete ? null : new Promise(done => {
                    img.addEventListener("load", done); img.addEventListener("error", done);
                });
            }))"""
        )
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:60]
        self.page.screenshot(
            path=ARTIFACTS / f"{self.name}-{self.shots:02d}-{safe}.png", full_page=True
        )

    def sign_in(self, username: str):
        self.goto("/login/", "login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.base}/")
        self.shot("cases")

    def check_console(self):
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(chromium, server, request):
    visitors = []

    def open_visitor(who: str, viewport=LAPTOP, timezone_id=None) -> Visitor:
        visitor = Visitor(chromium, server, request.node.name, who, viewport, timezone_id)
        visitors.append(visitor)
        return visitor

    yield open_visitor
    try:
        for visitor in visitors:
            visitor.check_console()
    finally:
        for visitor in visitors:
            visitor.close()
