"""A link captured end to end by a real Celery worker on Redis (the capture queue's task, sent
through the outbox when the link is recorded): the WARC opens with warcio and holds the page's
HTML and both images byte for byte; the images became evidence, processed by the same worker.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
DATABASE_TEST_NAME=test_casefile_capture \
.venv/bin/pytest -m worker tests/evidence/test_capture_worker.py
"""

import io
import os

import pytest
from django.core.files.storage import default_storage
from warcio.archiveiterator import ArchiveIterator

from evidence.capture.engine import CHROMIUM
from evidence.models import Capture, Photo
from evidence.services.evidence import evidence_create
from tests.evidence import test_worker
from tests.evidence.capture_sites import IMAGES, TWO_IMAGES, Site
from tests.needs import unavailable

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
# The real worker's fixtures (Redis, a worker subprocess on a queue of this test's own).
redis_url = test_worker.redis_url
worker_env = test_worker.worker_env
wait_for = test_worker.wait_for


@pytest.fixture
def site():
    if not os.path.exists(CHROMIUM):
        unavailable(f"Link capture needs Debian's chromium at {CHROMIUM}")
    site = Site()
    yield site
    site.close()


def test_a_real_worker_captures_a_link_into_a_warc_with_its_html_and_images(
    personas, worker_env, site, settings
):
    worker = worker_env(CASEFILE_CAPTURE_ALLOW_HOSTS=f"127.0.0.1:{site.port}")
    evidence = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url=f"{site.url}/two"
    )
    capture = evidence.captures.get()
    wait_for(
        lambda: Capture.objects.get(pk=capture.pk).status in ("ready", "failed"),
        timeout=90,
        worker=worker,
        what="the capture",
    )
    capture.refresh_from_db()
    assert capture.status == "ready", capture.failure_reason
    assert capture.title == "Train arrived in North Korea"
    archive = capture.files.get(role="archive")
    with default_storage.open(archive.file.name, "rb") as handle:
        data = handle.read()
    bodies = {}
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            bodies[record.rec_headers.get_header("WARC-Target-URI")] = (
                record.content_stream().read()
            )
    assert bodies[f"{site.url}/two"] == TWO_IMAGES
    assert bodies[f"{site.url}/red.png"] == IMAGES["/red.png"]
    assert bodies[f"{site.url}/blue.png"] == IMAGES["/blue.png"]
    # The images are evidence of their own, processed by the pipeline on the same worker.
    media = list(capture.media.all())
    assert len(media) == 2
    wait_for(
        lambda: all(Photo.objects.get(pk=m.pk).status == "ready" for m in media),
        timeout=60,
        worker=worker,
        what="the images' processing",
    )
    assert worker.alive
