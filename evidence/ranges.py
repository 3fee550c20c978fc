"""Byte ranges of a served file (RFC 9110 §14): what a browser's <video> asks for to seek in
a video's web-playable preview. The answer carries the same headers as every other download
(`evidence.downloads`): private, no-store, nosniff, a sandboxing CSP."""

from __future__ import annotations

import re

from django.http import HttpResponse, StreamingHttpResponse

from evidence.downloads import download_response

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 1024 * 1024


def _secure(response):
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Accept-Ranges"] = "bytes"
    return response


def _chunks(file, start: int, length: int):
    try:
        file.seek(start)
        left = length
        while left > 0:
            data = file.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        file.close()


def ranged_response(request, stored, *, content_type: str, filename: str):
    """The stored file, or the one byte range the request's `Range` asks for (206); a range
    past the end is 416. Several ranges at once are answered with the whole file (allowed)."""
    size = stored.size
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    if match is None or (not match[1] and not match[2]):
        response = download_response(
            stored.open("rb"), content_type=content_type, filename=filename, as_attachment=False
        )
        response["Accept-Ranges"] = "bytes"
        return response
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # the last N bytes
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        response = _secure(HttpResponse(status=416))
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1
    response = StreamingHttpResponse(
        _chunks(stored.open("rb"), start, length), status=206, content_type=content_type
    )
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return _secure(response)
