"""Conflicting requests at the same time, on the real PostgreSQL: no deadlock, no 5xx.

Every writer takes its locks in the one order `cases/activity.py` documents; this runs the
pair that used to deadlock (reprocessing a photo and commenting on it) from several threads,
each with its own database connection, against the same item."""

import threading
from collections import Counter

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.test import Client

from evidence.models import Evidence, Photo
from tests.needs import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
ROUNDS = 12  # per thread: 96 requests, half reprocess, half comment


@pytest.fixture
def failed_photo(personas):
    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL: DATABASE_URL=postgres://...")
    # Bytes that are not an image: each reprocess fails again at once, so it stays reprocessable
    # and the worker's own writes (status, activity) join the conflict.
    sha = "e" * 64
    evidence = Evidence.objects.create(
        case=personas.case,
        kind=Evidence.Kind.PHOTO,
        collected_by=personas.reporter,
        title="Dandong, 25 May",
        original=default_storage.save(f"originals/{sha}", ContentFile(b"\xff\xd8\xffnot a jpeg")),
        original_name="dandong.jpg",
        sha256=sha,
        size=13,
        content_type="image/jpeg",
    )
    Photo.objects.create(evidence=evidence, status=Photo.Status.FAILED, failure_reason="Bad.")
    return evidence


def test_reprocess_and_comment_on_one_item_at_once_never_answer_5xx(personas, failed_photo):
    statuses: Counter = Counter()
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def hammer(n: int) -> None:
        client = Client(raise_request_exception=False)
        client.force_login(personas.editor if n % 2 else personas.reporter)
        start.wait()
        try:
            for i in range(ROUNDS):
                if (n + i) % 2:
                    response = client.post(f"/api/v1/evidence/{failed_photo.pk}/reprocess/")
                else:
                    response = client.post(
                        f"/api/v1/evidence/{failed_photo.pk}/comments/",
                        {"text": f"comment {n}.{i}"},
                        content_type="application/json",
                    )
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    errors.append(response.content.decode()[:300])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sum(statuses.values()) == THREADS * ROUNDS
    assert set(statuses) <= {201, 202, 400}, statuses
    assert statuses[201] == THREADS * ROUNDS // 2  # every comment was written
    assert failed_photo.comments.count() == THREADS * ROUNDS // 2
