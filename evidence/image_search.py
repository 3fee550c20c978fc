"""Reverse image search: "have we seen this picture before?", across every case the user is a
member of. The query image's perceptual hash is computed as the pipeline computes a photo's
(`evidence.imaging.decode.analyse`), after the checks an upload gets; it is never stored. The
matches come from `evidence.similarity.photos_within`, the exact indexed near-duplicate search,
and are read through each case's `Reader` (a protected source's pseudonym, places and GPS
hidden below editor)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases.policy import cases_where
from cases.selectors import cases_visible_to
from evidence.imaging.decode import PhotoRejected, analyse
from evidence.imaging.hashes import SURE_DISTANCE
from evidence.models import Evidence, Photo
from evidence.reader import reader_for
from evidence.services.evidence import upload_size_check, upload_type
from evidence.similarity import photos_within

MAX_MATCHES = 50


def query_phash(file) -> int:
    """The perceptual hash of an image to search with, read as an upload is: refused (a
    ValidationError on `file`) when empty, over the upload or pixel limits, not an image, a
    decompression bomb or damaged."""
    upload_size_check(file)
    upload_type(file, kind=Evidence.Kind.PHOTO)
    try:
        return analyse(file, max_pixels=settings.CASEFILE_MAX_IMAGE_PIXELS).phash
    except PhotoRejected as rejected:
        raise ValidationError(
            {"file": ValidationError(rejected.reason, code="invalid_image")}
        ) from None
    finally:
        file.seek(0)


def evidence_phash(evidence: Evidence) -> int:
    """The hash of a processed photo of the user's (to find where else it appears)."""
    photo = evidence.photo_or_none
    if photo is None or photo.phash is None:
        raise ValidationError(
            {"evidence": ValidationError("Only a processed photo can be searched with.")}
        )
    return photo.phash


def image_matches(
    *,
    request,
    phash: int,
    exclude: int | None = None,
    max_distance: int = SURE_DISTANCE,
    limit: int = MAX_MATCHES,
    via: str,
) -> list[dict]:
    """The photos within `max_distance` bits of `phash` in the user's cases, nearest first,
    each as its case's reader may see it."""
    user = request.user
    # Ids, not a subquery: the few matches are filtered by them, after the index found them.
    visible = list(cases_visible_to(user).values_list("pk", flat=True))
    revealing = set(cases_where(user, "identity.see").values_list("case_id", flat=True))
    photos = (
        photos_within(phash=phash, max_distance=max_distance, exclude=exclude)
        .filter(evidence__case_id__in=visible, evidence__deleted_at__isnull=True)
        .select_related("evidence__case", "evidence__source")[:limit]
    )
    return [_match(request, photo, via=via, revealing=revealing) for photo in photos]


def _match(request, photo: Photo, *, via: str, revealing: set[int]) -> dict:
    evidence = photo.evidence
    reader = reader_for(request, evidence.case, via=via, reveal=evidence.case_id in revealing)
    shown = reader.shows_place(evidence)
    api = via == "api"
    return {
        "distance": photo.distance,
        "case": {"id": evidence.case_id, "title": evidence.case.title},
        "evidence": {
            "id": evidence.pk,
            "title": evidence.label,
            "kind": evidence.kind,
            "source_name": reader.source_name(evidence.source),
            "sensitive": evidence.sensitive,
            "status": photo.status,
            "place_name": evidence.place_name if shown else None,
            "latitude": evidence.latitude if shown else None,
            "longitude": evidence.longitude if shown else None,
            "gps_latitude": photo.gps_latitude if shown else None,
            "gps_longitude": photo.gps_longitude if shown else None,
            "url": request.build_absolute_uri(
                reverse("api:evidence-detail", kwargs={"pk": evidence.pk})
                if api
                else reverse("web:evidence_detail", args=[evidence.pk])
            ),
            "thumbnail_url": (
                request.build_absolute_uri(
                    reverse("api:evidence-thumbnail", kwargs={"pk": evidence.pk})
                    if api
                    else reverse("web:photo_thumbnail", args=[evidence.pk])
                )
                if photo.thumbnail
                else None
            ),
        },
    }
