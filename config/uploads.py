"""How uploads are received: streamed to a temporary file in large chunks, hashed on the way,
and stopped at the size limit while they stream (never written whole, then refused)."""

import hashlib

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from evidence.imaging.sniff import looks_like_video


def megabytes(size: int) -> str:
    """A size as people read it in a refusal: "50 MB", "12.5 MB"."""
    return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")


def upload_limit(head: bytes, *, videos: bool = True) -> int:
    """The most an upload starting with `head` may be: the video limit for a video's bytes
    (never below the general one) where `videos` are taken, the general upload limit for
    anything else."""
    general = settings.CASEFILE_MAX_UPLOAD_BYTES
    if videos and looks_like_video(head):
        return max(general, settings.CASEFILE_MAX_VIDEO_BYTES)
    return general


def request_limit() -> int:
    """The largest upload of any kind: what a request's Content-Length is checked against
    before its body is read (the kind is told, and its own limit applied, as it streams)."""
    return max(settings.CASEFILE_MAX_UPLOAD_BYTES, settings.CASEFILE_MAX_VIDEO_BYTES)


class UploadTooLarge(RequestDataTooBig):
    """A file of the request went past CASEFILE_MAX_UPLOAD_BYTES while it streamed (or the
    request's Content-Length says it would). `field` names the form field, when known."""

    def __init__(self, *, field: str = "", limit: int):
        self.field = field
        self.limit = limit
        super().__init__(
            f"The file is above the {megabytes(limit)} upload limit: nothing was stored."
        )


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams each uploaded file to a temporary file (never into memory) and computes its
    SHA-256 as the bytes arrive, so that ingest does not read the whole file again to hash it
    (`evidence.services.file_sha256` uses `streamed_sha256`).

    A file that goes past CASEFILE_MAX_UPLOAD_BYTES stops the upload there: its temporary file
    is deleted and `UploadTooLarge` raised, so at most the limit plus one chunk ever reaches the
    disk and the rest of the body is never read (`config.limits` answers 413). A file whose
    first bytes are a video's (told as ingest tells them, `evidence.imaging.sniff`) has the
    video limit instead, CASEFILE_MAX_VIDEO_BYTES: only videos may be that large."""

    # Django reads the request body this much at a time. With Django's 64 KiB, gunicorn copied
    # its read-ahead buffer (up to 1 MiB) for every 64 KiB read and a 200 MB upload ran at a
    # fraction of the disk's speed (benchmarks/upload.py); 1 MiB reads take one recv() each.
    # The memory cost is one chunk per upload.
    chunk_size = 1024 * 1024

    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        self._digest = hashlib.sha256()
        self._received = 0
        self._limit = settings.CASEFILE_MAX_UPLOAD_BYTES

    def receive_data_chunk(self, raw_data, start):
        if self._received == 0 and raw_data:
            # A video's limit only where the view takes videos (config.limits.accepts_videos).
            videos = getattr(self.request, "accepts_videos", False)
            self._limit = upload_limit(raw_data[:64], videos=videos)
        self._received += len(raw_data)
        limit = self._limit
        if self._received > limit:
            self.file.close()  # a NamedTemporaryFile: closing it deletes it
            raise UploadTooLarge(field=self.field_name, limit=limit)
        self._digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.streamed_sha256 = self._digest.hexdigest()
        return uploaded
