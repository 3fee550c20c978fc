"""The evidence pages: the gallery and uploads, new evidence, an item's page, card and edit
form, a photo's derivatives and original, processing again, comments.
"""

import json
import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.policy import require
from cases.selectors import case_for_user, members_of
from config.limits import answers_json
from config.refusals import refusal_status
from evidence.downloads import download_response
from evidence.imaging.video import timecode
from evidence.models import Evidence, Photo
from evidence.reader import reader_for
from evidence.selectors import (
    comments_on,
    evidence_for_user,
    evidence_of,
    near_duplicate_counts,
    photo_text_matches,
    similar_photos,
)
from evidence.services import evidence as evidence_services
from evidence.services import photos as photo_services
from evidence.services import videos as video_services
from evidence.services.assignments import assignee_of
from evidence.services.custody import original_download
from evidence.video_selectors import videos_matching_photo
from web import forms
from web.feedback import attempt
from web.presenters import (
    card_context,
    custody_history,
    metadata_rows,
    place_pair,
    polling_context,
    text_context,
)
from web.video_presenters import video_context
from web.views.base import case_context, comment_post, gone
from web.views.captures import capture_panel


@login_required
@require_GET
def evidence_gallery(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reader = reader_for(request, case, via="page")
    filters = forms.GalleryFilterForm(request.GET or None, reader=reader)
    items = evidence_of(case=case)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"]
            items = items.filter(
                Q(title__icontains=q)
                | Q(description__icontains=q)
                | Q(original_name__icontains=q)
                | reader.place_matches(q)
                | Q(url__icontains=q)
                | Q(text__icontains=q)
                | photo_text_matches(q)
                | reader.text_matches(q)
            )
        if data["kind"]:
            items = items.filter(kind=data["kind"])
        if data["status"]:
            items = items.filter(photo__status=data["status"])
        if data["source"]:
            items = items.filter(source=data["source"])
        if data["flagged"]:
            items = items.filter(photo__flags__isnull=False).distinct()
    page = Paginator(items, 48).get_page(request.GET.get("page"))
    stacks = near_duplicate_counts(evidence_ids=[e.pk for e in page.object_list])
    query = request.GET.copy()
    query.pop("page", None)
    ctx = case_context(
        request,
        case,
        filters=filters,
        page=page,
        query=query.urlencode(),
        cards=[
            {**card_context(e, reader), "near_duplicates": stacks.get(e.pk, 0)}
            for e in page.object_list
        ],
        upload_form=forms.UploadForm(reader=reader, auto_id="upload_%s"),
        bulk_form=forms.BulkEditForm(reader=reader, auto_id="bulk_%s"),
        max_upload_bytes=settings.CASEFILE_MAX_UPLOAD_BYTES,
        max_video_bytes=settings.CASEFILE_MAX_VIDEO_BYTES,
        filtered=bool(
            request.GET.get("q")
            or any(request.GET.get(k) for k in ("kind", "status", "source", "flagged"))
        ),
    )
    return render(request, "web/evidence_gallery.html", ctx)


@answers_json
@login_required
@require_POST
def evidence_upload(request, case_id):
    """One file per request, so that the page can show a progress bar per file."""
    case = case_for_user(user=request.user, case_id=case_id)
    try:
        require(request.user, case, "evidence.add")
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    reader = reader_for(request, case, via="page")
    form = forms.UploadForm(request.POST, request.FILES, reader=reader)
    if not form.is_valid():
        message = "; ".join(m for errors in form.errors.values() for m in errors)
        return JsonResponse({"error": message or "Choose a file."}, status=400)
    upload = form.cleaned_data["file"]
    try:
        # No kind is asked for: the service tells a photo from a document by the bytes.
        evidence, created = evidence_services.evidence_ingest(
            actor=request.user, case=case, file=upload, **form.details()
        )
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=refusal_status(exc))
    evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
    html = render_to_string(
        "web/partials/evidence_card.html", card_context(evidence, reader), request=request
    )
    return JsonResponse(
        {
            "id": evidence.pk,
            "created": created,
            "html": html,
            "message": (
                "Already in this case: recorded as another arrival of the same file "
                "(see its provenance)."
                if not created
                # Photos and videos go on to be processed; a document is done once stored.
                else "Uploaded — processing"
                if evidence.kind in (Evidence.Kind.PHOTO, Evidence.Kind.VIDEO)
                else "Uploaded"
            ),
        },
        status=201 if created else 200,
    )


