"""A webhook receiver on 127.0.0.1 that a test runs: it records each request (headers, raw
body) and answers what the test tells it to."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    # What to answer: a status, and for 3xx a Location.
    status: int = 200
    location: str = ""
    body: bytes = b"ok"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?x=1"

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self.port}"

    stopped: bool = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


def receiver_start() -> Receiver:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            receiver = holder["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(path=self.path, headers=dict(self.headers.items()), body=body)
            )
            self.send_response(receiver.status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", str(len(receiver.body)))
            self.end_headers()
            self.wfile.write(receiver.body)

        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server=server)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
