"""A page captured in headless Chromium (Debian's, through Playwright), every request it makes
answered by `evidence.capture.fetch` after `config.outbound` allowed its resolved address.

`page_capture` loads the page in a fresh browser context (nothing shared with any other
capture: no cookies, storage, cache or service workers; downloads refused), scrolls it to load
lazy content, and writes into a folder: full-page and viewport screenshots on a desktop
viewport, a viewport screenshot on a phone viewport, the rendered DOM, the page's text, a
print to PDF and the WARC of every exchange. It returns the facts (final URL, status, headers,
title, TLS certificate, time), the images and directly linked videos found, and, when the
capture fell short, a reason a reporter understands.

Chromium runs in a thread of its own with its own event loop (`BrowserHost`), launched once
per worker process (or test module) with a minimal environment: none of the app's secrets. A
browser that died is launched again for the next capture.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urldefrag, urljoin

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from config.outbound import AddressRefused, Allowed, split_url
from evidence.capture.fetch import Budget, Fetched, FetchFailed, fetch
from evidence.capture.warc import warc_write

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
SOFTWARE = "Casefile link capture (Playwright, Chromium)"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MAX_REDIRECTS = 20
# After scrolling, the page counts as settled once no request has been pending this long.
QUIET_SECONDS = 0.15
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".ogv", ".ogg")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--disable-quic",
    "--disable-features=NetworkPrediction,DnsOverHttps,MediaRouter,InterestFeedContentSuggestions",
    # Chromium itself reaches nothing: every request is answered by our own fetch. A
    # preconnect or prefetch that bypasses interception finds no name resolved and an
    # unreachable proxy for addresses written as numbers (loopback included).
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://0.0.0.0:9",
    "--proxy-bypass-list=<-loopback>",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy",
]
# The browser's whole environment: no SECRET_KEY, no database or storage credentials.
BROWSER_ENV_KEEP = ("PATH", "LANG", "TZ", "FONTCONFIG_PATH", "XDG_RUNTIME_DIR")

SCROLL_SCRIPT = """async (step) => {
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  document.querySelectorAll('img[loading="lazy"]').forEach((img) => { img.loading = "eager"; });
  let y = 0;
  for (let i = 0; i < 60; i++) {
    const height = Math.max(document.body ? document.body.scrollHeight : 0,
                            document.documentElement.scrollHeight);
    if (y >= height) break;
    y += step;
    window.scrollTo(0, y);
    await pause(20);
  }
  window.scrollTo(0, 0);
}"""
MEDIA_SCRIPT = """(minSide) => {
  const images = Array.from(document.images)
    .filter((img) => img.naturalWidth >= minSide && img.naturalHeight >= minSide)
    .map((img) => ({url: img.currentSrc || img.src, width: img.naturalWidth,
                    height: img.naturalHeight}));
  const videos = [];
  document.querySelectorAll("video[src], video source[src]").forEach((el) => videos.push(el.src));
  document.querySelectorAll("a[href]").forEach((a) => {
    const path = a.pathname.toLowerCase();
    if (VIDEO_EXTENSIONS.some((ext) => path.endsWith(ext))) videos.push(a.href);
  });
  return {images, videos};
}""".replace("VIDEO_EXTENSIONS", str(list(VIDEO_EXTENSIONS)))


@dataclass(frozen=True)
class Limits:
    seconds: float
    max_bytes: int
    max_requests: int
    min_image_side: int = 100


@dataclass
class SavedFile:
    name: str
    path: Path
    content_type: str
    # screenshot | screenshot_full | screenshot_phone | html | text | pdf | archive | video
    role: str


@dataclass
class FoundMedia:
    kind: str  # image | video
    url: str
    content_type: str
    body: bytes = b""
    width: int | None = None
    height: int | None = None
    problem: str = ""


@dataclass
class PageCapture:
    url: str
    started_at: datetime
    final_url: str = ""
    http_status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    title: str = ""
    text: str = ""
    tls: dict | None = None
    redirects: list[str] = field(default_factory=list)
    files: list[SavedFile] = field(default_factory=list)
    media: list[FoundMedia] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    failure: str = ""
    failure_kind: str = ""

    def fail(self, message: str, kind: str) -> None:
        """The first reason stands: it is what made the others happen."""
        if not self.failure:
            self.failure, self.failure_kind = message, kind


def browser_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in BROWSER_ENV_KEEP if key in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env["HOME"] = tempfile.gettempdir()  # Chromium's profile lives in a temporary folder anyway
    return env


class BrowserHost:
    """One Chromium in a thread of its own, for the captures of one process, one at a time or
    several at once (each in its own context). `run(coro_fn)` runs `coro_fn(browser)` there."""

    def __init__(self, executable: str = CHROMIUM, args: list[str] | None = None):
        self.executable = executable
        # Only the benchmark's baseline passes other arguments (a browser that fetches itself).
        self.args = CHROMIUM_ARGS if args is None else args
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="capture browser")
        self.thread.daemon = True
        self.thread.start()
        self._playwright = None
        self._browser = None
        self._lock = asyncio.Lock()

    async def _browser_ready(self):
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable, args=self.args, env=browser_env()
            )
            return self._browser

    def run(self, make, *, timeout: float | None = None):
        async def go():
            return await make(await self._browser_ready())

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout)

    def close(self) -> None:
        async def stop():
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


_host: BrowserHost | None = None
_host_pid: int | None = None
_host_lock = threading.Lock()


def browser_host() -> BrowserHost:
    """This process's browser (a forked worker child starts its own)."""
    global _host, _host_pid
    with _host_lock:
        if _host is None or _host_pid != os.getpid():
            _host, _host_pid = BrowserHost(), os.getpid()
        return _host


