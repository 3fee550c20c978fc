"""The archive of a capture: every request the page made and the response it got, as a
gzipped WARC 1.1 file written with warcio.

Why a WARC written here rather than a HAR converted: every response already passes through
`evidence.capture.fetch` (its exact bytes, the address it came from), so the records are the
real exchanges, with nothing reconstructed; a `.warc.gz` opens in ReplayWeb.page and pywb as
it is, and a WACZ is that file zipped with an index (`wacz create`) whenever one is wanted.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from evidence.capture.fetch import Fetched


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def warc_write(
    handle, *, exchanges: Iterable[Fetched], software: str, page_url: str, title: str = ""
) -> None:
    """Write a warcinfo record, then a response and a request record for each exchange."""
    writer = WARCWriter(handle, gzip=True, warc_version="WARC/1.1")
    info = writer.create_warcinfo_record(
        "archive.warc.gz",
        {"software": software, "format": "WARC File Format 1.1", "isPartOf": page_url},
    )
    writer.write_record(info)
    for exchange in exchanges:
        date = _date(exchange.started_at)
        http_headers = StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(),
            list(exchange.headers),
            protocol="HTTP/1.1",
        )
        response = writer.create_warc_record(
            exchange.url,
            "response",
            payload=io.BytesIO(exchange.body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": exchange.address},
        )
        writer.write_record(response)
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = writer.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(exchange.request_body),
            http_headers=StatusAndHeaders(
                f"{exchange.method} {target} HTTP/1.1",
                list(exchange.request_headers),
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        writer.write_record(request)
