"""A video's files on the HTML door (issue #15): poster, contact sheet and web-playable
preview, each keyframe (thumbnail, and the frame to download), and a keyframe compared with a
photo. To members only, as a photo's derivatives; every file through `download_response`."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from evidence.downloads import download_response
from evidence.imaging.hashes import hamming
from evidence.imaging.video import timecode
from evidence.models import Evidence, VideoKeyframe
from evidence.ranges import ranged_response
from evidence.selectors import evidence_for_user, evidence_of
from evidence.video_files import VIDEO_FILES, keyframe_filename
from evidence.video_selectors import keyframe_of
from web.presenters import metadata_rows
from web.video_presenters import video_rows
from web.views.base import case_context


@login_required
@require_GET
def video_file(request, evidence_id, which):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    video = evidence.video_or_none
    if which not in VIDEO_FILES or video is None:
        raise Http404("No such file of a video.")
    field, content_type = VIDEO_FILES[which]
    stored = getattr(video, field)
    if not stored:
        raise Http404("Not processed yet.")
    if which == "preview":  # the player seeks by asking for byte ranges
        return ranged_response(
            request, stored, content_type=content_type, filename=f"preview-{video.pk}.mp4"
        )
    return download_response(
        stored.open("rb"),
        content_type=content_type,
        filename=f"{which}-{video.pk}{'.mp4' if which == 'preview' else '.jpg'}",
        as_attachment=False,
    )


@login_required
@require_GET
def keyframe_file(request, evidence_id, index, size):
    """A keyframe: `size` "thumbnail" (320 px) or "image" (the frame, at most 1280 px);
    `?download=1` offers the frame as a file, for a reverse image search elsewhere."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    video = evidence.video_or_none
    keyframe = keyframe_of(video=video, index=index) if video is not None else None
    if keyframe is None:
        raise Http404("No such keyframe.")
    return download_response(
        getattr(keyframe, size).open("rb"),
        content_type="image/jpeg",
        filename=keyframe_filename(evidence, keyframe),
        as_attachment=size == "image" and request.GET.get("download") == "1",
    )


def keyframe_compare(request, case, reader):
    """The compare page with a video's keyframe (`?k=<keyframe id>`) on the left and a photo
    of the case (`?b=`) on the right: side by side, the overlay, the hash distances and the
    metadata rows both have."""
    keyframe = (
        VideoKeyframe.objects.filter(
            pk=request.GET.get("k") if str(request.GET.get("k", "")).isdigit() else None,
            video__evidence__case=case,
            video__evidence__deleted_at__isnull=True,
        )
        .select_related("video__evidence__source")
        .first()
    )
    if keyframe is None:
        raise Http404("No such keyframe in this case.")
    video = keyframe.video
    a = video.evidence
    photos = list(
        evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .order_by("observed_at", "created_at", "id")
    )
    by_id = {str(e.pk): e for e in photos}
    b = by_id.get(request.GET.get("b", "")) or (photos[0] if photos else None)
    rows, distances = [], {}
    a_label = f"{a.label} — the frame at {timecode(keyframe.time)}"
    if b is not None:
        pb = b.photo_or_none
        va = dict(video_rows(a, video, reader))
        vb = dict(metadata_rows(b, pb, reader))
        rows = [
            ("Title", a_label, b.label),
            ("Source", reader.source_name(a.source), reader.source_name(b.source)),
            ("Observed (stated)", va.get("Observed (stated)"), vb.get("Observed (stated)")),
            ("Place (stated)", va.get("Place (stated)"), vb.get("Place (stated)")),
            ("Recorded / taken", va.get("Recorded"), vb.get("Date taken")),
            ("Device / camera", va.get("Device"), vb.get("Camera")),
            ("Location in the file", va.get("Recorded at (location tag)"), vb.get("GPS (EXIF)")),
            ("Software", va.get("Software"), vb.get("Software")),
            ("Size", va.get("Frame size"), vb.get("Dimensions")),
            ("SHA-256 (original)", a.sha256, b.sha256),
        ]
        rows = [r for r in rows if r[1] not in (None, "") or r[2] not in (None, "")]
        if pb is not None and pb.phash is not None:
            distances = {
                "phash": hamming(keyframe.phash, pb.phash),
                "dhash": hamming(keyframe.dhash, pb.dhash),
            }
    ctx = case_context(
        request,
        case,
        photos=photos,
        keyframe=keyframe,
        a=a,
        b=b,
        pa=None,
        pb=b.photo_or_none if b else None,
        a_src=reverse("web:video_keyframe", args=[a.pk, keyframe.index]),
        b_src=_photo_src(b),
        a_label=a_label,
        rows=rows,
        distances=distances,
    )
    return render(request, "web/photo_compare.html", ctx)


def _photo_src(evidence) -> str:
    photo = evidence.photo_or_none if evidence is not None else None
    if photo is None or not photo.preview:
        return ""
    return reverse("web:photo_preview", args=[evidence.pk])
