"""How uploads are received: streamed to a temporary file in large chunks, hashed on the way."""

import hashlib

from django.core.files.uploadhandler import TemporaryFileUploadHandler


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams each uploaded file to a temporary file (never into memory) and computes its
    SHA-256 as the bytes arrive, so that ingest does not read the whole file again to hash it
    (`evidence.services.file_sha256` uses `streamed_sha256`)."""

    # Django reads the request body this much at a time. With Django's 64 KiB, gunicorn copied
    # its read-ahead buffer (up to 1 MiB) for every 64 KiB read and a 200 MB upload ran at a
    # fraction of the disk's speed (benchmarks/upload.py); 1 MiB reads take one recv() each.
    # The memory cost is one chunk per upload.
    chunk_size = 1024 * 1024

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self._digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self._digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.streamed_sha256 = self._digest.hexdigest()
        return uploaded
