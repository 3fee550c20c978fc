"""Limits at the door (config/limits.py, config/uploads.py): an upload is held to the size
limit while it streams, for every URL, signed in or not; a body whose Content-Length is over
the limit is refused before a byte of it is read."""

import pytest
from django.test import Client

from config import limits
from config.uploads import HashingUploadHandler
from tests.api.conftest import token_client

LIMIT = 2 * 1024 * 1024
CHUNK = HashingUploadHandler.chunk_size
BOUNDARY = "casefile-test-boundary"


class MeasuredBody:
    """A request body made on demand (never held whole), that notes at every read how much it
    has handed out and how much the upload temp directory holds."""

    def __init__(self, head: bytes, size: int, tail: bytes, temp_dir):
        self.parts = [head, size, tail]
        self.temp_dir = temp_dir
        self.read_bytes = 0
        self.peak_temp_bytes = 0
        self.length = len(head) + size + len(tail)

    def _temp_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.temp_dir.iterdir() if p.is_file())

    def read(self, size: int = -1) -> bytes:
        self.peak_temp_bytes = max(self.peak_temp_bytes, self._temp_bytes())
        out = b""
        want = self.length - self.read_bytes if size is None or size < 0 else size
        while len(out) < want and self.parts:
            part = self.parts[0]
            if isinstance(part, int):
                take = min(part, want - len(out))
                out += b"\0" * take
                self.parts[0] = part - take
                if self.parts[0] == 0:
                    self.parts.pop(0)
            else:
                take = part[: want - len(out)]
                out += take
                self.parts[0] = part[len(take) :]
                if not self.parts[0]:
                    self.parts.pop(0)
        self.read_bytes += len(out)
        return out

    def readline(self, size: int = -1) -> bytes:  # WSGI asks for it; Django never calls it
        return self.read(size)


def multipart_body(temp_dir, file_size: int, **fields) -> MeasuredBody:
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    return MeasuredBody(head, file_size, f"\r\n--{BOUNDARY}--\r\n".encode(), temp_dir)


def post(client, path: str, body: MeasuredBody, **extra):
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    # Django's client sets CONTENT_TYPE only beside data of its own; DRF's from content_type.
    return client.generic(
        "POST",
        path,
        content_type=content_type,
        **{
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(body.length),
            "wsgi.input": body,
            **extra,
        },
    )


@pytest.fixture
def temp_dir(settings, tmp_path):
    path = tmp_path / "uploads"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    settings.CASEFILE_MAX_UPLOAD_BYTES = LIMIT
    return path


@pytest.fixture
def handler_alone(monkeypatch):
    """Room for a body far over the limit, so that the upload handler alone has to stop it."""
    monkeypatch.setattr(limits, "FORM_ALLOWANCE_BYTES", 100 * LIMIT)


def test_an_api_upload_stops_at_the_limit_while_it_streams(personas, temp_dir, handler_alone):
    body = multipart_body(temp_dir, 4 * LIMIT, kind="photo")
    url = f"/api/v1/cases/{personas.case.pk}/evidence/"
    response = post(token_client(personas.reporter), url, body)

    assert response.status_code == 413
    assert response.json() == {
        "file": ["The file is above the 2 MB upload limit: nothing was stored."]
    }
    assert response["Connection"] == "close"
    assert body.peak_temp_bytes <= LIMIT + CHUNK
    assert body.read_bytes <= LIMIT + 2 * CHUNK < body.length  # the rest was never read
    assert list(temp_dir.iterdir()) == []


def test_an_anonymous_multipart_post_to_the_login_page_is_cut_at_the_limit(
    db, temp_dir, handler_alone
):
    body = multipart_body(temp_dir, 4 * LIMIT, username="olivia", password="x")  # noqa: S106
    response = post(Client(enforce_csrf_checks=True), "/login/", body)

    # 413 at the limit, not the CSRF check's 403 once the whole body had been written out.
    assert response.status_code == 413
    assert "above the 2 MB upload limit" in response.content.decode()
    assert body.peak_temp_bytes <= LIMIT + CHUNK
    assert body.read_bytes <= LIMIT + 2 * CHUNK
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "path, limit",
    [
        ("/login/", "2 MB"),
        ("/api/v1/auth/token/", "2 MB"),
        # The doors for evidence files take videos: their limit is the video limit.
        ("/cases/1/evidence/upload/", "100 MB"),
        ("/api/v1/cases/1/evidence/", "100 MB"),
    ],
)
def test_a_body_whose_content_length_is_over_the_limit_is_refused_unread(
    db, temp_dir, settings, path, limit
):
    settings.CASEFILE_MAX_VIDEO_BYTES = 100 * 1024 * 1024
    body = MeasuredBody(b"", 300 * 1024 * 1024, b"", temp_dir)
    response = post(Client(enforce_csrf_checks=True), path, body)

    assert response.status_code == 413
    assert body.read_bytes == 0
    assert list(temp_dir.iterdir()) == []
    message = f"The request is 300 MB, above the {limit} upload limit: nothing was read or stored."
    if path.startswith("/api/"):
        assert response.json() == {"detail": message}
    else:
        assert message in response.content.decode()


def test_a_body_a_video_may_be_is_still_too_big_for_any_other_url(db, temp_dir, settings):
    # 50 MB is within the video limit, but the login page takes no evidence files.
    settings.CASEFILE_MAX_VIDEO_BYTES = 100 * 1024 * 1024
    body = MeasuredBody(b"", 50 * 1024 * 1024, b"", temp_dir)
    response = post(Client(enforce_csrf_checks=True), "/login/", body)
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert "above the 2 MB upload limit" in response.content.decode()


def test_an_upload_within_the_limit_goes_through(personas, temp_dir):
    body = multipart_body(temp_dir, LIMIT - 1000, kind="document")
    url = f"/api/v1/cases/{personas.case.pk}/evidence/"
    response = post(token_client(personas.reporter), url, body)
    # The bytes reach the service, which judges them (zeros are no accepted type).
    assert response.status_code == 415, response.content
    assert body.read_bytes == body.length
