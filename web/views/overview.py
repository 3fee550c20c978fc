"""Views across a case's evidence: the timeline, the map and the side-by-side comparison of
two photos.
"""

import json
from itertools import groupby

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cases.selectors import can_see_protected, case_for_user, claims_of
from evidence.imaging.hashes import hamming
from evidence.models import Evidence
from evidence.selectors import evidence_of
from web.presenters import (
    camera_zone,
    card_context,
    exact_location_visible,
    metadata_rows,
    source_name,
    when,
)
from web.views.base import case_context, record_reveal


@login_required
@require_GET
def timeline(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
    entries = []
    for e in evidence_of(case=case).filter(
        Q(observed_at__isnull=False) | Q(stated_on__isnull=False)
    ):
        entries.append(
            {
                "date": e.observed_date,
                "time": e.observed_at,
                "time_label": when(e.observed_at, camera_zone(e.photo_or_none))
                if e.observed_at
                else "",
                "type": e.kind,
                "type_label": e.get_kind_display(),
                "label": e.label,
                "url": reverse("web:evidence_detail", args=[e.pk]),
                "source_name": source_name(e.source, reveal),
                "place": e.place_name if exact_location_visible(e, reveal) else "",
                "card": card_context(e, reveal),
            }
        )
    for claim in claims_of(case=case).filter(occurred_on__isnull=False):
        entries.append(
            {
                "date": claim.occurred_on,
                "time": None,
                "type": "claim",
                "type_label": "Claim",
                "label": claim.statement,
                "url": reverse("web:claim_detail", args=[claim.pk]),
                "status": claim.status,
                "status_label": claim.get_status_display(),
            }
        )
    # By day; within a day, timed evidence in order, then what has only a date.
    entries.sort(
        key=lambda x: (x["date"], x["time"] is None, x["time"].timestamp() if x["time"] else 0)
    )
    record_reveal(request, reveal, [x["card"]["e"].source for x in entries if "card" in x])
    days = [(day, list(items)) for day, items in groupby(entries, key=lambda x: x["date"])]
    undated = evidence_of(case=case).filter(observed_at__isnull=True, stated_on__isnull=True)
    return render(
        request,
        "web/timeline.html",
        case_context(request, case, days=days, undated_count=undated.count()),
    )


@login_required
@require_GET
def case_map(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
    points, shown = [], []
    for e in evidence_of(case=case):
        base = {
            "id": e.pk,
            "title": e.label,
            "kind": e.get_kind_display(),
            "url": reverse("web:evidence_detail", args=[e.pk]),
            "source": source_name(e.source, reveal),
        }
        if e.latitude is not None or e.photo_or_none is not None:
            shown.append(e.source)
        if e.latitude is not None and exact_location_visible(e, reveal):
            points.append(
                {
                    **base,
                    "lat": e.latitude,
                    "lon": e.longitude,
                    "place": e.place_name,
                    "exif": False,
                }
            )
        photo = e.photo_or_none
        if (
            photo is not None
            and photo.gps_latitude is not None
            and exact_location_visible(e, reveal)
        ):
            points.append(
                {
                    **base,
                    "lat": photo.gps_latitude,
                    "lon": photo.gps_longitude,
                    "place": "Camera GPS (EXIF)",
                    "exif": True,
                }
            )
    record_reveal(request, reveal, shown)
    ctx = case_context(
        request,
        case,
        points=points,
        points_json=json.dumps(points),
        tile_url=settings.CASEFILE_MAP_TILE_URL,
        attribution=settings.CASEFILE_MAP_ATTRIBUTION,
    )
    return render(request, "web/case_map.html", ctx)


def _hamming(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else hamming(a, b)


@login_required
@require_GET
def photo_compare(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
    photos = list(
        evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .order_by("observed_at", "created_at", "id")
    )
    by_id = {str(e.pk): e for e in photos}
    a = by_id.get(request.GET.get("a", ""))
    b = by_id.get(request.GET.get("b", ""))
    if a is None and b is None and len(photos) >= 2:
        a, b = photos[0], photos[1]
    rows, distances = [], {}
    record_reveal(request, reveal, [x.source for x in (a, b) if x is not None])
    if a is not None and b is not None:
        pa, pb = a.photo_or_none, b.photo_or_none
        ra = metadata_rows(a, pa, exact_location_visible(a, reveal))
        rb = metadata_rows(b, pb, exact_location_visible(b, reveal))
        rows = [
            ("Title", a.label, b.label),
            ("Source", source_name(a.source, reveal), source_name(b.source, reveal)),
        ]
        rows += [(label, va, vb) for (label, va), (_, vb) in zip(ra, rb, strict=True)]
        rows.append(("SHA-256", a.sha256, b.sha256))
        if pa is not None and pb is not None:
            distances = {
                "phash": _hamming(pa.phash, pb.phash),
                "dhash": _hamming(pa.dhash, pb.dhash),
            }
    ctx = case_context(
        request,
        case,
        photos=photos,
        a=a,
        b=b,
        pa=a.photo_or_none if a else None,
        pb=b.photo_or_none if b else None,
        rows=rows,
        distances=distances,
    )
    return render(request, "web/photo_compare.html", ctx)