def page_capture(
    url: str, *, folder: Path, allowed: Allowed, limits: Limits, host: BrowserHost | None = None
) -> PageCapture:
    """Capture `url` into `folder` (see the module docstring); never raises for anything the
    page does: a capture that fell short says why in `failure`."""
    host = host or browser_host()
    result = PageCapture(url=url, started_at=datetime.now(UTC))
    try:
        split_url(url)
    except AddressRefused as refused:
        result.fail(str(refused), "address")
        return result
    # Some slack over the capture's own limit for closing the context and writing files.
    host.run(
        lambda browser: _capture(browser, url, folder, allowed, limits, result),
        timeout=limits.seconds + 60,
    )
    return result


async def _capture(browser, url, folder: Path, allowed, limits: Limits, result: PageCapture):
    folder.mkdir(parents=True, exist_ok=True)
    budget = Budget(
        deadline=time.monotonic() + limits.seconds,
        max_bytes=limits.max_bytes,
        max_requests=limits.max_requests,
    )
    exchanges: list[Fetched] = []
    by_url: dict[str, Fetched] = {}
    pending = set()
    navigation_failures: dict[str, tuple[str, str]] = {}
    redirects: list[str] = []

    async def answer(route):
        request = route.request
        target = urldefrag(request.url)[0]
        is_document = request.is_navigation_request() and request.frame.parent_frame is None
        try:
            headers = list((await request.all_headers()).items())
            fetched = await asyncio.to_thread(
                fetch,
                target,
                budget=budget,
                allowed=allowed,
                method=request.method,
                headers=headers,
                body=request.post_data_buffer or b"",
            )
            # Chromium does not send the request a fulfilled redirect points to through the
            # routing again, so redirects are followed here, every hop checked and archived:
            # a subresource's in this handler, the page's own by navigating to the next URL
            # (so that the page's address, and the base of its links, is the final one).
            hops = 0
            while (location := _redirect_target(fetched)) and not is_document:
                hops += 1
                if hops > MAX_REDIRECTS:
                    raise FetchFailed("Too many redirects.", kind="network")
                exchanges.append(fetched)
                fetched = await asyncio.to_thread(
                    fetch, location, budget=budget, allowed=allowed, headers=headers
                )
        except AddressRefused as refused:
            result.refused.append({"url": target, "reason": str(refused)})
            if is_document:
                navigation_failures[target] = (str(refused), "address")
            await _abort(route, "addressunreachable")
            return
        except FetchFailed as failed:
            if failed.kind in ("size", "requests", "timeout") or is_document:
                result.fail(str(failed), failed.kind)
            if is_document:
                navigation_failures[target] = (str(failed), failed.kind)
            await _abort(route, "failed")
            return
        except Exception:  # a request must always be answered, or the page waits for ever
            logger.warning("Capture of %s: fetching %s failed", result.url, target, exc_info=True)
            await _abort(route, "failed")
            return
        exchanges.append(fetched)
        by_url.setdefault(target, fetched)
        by_url.setdefault(urldefrag(fetched.url)[0], fetched)
        if is_document and (location := _redirect_target(fetched)):
            redirects.append(location)
            await _fulfill(route, 200, {"content-type": "text/html"}, b"")
            return
        disposition = fetched.header("content-disposition").lower()
        if is_document and disposition.startswith("attachment"):
            # A download, not a page: refused (the browser context accepts no downloads).
            navigation_failures[target] = (
                "The address is a file download, not a page: downloads are not captured.",
                "download",
            )
            await _abort(route, "blockedbyclient")
            return
        headers = {k: v for k, v in fetched.headers if k.lower() not in ("content-length",)}
        await _fulfill(route, fetched.status, headers, fetched.body)

    async def tracked(route):
        task = asyncio.current_task()
        pending.add(task)
        try:
            await answer(route)
        finally:
            pending.discard(task)

    context = await browser.new_context(
        viewport=DESKTOP,
        accept_downloads=False,
        service_workers="block",
        java_script_enabled=True,
        ignore_https_errors=False,
    )
    try:
        await context.route(re.compile(r".*"), tracked)
        await context.route_web_socket(re.compile(r".*"), lambda ws: ws.close())
        page = await context.new_page()

        async def navigate(target):
            """The page's response, or None with the reason recorded; and whether the page
            is worth saving (a page that timed out still shows what had loaded)."""
            navigation_failures.clear()
            try:
                response = await page.goto(
                    target, wait_until="load", timeout=max(1.0, budget.remaining()) * 1000
                )
            except PlaywrightTimeout:
                result.fail(
                    f"Time limit: the page did not finish loading within {limits.seconds:g} "
                    "seconds; what had loaded is saved.",
                    "timeout",
                )
                return None, page.url not in ("about:blank", "")
            except PlaywrightError as exc:
                result.fail(*_navigation_reason(navigation_failures, exc))
                return None, False
            return response, True

        response, usable = await navigate(url)
        while usable and redirects:
            location = redirects.pop()
            result.redirects.append(page.url)
            if len(result.redirects) > MAX_REDIRECTS:
                result.fail(
                    "Too many redirects: the page sends the browser round in a loop.", "redirects"
                )
                usable = False
                break
            response, usable = await navigate(location)
        if not usable:
            # Nothing worth a picture: a page refused, not found, a download, never answered.
            if not result.failure:
                result.fail("Time limit: the page did not answer in time.", "timeout")
            result.final_url = page.url if page.url != "about:blank" else ""
            result.requests, result.bytes = budget.requests, budget.spent_bytes
            _write_archive(folder, exchanges, url, result)
            return
        await _settle(page, budget, pending, limits)
        await _facts(page, response, url, by_url, result)
        await _save_views(page, folder, result, budget)
        await _find_media(page, by_url, budget, allowed, limits, result)
    finally:
        await context.close()
    result.requests, result.bytes = budget.requests, budget.spent_bytes
    _write_archive(folder, exchanges, url, result)


