"""Phone JPEGs with a Multi-Picture index (MPO) are accepted and their embedded images listed;
IPTC/XMP fields are stored, searchable and shown; capture times are honest about offsets."""

import hashlib

import pytest
from django.urls import reverse

from api.serializers import EvidenceSerializer
from evidence.models import Evidence, Photo, PhotoFlag
from evidence.reader import Reader, place_matches
from evidence.services.evidence import photo_ingest
from tests.images import jpeg_bytes, mpo_bytes, upload

pytestmark = pytest.mark.django_db
FIXTURES = "tests/fixtures/exiftool/"


@pytest.fixture
def process(django_capture_on_commit_callbacks, personas):
    def run(data: bytes, name: str = "photo.jpg", **details) -> Photo:
        with django_capture_on_commit_callbacks(execute=True):
            evidence, _ = photo_ingest(
                actor=personas.reporter, case=personas.case, file=upload(data, name), **details
            )
        return Photo.objects.get(pk=evidence.pk)

    return run


def test_an_mpo_jpeg_is_accepted_and_its_embedded_images_listed_with_their_hashes(process):
    data = mpo_bytes()
    photo = process(data, "phone.jpg")
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert photo.evidence.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (640, 480)
    listed = photo.embedded_images
    assert [(i["index"], i["width"], i["height"], i["missing"]) for i in listed] == [
        (1, 320, 240, False)
    ]
    for item in listed:
        chunk = data[item["offset"] : item["offset"] + item["size"]]
        assert chunk.startswith(b"\xff\xd8") and chunk.endswith(b"\xff\xd9")
        assert item["sha256"] == hashlib.sha256(chunk).hexdigest()
    # The embedded images are what follows the primary one: no unexplained trailing data.
    assert not photo.flags.filter(code=PhotoFlag.Code.TRAILING_DATA).exists()


def test_exiftools_own_mpf_sample_is_processed_not_refused(process):
    with open(FIXTURES + "ExifTool.jpg", "rb") as file:
        photo = process(file.read(), "ExifTool.jpg")
    assert photo.status == Photo.Status.READY, photo.failure_reason
    assert [(i["kind"], i["missing"]) for i in photo.embedded_images] == [
        ("Large Thumbnail (Full HD Equivalent)", True)
    ]


def test_iptc_fields_are_stored_shown_and_searchable(process, personas, client):
    with open(FIXTURES + "made_utf8_iptc.jpg", "rb") as file:
        photo = process(file.read(), "iptc.jpg")
    assert (photo.caption, photo.city, photo.sublocation, photo.country) == (
        "단동역의 화물열차",
        "丹东",
        "Dandong station",
        "China",
    )
    assert photo.keywords == ["열차", "Dandong"]
    assert (photo.taken_at_offset, photo.taken_at_source) == ("+08:00", "IPTC")
    # Keywords, like the caption and place, are searched as the reader may see them.
    found = Evidence.objects.filter(place_matches("열차"))
    assert list(found) == [photo.evidence]
    client.force_login(personas.viewer)
    page = client.get(reverse("web:evidence_detail", args=[photo.pk])).content.decode()
    assert "단동역의 화물열차" in page and "Dandong station, 丹东, China" in page
    search = client.get(reverse("web:search"), {"q": "화물열차"})
    hits = [(h.type, h.object_id) for h in search.context["results"].hits]
    assert ("evidence", photo.evidence.pk) in hits


def test_the_api_gives_a_local_time_without_an_offset_and_never_a_z(process):
    photo = process(jpeg_bytes(seed=9, taken_at="2024:05:14 09:30:00"))
    row = EvidenceSerializer(photo.evidence, context=_editors(photo)).data
    assert (row["taken_at"], row["taken_at_offset"], row["taken_at_source"]) == (
        "2024-05-14T09:30:00",
        None,
        "DateTimeOriginal",
    )
    photo = process(jpeg_bytes(seed=10, taken_at="2024:05:14 09:30:00", offset="+08:00"))
    row = EvidenceSerializer(photo.evidence, context=_editors(photo)).data
    assert (row["taken_at"], row["taken_at_offset"]) == ("2024-05-14T09:30:00+08:00", "+08:00")


def _editors(photo) -> dict:
    """The serializer context of an editor's request (what the API views give it)."""
    reader = Reader(actor=None, case=photo.evidence.case, via="api", reveal=True)
    return {"reader": reader, "reveal": True}
