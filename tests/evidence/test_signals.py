"""The stated-date and stated-place checks run again whenever those values change, whichever
door changed them (evidence.services.signals), and the bulk edit and "use camera date and GPS"
that change them."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cases.activity import Verb
from cases.models import Activity
from evidence.models import PhotoFlag
from evidence.services.evidence import (
    evidence_bulk_update,
    evidence_create,
    evidence_stated_from_camera,
    evidence_update,
    photo_ingest,
)
from evidence.services.sources import source_create
from tests.api.conftest import token_client
from tests.images import jpeg_bytes, upload

DANDONG = (40.1186, 124.3940)
# About 660 km from Dandong station.
NAMPO_ISH = (38.73, 118.95)


def _photo(personas, capture, *, seed=1, **details):
    with capture(execute=True):
        item, _ = photo_ingest(
            actor=personas.reporter,
            case=personas.case,
            file=upload(
                jpeg_bytes(
                    seed=seed,
                    taken_at="2024:05:25 10:00:00",
                    offset="+08:00",
                    make="Canon",
                    gps=DANDONG,
                ),
                f"p{seed}.jpg",
            ),
            **details,
        )
    item.refresh_from_db()
    return item


def _codes(item) -> set[str]:
    return set(PhotoFlag.objects.filter(photo_id=item.pk).values_list("code", flat=True))


def test_a_date_and_place_stated_after_upload_are_checked_and_cleared_when_fixed(
    personas, django_capture_on_commit_callbacks
):
    item = _photo(personas, django_capture_on_commit_callbacks)
    assert not _codes(item) & {"date_mismatch", "place_mismatch"}
    evidence_update(
        actor=personas.reporter,
        evidence=item,
        observed_at=datetime(2024, 5, 22, 2, 0, tzinfo=UTC),
        latitude=NAMPO_ISH[0],
        longitude=NAMPO_ISH[1],
    )
    assert {"date_mismatch", "place_mismatch"} <= _codes(item)
    message = PhotoFlag.objects.get(photo_id=item.pk, code="place_mismatch").message
    assert (
        message.startswith("The GPS position in the file is ") and " km from the place" in message
    )
    row = Activity.objects.filter(verb=Verb.EVIDENCE_UPDATED, target_id=item.pk).last()
    assert row.data["stated_flags"] == ["date_mismatch", "place_mismatch"]
    # Fixed: the flags go.
    evidence_update(
        actor=personas.reporter,
        evidence=item,
        observed_at=datetime(2024, 5, 25, 2, 0, tzinfo=UTC),
        latitude=DANDONG[0],
        longitude=DANDONG[1],
    )
    assert not _codes(item) & {"date_mismatch", "place_mismatch"}


def test_the_api_patch_runs_the_checks_again(personas, django_capture_on_commit_callbacks):
    item = _photo(personas, django_capture_on_commit_callbacks)
    response = token_client(personas.reporter).patch(
        f"/api/v1/evidence/{item.pk}/",
        {"observed_at": "2024-05-22T02:00:00Z"},
        format="json",
    )
    assert response.status_code == 200, response.content
    codes = [f["code"] for f in response.json()["flags"]]
    assert "date_mismatch" in codes


def test_the_bulk_edit_changes_every_item_in_one_batch_and_checks_each(
    personas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    first = _photo(personas, capture, seed=1, title="Train")
    second = _photo(personas, capture, seed=3)
    wire = source_create(actor=personas.editor, case=personas.case, kind="publication", name="W")
    done = evidence_bulk_update(
        actor=personas.reporter,
        case=personas.case,
        evidence_ids=[first.pk, second.pk],
        source=wire,
        sensitive=True,
        title_prefix="Dandong:",
        observed_at=datetime(2024, 5, 20, tzinfo=UTC),
        place_name="Nampo",
        latitude=NAMPO_ISH[0],
        longitude=NAMPO_ISH[1],
    )
    assert [d.pk for d in done] == [first.pk, second.pk]
    for item in done:
        item.refresh_from_db()
        assert item.source == wire and item.sensitive and item.title.startswith("Dandong: ")
        assert {"date_mismatch", "place_mismatch"} <= _codes(item)
    assert [d.title for d in done] == ["Dandong: Train", "Dandong: p3.jpg"]
    rows = Activity.objects.filter(verb=Verb.EVIDENCE_UPDATED, target_id__in=[first.pk, second.pk])
    batches = {row.data["batch"] for row in rows}
    assert len(batches) == 1 and rows.count() == 2
    # Again: the prefix is not doubled.
    evidence_bulk_update(
        actor=personas.reporter,
        case=personas.case,
        evidence_ids=[first.pk],
        title_prefix="Dandong:",
    )
    first.refresh_from_db()
    assert first.title == "Dandong: Train"


def test_the_bulk_edit_is_all_or_nothing_and_for_reporters_and_above(
    personas, django_capture_on_commit_callbacks
):
    item = _photo(personas, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError):
        evidence_bulk_update(
            actor=personas.reporter,
            case=personas.case,
            evidence_ids=[item.pk, 999999],
            sensitive=True,
        )
    item.refresh_from_db()
    assert not item.sensitive
    with pytest.raises(PermissionDenied):
        evidence_bulk_update(
            actor=personas.viewer, case=personas.case, evidence_ids=[item.pk], sensitive=True
        )


def test_use_camera_date_and_gps_states_them_and_clears_the_flags(
    personas, django_capture_on_commit_callbacks
):
    item = _photo(
        personas,
        django_capture_on_commit_callbacks,
        observed_at=datetime(2024, 5, 1, tzinfo=UTC),
        latitude=NAMPO_ISH[0],
        longitude=NAMPO_ISH[1],
    )
    assert {"date_mismatch", "place_mismatch"} <= _codes(item)
    evidence_stated_from_camera(actor=personas.reporter, evidence=item)
    item.refresh_from_db()
    assert item.observed_at == datetime(2024, 5, 25, 2, 0, tzinfo=UTC)
    assert (round(item.latitude, 4), round(item.longitude, 4)) == DANDONG
    assert not _codes(item) & {"date_mismatch", "place_mismatch"}


def test_use_camera_refuses_a_file_without_date_or_gps(
    personas, django_capture_on_commit_callbacks
):
    link = evidence_create(
        actor=personas.reporter, case=personas.case, kind="link", url="https://x.example/"
    )
    with pytest.raises(ValidationError) as refused:
        evidence_stated_from_camera(actor=personas.reporter, evidence=link)
    assert "no camera date or GPS" in str(refused.value)