@login_required
@require_GET
def evidence_card(request, evidence_id):
    """The htmx status partial: a card that polls itself until its photo is ready or failed,
    or shows that it was deleted meanwhile."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id, include_deleted=True)
    if evidence.is_deleted:
        return gone(request, evidence, "web/partials/evidence_card_removed.html", {})
    reader = reader_for(request, evidence.case, via="page")
    return render(request, "web/partials/evidence_card.html", card_context(evidence, reader))


@login_required
@require_http_methods(["GET", "POST"])
def evidence_new(request, case_id, kind):
    case = case_for_user(user=request.user, case_id=case_id)
    form_classes = {"link": forms.LinkEvidenceForm, "testimony": forms.TestimonyForm}
    if kind not in form_classes:
        raise Http404("No such kind of evidence.")
    require(request.user, case, "evidence.add")
    reader = reader_for(request, case, via="page")
    form = form_classes[kind](request.POST or None, reader=reader)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            evidence = evidence_services.evidence_create(
                actor=request.user, case=case, kind=kind, **data
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Evidence added.")
            return redirect("web:evidence_detail", evidence_id=evidence.pk)
    title = "Add a web link" if kind == "link" else "Add testimony"
    return render(
        request,
        "web/evidence_new.html",
        case_context(request, case, form=form, kind=kind, title=title),
    )


@login_required
@require_http_methods(["GET", "POST"])
def evidence_edit(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    case = evidence.case
    require(request.user, case, "evidence.edit")
    reader = reader_for(request, case, via="page")
    form = forms.EvidenceEditForm(
        request.POST or None,
        reader=reader,
        place_hidden=not reader.shows_place(evidence),
    )
    form.initial = {f: getattr(evidence, f) for f in form.fields if f != "source"}
    form.initial["source"] = evidence.source_id
    if request.method == "POST" and form.is_valid():
        try:
            evidence_services.evidence_update(
                actor=request.user, evidence=evidence, **form.cleaned_data
            )
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Evidence saved.")
            return redirect("web:evidence_detail", evidence_id=evidence.pk)
    return render(
        request, "web/evidence_edit.html", case_context(request, case, form=form, e=evidence)
    )


# The photo page's History panel shows the newest events of the custody record.
HISTORY_SHOWN = 12


@login_required
@require_GET
def evidence_detail(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id, include_deleted=True)
    case = evidence.case
    if evidence.is_deleted:  # an old link, or the page polling while an editor deleted it
        return gone(request, evidence, "web/evidence_removed.html", case_context(request, case))
    reader = reader_for(request, case, via="page")
    photo = evidence.photo_or_none
    exact = reader.shows_place(evidence)
    points = []
    if evidence.latitude is not None and exact:
        points.append(
            {
                "lat": evidence.latitude,
                "lon": evidence.longitude,
                "label": f"Stated place: {evidence.place_name or 'as given'}",
                "kind": "stated",
            }
        )
    if photo is not None and photo.gps_latitude is not None and exact:
        points.append(
            {
                "lat": photo.gps_latitude,
                "lon": photo.gps_longitude,
                "label": "Where the camera says it was taken (EXIF GPS)",
                "kind": "exif",
            }
        )
    similar = []
    if photo is not None:
        for other, match in similar_photos(photo=photo):
            similar.append(
                {
                    "e": other.evidence,
                    "photo": other,
                    "distance": match.distance,
                    "kind": match.get_kind_display(),
                    "verified": match.verified,
                    "cross_source": match.cross_source,
                    "source_name": reader.source_name(other.evidence.source),
                }
            )
    video = evidence.video_or_none
    video_extra = video_context(evidence, video, reader) if video is not None else {}
    points += video_extra.get("video_points", [])
    keyframe_matches = videos_matching_photo(photo=photo) if photo is not None else []
    links = evidence.links.select_related("claim").order_by("claim__created_at")
    # One history of the item: its custody record (which holds every activity row about it and
    # more: links, comments, exports, reveals), newest first.
    history = custody_history(evidence=evidence, reader=reader)[::-1]
    polling = polling_context(photo or video)
    ctx = case_context(
        request,
        case,
        e=evidence,
        photo=photo,
        source_name=reader.source_name(evidence.source),
        rows=video_extra["video_rows"] if video else metadata_rows(evidence, photo, reader),
        flags=list(photo.flags.all()) if photo else list(video.flags.all()) if video else [],
        map_points=points,
        # In an attribute, not a <script> data block: htmx drops script elements it swaps in.
        map_points_json=json.dumps(points),
        map_pairs_json=json.dumps([p for p in [place_pair(evidence, reader)] if p]),
        place_pair=place_pair(evidence, reader),
        tile_url=settings.CASEFILE_MAP_TILE_URL,
        attribution=settings.CASEFILE_MAP_ATTRIBUTION,
        similar=similar,
        provenance=[
            {
                "source_name": reader.source_name(p.source),
                "by": p.received_by.username,
                "at": p.received_at,
                "original_name": p.original_name,
            }
            for p in evidence.provenances.all()
        ],
        links=links,
        assignee=assignee_of(evidence),
        members=[m.user.username for m in members_of(case=case)],
        history=history[:HISTORY_SHOWN],
        history_earlier=max(0, len(history) - HISTORY_SHOWN),
        comments=comments_on(evidence=evidence),
        comment_form=forms.CommentForm(),
        exif=photo.exif if (photo is not None and reader.reveal) else None,
        other_photos=evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .exclude(pk=evidence.pk)[:50],
        can_retry=(photo or video) is not None
        and ((photo or video).status == Photo.Status.FAILED or polling["late"]),
        in_videos=[
            {"m": m, "e": m.keyframe.video.evidence, "timecode": timecode(m.keyframe.time)}
            for m in keyframe_matches
        ],
        **video_extra,
        **polling,
        **(capture_panel(request, evidence) if evidence.kind == Evidence.Kind.LINK else {}),
        **text_context(evidence, reader),
    )
    return render(request, "web/evidence_detail.html", ctx)


@login_required
@require_GET
def photo_derivative(request, evidence_id, which):
    """A thumbnail or preview, to members only: derivatives never sit at a public URL."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    photo = evidence.photo_or_none
    field = getattr(photo, which, None) if photo is not None else None
    if not field or not field.name or not default_storage.exists(field.name):
        raise Http404("Not processed yet.")
    content_type = mimetypes.guess_type(field.name)[0] or "image/jpeg"
    return download_response(
        default_storage.open(field.name, "rb"),
        content_type=content_type,
        filename=f"{which}-{photo.pk}",
        as_attachment=False,
    )