async def _abort(route, code: str) -> None:
    try:
        await route.abort(code)
    except PlaywrightError:
        pass


def _redirect_target(fetched: Fetched) -> str:
    location = fetched.header("location")
    if fetched.status in (301, 302, 303, 307, 308) and location:
        return urljoin(fetched.url, location)
    return ""


async def _fulfill(route, status: int, headers: dict, body: bytes) -> None:
    try:
        await route.fulfill(status=status, headers=headers, body=body)
    except PlaywrightError:
        pass  # the page went away meanwhile


def _navigation_reason(failures, exc) -> tuple[str, str]:
    for target in reversed(list(failures)):
        return failures[target]
    message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return f"The page could not be loaded: {message}.", "network"


async def _settle(page, budget: Budget, pending: set, limits: Limits) -> None:
    """Scroll to the bottom and back (lazy content), then wait until no request is pending
    for a moment, within the time left."""
    try:
        await asyncio.wait_for(
            page.evaluate(SCROLL_SCRIPT, DESKTOP["height"]), timeout=max(0.1, budget.remaining())
        )
    except (TimeoutError, PlaywrightError):
        return
    quiet_since = None
    while budget.remaining() > 0:
        if pending:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            break
        await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(
            page.evaluate(
                """() => Promise.all(Array.from(document.images).map((img) =>
                   img.complete ? null : new Promise((done) => {
                     img.addEventListener("load", done); img.addEventListener("error", done);
                   })))"""
            ),
            timeout=max(0.1, min(2.0, budget.remaining())),
        )
    except (TimeoutError, PlaywrightError):
        pass


