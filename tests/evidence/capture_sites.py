"""Local web sites for the capture tests: one the capture may reach (its host:port in
CASEFILE_CAPTURE_ALLOW_HOSTS), and one it must never reach, which records every connection."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from tests.videos import make_video


def png(color: str, size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


IMAGES = {
    "/red.png": png("red"),
    "/blue.png": png("blue", (400, 300)),
    "/lazy.png": png("green", (300, 300)),
    "/icon.png": png("black", (16, 16)),
}
# A one-second clip (an MP4 made with PyAV): kept as a file of the capture and made its own
# evidence item. NOT_A_VIDEO says it is one, and is not: kept as a file, refused as evidence.
VIDEO = make_video(seconds=1.0)
NOT_A_VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 64
HUGE = 200 * 1024 * 1024
TWO_IMAGES = (
    b"<!doctype html><html><head><title>Train arrived in North Korea</title></head><body>"
    b"<h1>April report</h1><p>The freight train crossed at Dandong.</p>"
    b'<img src="/red.png" alt="red"><img src="/blue.png" alt="blue">'
    b'<img src="/icon.png" alt="too small"></body></html>'
)


def page(title: str, body: str) -> bytes:
    head = f"<!doctype html><html><head><title>{title}</title></head>"
    return f"{head}<body>{body}</body></html>".encode()


class Site:
    """A threaded HTTP server on 127.0.0.1 with a port of its own, recording its requests."""

    def __init__(self, routes=None):
        self.requests: list[str] = []
        self.connections = 0
        self.release = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                site.connections += 1
                super().setup()

            def do_GET(self):
                site.requests.append(self.path)
                (routes or site.route)(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.other = None  # the site this one's redirects and subresources point to

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def send(handler, status: int, body: bytes, content_type="text/html", headers=()):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def route(self, handler):
        path = handler.path
        other = self.other.url if self.other else "http://127.0.0.1:9"
        if path == "/two":
            return self.send(handler, 200, TWO_IMAGES)
        if path in IMAGES:
            return self.send(handler, 200, IMAGES[path], "image/png")
        if path == "/lazy":
            return self.send(
                handler,
                200,
                page(
                    "Lazy",
                    '<div style="height:4000px">top</div>'
                    '<img loading="lazy" src="/lazy.png" alt="lazy">'
                    '<div id="more"></div><script src="/lazy.js"></script>',
                ),
            )
        if path == "/lazy.js":
            script = (
                b"new IntersectionObserver((entries, observer) => {"
                b" if (entries.some((e) => e.isIntersecting)) {"
                b" document.getElementById('more').textContent = 'Loaded when scrolled to';"
                b" observer.disconnect(); } }).observe(document.getElementById('more'));"
            )
            return self.send(handler, 200, script, "text/javascript")
        if path in ("/r1", "/r2", "/r3"):
            nxt = {"/r1": "/r2", "/r2": f"{self.url}/r3", "/r3": "/two"}[path]
            return self.send(
                handler, 302 if path != "/r2" else 301, b"", headers=[("Location", nxt)]
            )
        if path == "/away":
            return self.send(handler, 302, b"", headers=[("Location", f"{other}/stolen")])
        if path == "/metadata":
            return self.send(
                handler,
                200,
                page(
                    "Metadata",
                    '<p>Hello</p><img src="http://169.254.169.254/latest/meta-data/iam">'
                    f'<img src="{other}/pixel.png"><link rel="preconnect" href="{other}/">',
                ),
            )
        if path == "/hang":
            return self.send(handler, 200, page("Hangs", '<p>Loading</p><img src="/never.png">'))
        if path == "/never.png":
            self.release.wait(120)
            return None
        if path == "/huge":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(HUGE))
            handler.end_headers()
            block = b"\0" * (1024 * 1024)
            try:
                for _ in range(HUGE // len(block)):
                    handler.wfile.write(block)
            except OSError:
                pass  # the capture stopped reading at its limit
            return None
        if path == "/video":
            return self.send(
                handler,
                200,
                page("Video", '<video src="/clip.mp4" controls></video><p>A clip</p>'),
            )
        if path == "/not-a-video":
            return self.send(
                handler,
                200,
                page("Not a video", '<video src="/broken.mp4" controls></video><p>A clip?</p>'),
            )
        if path == "/clip.mp4":
            return self.send(handler, 200, VIDEO, "video/mp4")
        if path == "/broken.mp4":
            return self.send(handler, 200, NOT_A_VIDEO, "video/mp4")
        if path == "/set-cookie":
            return self.send(
                handler, 200, page("Cookie", "<p>Set</p>"), headers=[("Set-Cookie", "seen=1")]
            )
        if path == "/show-cookie":
            cookie = handler.headers.get("Cookie") or "no cookie"
            return self.send(handler, 200, page("Cookie", f"<p>Cookie: {cookie}</p>"))
        if path == "/download":
            return self.send(
                handler,
                200,
                b"a,b\n1,2\n",
                "text/csv",
                headers=[("Content-Disposition", 'attachment; filename="data.csv"')],
            )
        return self.send(handler, 404, page("Not found", "<h1>No such page</h1>"))
