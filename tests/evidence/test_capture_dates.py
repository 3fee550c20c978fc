"""Capture dates told honestly (issue #15): a date-only IPTC DateCreated is a date, never a
capture time at a midnight the file did not state; a maker note's date is used where EXIF has
none, only for a maker whose layout is known (Pentax), checked against exiftool's reading."""

import io
import json
from pathlib import Path

from django.urls import reverse
from PIL import Image

from evidence.imaging.metadata import capture_time_text, maker_note_datetime, read_metadata
from evidence.models import Photo
from evidence.services.evidence import photo_ingest
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, upload, with_iptc

FIXTURES = Path(__file__).parent.parent / "fixtures" / "exiftool"


def test_exiftools_date_only_iptc_file_has_a_date_created_and_no_capture_time():
    # IPTC.jpg: IPTC DateCreated 2004:02:26 and no TimeCreated, no EXIF or XMP date.
    with Image.open(FIXTURES / "IPTC.jpg") as image:
        _, metadata = read_metadata(image)
    assert metadata["date_created"] == "2004-02-26"
    assert (metadata["taken_at"], metadata["taken_at_source"]) == (None, "")


def test_a_date_only_iptc_date_reaches_the_api_as_a_date_without_a_time(
    personas, django_capture_on_commit_callbacks
):
    data = with_iptc(jpeg_bytes(seed=11), date="20240525")
    with django_capture_on_commit_callbacks(execute=True):
        evidence, _ = photo_ingest(actor=personas.reporter, case=personas.case, file=upload(data))
    photo = Photo.objects.get(pk=evidence.pk)
    assert photo.status == Photo.Status.READY
    assert (photo.taken_at, photo.taken_at_source, photo.date_created) == (None, "", "2024-05-25")
    body = token_client(personas.viewer).get(
        reverse("api:evidence-detail", kwargs={"pk": evidence.pk})
    )
    assert body.json()["taken_at"] is None and body.json()["date_created"] == "2024-05-25"


def _pentax_without_standard_dates() -> bytes:
    """exiftool's Pentax.jpg re-saved without its EXIF dates (DateTimeOriginal, CreateDate,
    ModifyDate): only its maker note still says when it was taken."""
    with Image.open(FIXTURES / "Pentax.jpg") as image:
        exif = image.getexif()
        for tag in (0x9003, 0x9004):
            exif.get_ifd(0x8769).pop(tag, None)
        exif.pop(0x0132, None)
        out = io.BytesIO()
        image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_pentax_maker_note_date_is_used_when_exif_has_none_as_exiftool_reads_it():
    entry = next(
        e
        for e in json.loads((FIXTURES / "exiftool.json").read_text())
        if e["SourceFile"] == "Pentax.jpg"
    )
    with Image.open(io.BytesIO(_pentax_without_standard_dates())) as image:
        _, metadata = read_metadata(image)
    assert metadata["taken_at_source"] == "maker note"
    expected = f"{entry['MakerNotes:Date'].replace(':', '-')}T{entry['MakerNotes:Time']}"
    assert capture_time_text(metadata["taken_at"], metadata["taken_at_offset"]) == expected
    assert metadata["taken_at_offset"] == ""  # a local time: maker notes record no offset


def test_a_maker_note_never_overrides_the_exif_date_and_other_makers_are_not_guessed():
    with Image.open(FIXTURES / "Pentax.jpg") as image:
        _, metadata = read_metadata(image)
    assert metadata["taken_at_source"] == "DateTimeOriginal"
    # The same bytes under another maker's name: not read (its layout would be another's).
    with Image.open(FIXTURES / "Pentax.jpg") as image:
        note = image.getexif().get_ifd(0x8769)[0x927C]
    assert maker_note_datetime(note, make="Canon") is None
    assert maker_note_datetime(b"AOC\x00MM\xff\xff", make="PENTAX") is None
    assert maker_note_datetime(note[:40], make="PENTAX") is None