async def _facts(page, response, url, by_url, result: PageCapture) -> None:
    result.final_url = page.url
    if response is not None:
        result.http_status = response.status
    document = by_url.get(urldefrag(page.url)[0])
    if document is not None:
        result.headers = document.headers
        result.tls = document.tls
        if result.http_status is None:
            result.http_status = document.status
    try:
        result.title = (await page.title())[:300]
        result.text = await page.evaluate("() => document.body ? document.body.innerText : ''")
    except PlaywrightError:
        pass
    if result.http_status is not None and result.http_status >= 400:
        result.fail(
            f"HTTP {result.http_status}: the site answered with an error page "
            "(captured as it was).",
            "http",
        )


async def _save_views(page, folder: Path, result: PageCapture, budget: Budget) -> None:
    async def save(name, role, content_type, make):
        path = folder / name
        try:
            data = await make()
        except (PlaywrightError, TimeoutError) as exc:
            logger.warning("Capture of %s: no %s (%s)", result.url, role, exc)
            return
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        result.files.append(SavedFile(name, path, content_type, role))

    timeout = max(5_000, budget.remaining() * 1000)
    await save(
        "screenshot-full.png",
        "screenshot_full",
        "image/png",
        lambda: page.screenshot(full_page=True, timeout=timeout),
    )
    await save(
        "screenshot.png", "screenshot", "image/png", lambda: page.screenshot(timeout=timeout)
    )
    await save("page.html", "html", "text/html; charset=utf-8", page.content)
    await save("page.txt", "text", "text/plain; charset=utf-8", lambda: _as_future(result.text))
    await save("page.pdf", "pdf", "application/pdf", lambda: page.pdf(print_background=True))
    await page.set_viewport_size(PHONE)
    await save(
        "screenshot-phone.png",
        "screenshot_phone",
        "image/png",
        lambda: page.screenshot(timeout=timeout),
    )


async def _as_future(value):
    return value


async def _find_media(page, by_url, budget, allowed, limits: Limits, result: PageCapture):
    try:
        found = await page.evaluate(MEDIA_SCRIPT, limits.min_image_side)
    except PlaywrightError:
        return
    seen = set()
    for image in found["images"]:
        target = urldefrag(image["url"])[0]
        if target in seen or not target.startswith(("http://", "https://")):
            continue
        seen.add(target)
        fetched = by_url.get(target)
        if fetched is None or fetched.status != 200 or not fetched.body:
            continue
        result.media.append(
            FoundMedia(
                kind="image",
                url=target,
                content_type=fetched.content_type,
                body=fetched.body,
                width=image["width"],
                height=image["height"],
            )
        )
    for address in found["videos"]:
        target = urldefrag(address)[0]
        if target in seen or not target.startswith(("http://", "https://")):
            continue
        seen.add(target)
        fetched = by_url.get(target)
        media = FoundMedia(kind="video", url=target, content_type="")
        if fetched is None or fetched.status != 200:
            try:
                fetched = await asyncio.to_thread(fetch, target, budget=budget, allowed=allowed)
            except AddressRefused as refused:
                result.refused.append({"url": target, "reason": str(refused)})
                media.problem = str(refused)
            except FetchFailed as failed:
                media.problem = str(failed)
                if failed.kind in ("size", "timeout", "requests"):
                    result.fail(str(failed), failed.kind)
        if fetched is not None and fetched.status == 200 and fetched.body:
            media.body, media.content_type = fetched.body, fetched.content_type
        elif not media.problem:
            status = getattr(fetched, "status", "")
            media.problem = f"The video could not be fetched (HTTP {status})."
        result.media.append(media)


def _write_archive(folder: Path, exchanges, url, result: PageCapture) -> None:
    if not exchanges:
        return
    path = folder / "archive.warc.gz"
    with path.open("wb") as handle:
        warc_write(handle, exchanges=exchanges, software=SOFTWARE, page_url=url, title=result.title)
    result.files.append(SavedFile("archive.warc.gz", path, "application/warc", "archive"))
