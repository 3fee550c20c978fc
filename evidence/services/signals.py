"""The stated-date and stated-place checks, run again whenever what a reporter states changes,
and the one-click "use the camera's date and GPS".

Every door that changes an item's stated date or place goes through
`evidence.services.evidence.evidence_update` (the API's PATCH, the edit page, the bulk edit,
"use camera date and GPS"), and it calls `evidence_signals_refresh` in the same transaction:
the flags can never disagree with what the item now says.

Which kinds: every kind whose file gives a date or a place of its own. Here that is a photo
(its EXIF date and GPS, on its `Photo` row); a kind whose metadata is kept elsewhere (a video's
container tags) adds its reading to `_camera_metadata`.
"""

from __future__ import annotations

from datetime import UTC

from django.core.exceptions import ValidationError
from django.db import transaction

from evidence.imaging.flags import STATED_FLAGS, stated_flags
from evidence.models import Evidence, Photo
from evidence.services.photos import photo_flags_sync

# What `evidence_update` watches: a change to any of them runs the checks again.
STATED_FIELDS = frozenset({"observed_at", "latitude", "longitude", "place_name"})


def _camera_metadata(evidence: Evidence) -> tuple[Photo, dict] | None:
    """The item's own record of when and where (None: nothing to check against yet, such as a
    photo still being processed, whose processing runs the checks on the values it finds)."""
    if evidence.kind != Evidence.Kind.PHOTO:
        return None
    photo = (
        Photo.objects.select_for_update(of=("self",))
        .filter(evidence=evidence, status=Photo.Status.READY)
        .order_by()
        .first()
    )
    if photo is None:
        return None
    return photo, {
        "taken_at": photo.taken_at,
        "taken_at_offset": photo.taken_at_offset,
        "gps_latitude": photo.gps_latitude,
        "gps_longitude": photo.gps_longitude,
    }


@transaction.atomic
def evidence_signals_refresh(*, evidence: Evidence) -> dict[str, str] | None:
    """Compute the stated-date and stated-place flags of `evidence` again from what it states
    now, and keep its flag rows in step. Returns the flags (code → message), or None when
    the item has no record of its own to check against (yet). Called by the services that
    change the stated values, in their transaction: they write the activity row."""
    found = _camera_metadata(evidence)
    if found is None:
        return None
    photo, metadata = found
    wanted = stated_flags(metadata=metadata, evidence=evidence)
    photo_flags_sync(photo, wanted, managed=set(STATED_FLAGS))
    return wanted


def camera_statement(evidence: Evidence) -> dict:
    """What "use camera date and GPS" would state: observed_at from the camera's date (a
    camera time without a UTC offset is taken as UTC, as the photo page shows it), latitude
    and longitude from its GPS. Refused when the file gives neither."""
    photo = evidence.photo_or_none
    changes: dict = {}
    if photo is not None and photo.status == Photo.Status.READY:
        if photo.taken_at is not None:
            changes["observed_at"] = photo.taken_at.astimezone(UTC)
        if photo.gps_latitude is not None and photo.gps_longitude is not None:
            changes["latitude"] = photo.gps_latitude
            changes["longitude"] = photo.gps_longitude
    if not changes:
        raise ValidationError(
            "The file gives no camera date or GPS position to use.", code="no_camera_data"
        )
    return changes
