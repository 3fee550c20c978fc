"""Uploads are hashed while they stream to disk, in large chunks; ingest trusts that hash."""

import hashlib
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.uploads import HashingUploadHandler
from evidence.models import Evidence
from evidence.services.evidence import file_sha256
from tests.api.conftest import token_client
from tests.images import pdf_bytes


def _receive(payload: bytes, chunk: int):
    handler = HashingUploadHandler()
    handler.new_file("file", "scan.pdf", "application/pdf", len(payload))
    for start in range(0, len(payload), chunk):
        handler.receive_data_chunk(payload[start : start + chunk], start)
    return handler.file_complete(len(payload))


def test_handler_hashes_the_bytes_it_writes():
    payload = os.urandom(3 * 1024 * 1024 + 17)
    uploaded = _receive(payload, HashingUploadHandler.chunk_size)
    try:
        assert uploaded.streamed_sha256 == hashlib.sha256(payload).hexdigest()
        assert uploaded.size == len(payload)
        uploaded.seek(0)
        assert uploaded.read() == payload
        assert file_sha256(uploaded) == (hashlib.sha256(payload).hexdigest(), len(payload))
    finally:
        uploaded.close()


def test_handler_reads_the_body_in_one_mebibyte_chunks():
    assert HashingUploadHandler.chunk_size == 1024 * 1024


def test_a_file_not_hashed_on_the_way_is_hashed_by_reading_it():
    payload = b"%PDF-1.4\n" + os.urandom(5000)
    assert file_sha256(SimpleUploadedFile("x.pdf", payload)) == (
        hashlib.sha256(payload).hexdigest(),
        len(payload),
    )


@pytest.mark.django_db
def test_an_uploaded_document_is_stored_under_the_hash_of_its_bytes(personas):
    payload = pdf_bytes() + os.urandom(2 * 1024 * 1024)
    response = token_client(personas.reporter).post(
        f"/api/v1/cases/{personas.case.pk}/evidence/",
        {"kind": "document", "file": SimpleUploadedFile("report.pdf", payload)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    evidence = Evidence.objects.get(pk=response.json()["id"])
    assert evidence.sha256 == hashlib.sha256(payload).hexdigest()
    assert evidence.size == len(payload)
    assert evidence.original.name.endswith(evidence.sha256)
    with evidence.original.open("rb") as stored:
        assert stored.read() == payload
