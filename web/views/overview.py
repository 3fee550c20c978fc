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

from cases.selectors import case_for_user, claims_of
from evidence.imaging.hashes import hamming
from evidence.models import Evidence
from evidence.reader import reader_for
from evidence.selectors import evidence_of, photo_match_between
from web.presenters import camera_zone, card_context, metadata_rows, place_pair, when
from web.views.base import case_context
from web.views.videos import keyframe_compare


@login_required
@require_GET
def timeline(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    entries = []
    # By the stated date, or else by the date the camera recorded (marked which).
    dated = Q(observed_at__isnull=False) | Q(stated_on__isnull=False)
    camera_dated = Q(photo__taken_at__isnull=False)
    for e in evidence_of(case=case).filter(dated | camera_dated):
        photo = e.photo_or_none
        stated = e.observed_at is not None or e.stated_on is not None
        if stated:
            day, moment = e.observed_date, e.observed_at
            time_label = when(e.observed_at, camera_zone(photo)) if e.observed_at else ""
        else:
            zone = camera_zone(photo)
            # No offset recorded: taken_at holds the camera's local time read as UTC.
            local = photo.taken_at.astimezone(zone) if zone else photo.taken_at
            day, moment = local.date(), photo.taken_at
            time_label = f"{local:%Y-%m-%d %H:%M}"
        entries.append(
            {
                "date": day,
                "time": moment,
                "time_label": time_label,
                "dated_by": "stated" if stated else "camera",
                "type": e.kind,
                "type_label": e.get_kind_display(),
                "label": e.label,
                "url": reverse("web:evidence_detail", args=[e.pk]),
                "source_name": reader.source_name(e.source),
                "place": e.place_name if reader.shows_place(e) else "",
                "card": card_context(e, reader),
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
    days = [(day, list(items)) for day, items in groupby(entries, key=lambda x: x["date"])]
    undated = evidence_of(case=case).exclude(dated | camera_dated)
    return render(
        request,
        "web/timeline.html",
        case_context(request, case, days=days, undated_count=undated.count()),
    )


@login_required
@require_GET
def case_map(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    points, pairs = [], []
    for e in evidence_of(case=case):
        if not reader.shows_place(e):
            continue
        pair = place_pair(e, reader)
        if pair is not None:
            pairs.append(pair)
        photo = e.photo_or_none
        places = []
        if e.latitude is not None:
            places.append((e.latitude, e.longitude, e.place_name, False))
        if photo is not None and photo.gps_latitude is not None:
            places.append((photo.gps_latitude, photo.gps_longitude, "Camera GPS (EXIF)", True))
        if not places:
            continue
        base = {
            "id": e.pk,
            "title": e.label,
            "kind": e.get_kind_display(),
            "url": reverse("web:evidence_detail", args=[e.pk]),
            "source": reader.source_name(e.source),
        }
        points += [
            {**base, "lat": lat, "lon": lon, "place": place, "exif": exif}
            for lat, lon, place, exif in places
        ]
    ctx = case_context(
        request,
        case,
        points=points,
        points_json=json.dumps(points),
        pairs=pairs,
        pairs_json=json.dumps(pairs),
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
    reader = reader_for(request, case, via="page")
    if request.GET.get("k"):
        # A video's keyframe on the left (issue #15), a photo on the right.
        return keyframe_compare(request, case, reader)
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
    rows, distances, match = [], {}, None
    if a is not None and b is not None:
        pa, pb = a.photo_or_none, b.photo_or_none
        ra = metadata_rows(a, pa, reader)
        rb = metadata_rows(b, pb, reader)
        rows = [
            ("Title", a.label, b.label),
            ("Source", reader.source_name(a.source), reader.source_name(b.source)),
        ]
        # What neither file says (no caption on either, say) is left out of the comparison.
        rows += [
            (label, va, vb)
            for (label, va), (_, vb) in zip(ra, rb, strict=True)
            if va not in (None, "") or vb not in (None, "")
        ]
        rows.append(("SHA-256", a.sha256, b.sha256))
        if pa is not None and pb is not None:
            distances = {
                "phash": _hamming(pa.phash, pb.phash),
                "dhash": _hamming(pa.dhash, pb.dhash),
            }
            match = photo_match_between(a=pa, b=pb) if pa.pk != pb.pk else None
    ctx = case_context(
        request,
        case,
        photos=photos,
        a=a,
        b=b,
        pa=a.photo_or_none if a else None,
        pb=b.photo_or_none if b else None,
        a_src=_preview_src(a),
        b_src=_preview_src(b),
        a_label=a.label if a else "",
        rows=rows,
        distances=distances,
        match=match,
    )
    return render(request, "web/photo_compare.html", ctx)


def _preview_src(evidence) -> str:
    photo = evidence.photo_or_none if evidence is not None else None
    if photo is None or not photo.preview:
        return ""
    return reverse("web:photo_preview", args=[evidence.pk])