@login_required
@require_GET
def evidence_original(request, evidence_id):
    """The original file, as an attachment, to editors and owners; every download is recorded."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    original = original_download(actor=request.user, evidence=evidence, via="page")
    response = download_response(
        original.file,
        as_attachment=True,
        filename=original.filename,
        content_type=original.content_type,
    )
    response["X-Content-SHA256"] = original.sha256
    return response


@login_required
@require_POST
def photo_retry(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    require(request.user, evidence.case, "evidence.reprocess")
    reprocess = (
        video_services.video_reprocess
        if evidence.kind == Evidence.Kind.VIDEO
        else photo_services.photo_reprocess
    )
    attempt(
        request,
        lambda: reprocess(actor=request.user, evidence=evidence),
        "Queued for processing again.",
    )
    return redirect("web:evidence_detail", evidence_id=evidence.pk)


@login_required
@require_POST
def evidence_bulk(request, case_id):
    """Apply the bulk edit form to the items ticked in the gallery."""
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "evidence.edit")
    reader = reader_for(request, case, via="page")
    form = forms.BulkEditForm(request.POST, reader=reader)
    selected = request.POST.getlist("evidence")
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    elif not all(pk.isdigit() for pk in selected):
        messages.error(request, "The selection names something that is not an item.")
    elif not form.changes():
        messages.error(request, "Fill in at least one field to change.")
    else:
        attempt(
            request,
            lambda: evidence_services.evidence_bulk_update(
                actor=request.user,
                case=case,
                evidence_ids=[int(pk) for pk in selected],
                **form.changes(),
            ),
            lambda done: f"{len(done)} item{'s' if len(done) != 1 else ''} changed.",
        )
    return redirect("web:evidence_gallery", case_id=case.pk)


@login_required
@require_POST
def evidence_use_camera(request, evidence_id):
    """State the photo's date and place as its camera recorded them (one click)."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    require(request.user, evidence.case, "evidence.edit")
    attempt(
        request,
        lambda: evidence_services.evidence_stated_from_camera(
            actor=request.user, evidence=evidence
        ),
        "The camera’s date and GPS position are now the stated date and place.",
    )
    return redirect("web:evidence_detail", evidence_id=evidence.pk)


@login_required
@require_POST
def evidence_comment(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    comment_post(request, evidence.case, evidence=evidence)
    return redirect(reverse("web:evidence_detail", args=[evidence.pk]) + "#comments")
