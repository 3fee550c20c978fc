"""Every request of a capture, made by Casefile itself to an address it checked.

Chromium never connects anywhere during a capture: each request it wants to make is
intercepted (Playwright routing) and answered with a response fetched here, by a connection
to one of the addresses `config.outbound.resolve` returned for the host. That settles DNS
rebinding, since nothing resolves the name a second time between the check and the connection
(`--host-resolver-rules` pinning would have had to be one rule per host discovered while the
page loads, and Chromium would still open connections of its own for preconnects and
prefetches); it also gives the capture the exact bytes of every response for the archive, the
TLS certificate of the connection, and the byte and request limits in one place.

Responses are asked for without content coding (`Accept-Encoding: identity`), so that the
archive holds the bytes the browser rendered; a chunked body is stored de-chunked.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import certifi

from config.outbound import AddressRefused, Allowed, resolve, split_url

# Hop-by-hop headers and the ones this module sets itself: never forwarded from the browser.
DROPPED_REQUEST_HEADERS = {
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
    "transfer-encoding",
    "content-length",
}
# Not passed back to the browser: the body it receives is whole and not content-coded.
DROPPED_RESPONSE_HEADERS = {"transfer-encoding", "connection", "keep-alive", "content-length"}
CHUNK = 64 * 1024


class FetchFailed(Exception):
    """A request that could not be completed; the message is a sentence a reporter reads.
    `kind` names the limit or failure (host, refused, tls, timeout, size, requests, network)."""

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Budget:
    """What one capture may still spend: shared by its concurrent fetches."""

    deadline: float
    max_bytes: int
    max_requests: int
    spent_bytes: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def take_request(self) -> None:
        with self.lock:
            if self.requests >= self.max_requests:
                raise FetchFailed(
                    f"Request limit: the page made more than {self.max_requests} requests; "
                    "the capture stopped there.",
                    kind="requests",
                )
            self.requests += 1

    def take_bytes(self, count: int) -> None:
        with self.lock:
            self.spent_bytes += count
            if self.spent_bytes > self.max_bytes:
                raise FetchFailed(
                    f"Size limit: the page is larger than {self.max_bytes // (1024 * 1024)} MB; "
                    "the capture stopped there.",
                    kind="size",
                )


@dataclass
class Fetched:
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    address: str
    started_at: float
    tls: dict | None = None

    def header(self, name: str) -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), "")

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()


def _name(parts) -> str:
    return ", ".join(f"{k}={v}" for rdn in parts for k, v in rdn)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a given address, the certificate checked against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        context = ssl.create_default_context(cafile=certifi.where())
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def _host_header(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == {"http": 80, "https": 443}[scheme] else f"{shown}:{port}"


def fetch(
    url: str,
    *,
    budget: Budget,
    allowed: Allowed,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Fetched:
    """One request to `url`, to an address `config.outbound` allowed, within `budget`; no
    redirect is followed (the browser asks for the next URL, which is checked in its turn).
    AddressRefused for an address not allowed, FetchFailed for anything else that went wrong."""
    scheme, host, port = split_url(url)
    budget.take_request()
    addresses = resolve(host, port, allowed=allowed)
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    sent = [(k, v) for k, v in headers or [] if k.lower() not in DROPPED_REQUEST_HEADERS]
    sent = [("Host", _host_header(scheme, host, port)), *sent, ("Accept-Encoding", "identity")]
    sent.append(("Connection", "close"))
    started = time.time()
    last_error: Exception | None = None
    for address in addresses:
        timeout = budget.remaining()
        if timeout <= 0:
            break
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(host, port, address=address, timeout=timeout)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for key, value in sent:
                connection.putheader(key, value)
            if body:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            # Kept: with "Connection: close" http.client lets go of the socket once the
            # response starts, and its timeout is set again for every read below.
            sock = connection.sock
            response = connection.getresponse()
            tls = None
            if scheme == "https":
                cert = sock.getpeercert() or {}
                tls = {
                    "subject": _name(cert.get("subject", ())),
                    "issuer": _name(cert.get("issuer", ())),
                    "not_before": cert.get("notBefore", ""),
                    "not_after": cert.get("notAfter", ""),
                    "version": sock.version() or "",
                }
            data = bytearray()
            while True:
                if budget.remaining() <= 0:
                    raise TimeoutError
                sock.settimeout(max(0.05, budget.remaining()))
                chunk = response.read1(CHUNK) if method != "HEAD" else b""
                if not chunk:
                    break
                budget.take_bytes(len(chunk))
                data += chunk
            return Fetched(
                method=method,
                url=url,
                request_headers=sent,
                request_body=body,
                status=response.status,
                reason=response.reason or "",
                headers=[
                    (k, v)
                    for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding",)
                ],
                body=bytes(data),
                address=address,
                started_at=started,
                tls=tls,
            )
        except FetchFailed:
            raise
        except ssl.SSLError as exc:
            raise FetchFailed(
                f"TLS error: the secure connection to {host} could not be trusted ({_ssl(exc)}).",
                kind="tls",
            ) from None
        except TimeoutError:
            raise FetchFailed(
                f"Time limit: {host} did not answer within the capture's time limit.",
                kind="timeout",
            ) from None
        except ConnectionRefusedError as exc:
            last_error = exc
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
        finally:
            connection.close()
    if last_error is None:
        raise FetchFailed(
            f"Time limit: {host} did not answer within the capture's time limit.", kind="timeout"
        )
    if isinstance(last_error, ConnectionRefusedError):
        raise FetchFailed(f"Connection refused: {host} port {port} refused it.", kind="refused")
    raise FetchFailed(f"Network error reaching {host}: {last_error}.", kind="network")


def _ssl(exc: ssl.SSLError) -> str:
    return getattr(exc, "verify_message", None) or exc.reason or str(exc)


__all__ = ["AddressRefused", "Budget", "FetchFailed", "Fetched", "fetch"]
