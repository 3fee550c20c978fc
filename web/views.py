"""The HTML pages. Every view reaches its case through `cases.selectors` (404 to non-members),
hands every write to a service (which checks the role again) and renders.

A write view also refuses early, with `cases.policy.require`, a member whose role cannot make
the change, so a page never offers a form that can only fail; the services stay the authority.
Templates ask the same policy through `can` (`{% if can.evidence.add %}`), never a role.
"""

import json
import mimetypes
import re
from collections import Counter
from datetime import UTC, timedelta
from datetime import timezone as dt_timezone
from itertools import groupby
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import services as case_services
from cases.models import Activity, Case, Claim, Membership, Role
from cases.policy import Allowed, can, cases_where, require, role_of
from cases.selectors import (
    activity_of,
    can_review_claim,
    can_see_protected,
    case_for_user,
    cases_visible_to,
    claim_for_user,
    claims_of,
    get_for_member,
    members_of,
)
from evidence.imaging.hashes import hamming
from evidence.models import Evidence, EvidenceLink, Photo, Source
from evidence.reader import (
    activity_rows,
    identity_reveal_record,
    location_hidden,
    place_matches,
)
from evidence.selectors import (
    comment_for_user,
    comments_on,
    evidence_for_user,
    evidence_of,
    link_for_user,
    links_of,
    similar_photos,
    source_for_user,
    sources_of,
)
from evidence.services import comments as comment_services
from evidence.services import evidence as evidence_services
from evidence.services import links as link_services
from evidence.services import photos as photo_services
from evidence.services import sources as source_services
from evidence.services.custody import original_download
from web import forms
from web.custody import custody_history
from web.feedback import attempt

CLAIM_COLUMNS = [
    ("draft", "Draft"),
    ("in_review", "In review"),
    ("supported", "Supported"),
    ("contradicted", "Contradicted"),
    ("unverified", "Unverified"),
]
DOCUMENT_LABELS = {
    "application/pdf": "PDF",
    "text/plain": "Text",
    "application/rtf": "RTF",
    "application/msword": "Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.ms-excel": "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.ms-powerpoint": "PowerPoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "OpenDocument",
    "application/vnd.oasis.opendocument.spreadsheet": "OpenDocument",
}
# How often a photo still being processed (its card, its page) asks for its status (htmx
# polling): every POLL_SECONDS at first, then less and less often, up to POLL_MAX_SECONDS, as
# the wait grows (a tenth of the time waited so far).
POLL_SECONDS = 2
POLL_MAX_SECONDS = 30
# htmx stops polling an element whose request is answered with this status (and still swaps
# the answer in): what a poll of deleted evidence gets, with the tombstone to show.
STOP_POLLING = 286
# The photo page's History panel shows the newest events of the custody record.
HISTORY_SHOWN = 12


# --- Helpers --------------------------------------------------------------------------------


def _case_context(request, case: Case, **extra) -> dict:
    """What every page of a case needs to decide which controls to show."""
    role = role_of(user=request.user, case=case)
    if role is None:  # the selectors already answered 404; this is belt and braces
        raise Http404("No such case.")
    context = {
        "case": case,
        "role": role,
        "can": Allowed(request.user, case),
        "reveal": can_see_protected(user=request.user, case=case),
    }
    context.update(extra)
    return context


def _record_reveal(request, reveal: bool, sources) -> None:
    """A page that names protected sources leaves a custody row for each (the rule and its
    de-duplication live in `evidence.custody`, shared with the API)."""
    if reveal:
        identity_reveal_record(actor=request.user, sources=list(sources), via="page")


def _source_name(source: Source | None, reveal: bool) -> str:
    if source is None:
        return ""
    return source.display_name(reveal=reveal)


def _exact_location_visible(evidence: Evidence, reveal: bool) -> bool:
    """A protected source's evidence keeps its exact place (stated or from the camera's GPS)
    from those below editor; the rule lives in `evidence.custody`, shared with the API."""
    return not location_hidden(evidence, reveal=reveal)


def _photo(evidence: Evidence) -> Photo | None:
    if evidence.kind != Evidence.Kind.PHOTO:
        return None
    try:
        return evidence.photo
    except Photo.DoesNotExist:
        return None


def _hamming(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else hamming(a, b)


def _waiting(photo: Photo | None) -> float | None:
    """Seconds a photo has been waiting for processing to end (None once ready or failed)."""
    if photo is None or photo.status not in (Photo.Status.PENDING, Photo.Status.PROCESSING):
        return None
    return (timezone.now() - photo.status_changed_at).total_seconds()


def _polling(photo: Photo | None) -> dict:
    """Whether a photo's status is still worth asking for, how often, and whether it is late:
    waiting longer than a task may run, the same test by which `photo_reprocess` lets a
    reporter queue it again (Celery beat also re-queues it every few minutes)."""
    waited = _waiting(photo)
    if waited is None:
        return {"polling": False, "poll_seconds": None, "late": False}
    return {
        "polling": True,
        "poll_seconds": int(min(POLL_MAX_SECONDS, max(POLL_SECONDS, waited / 10))),
        "late": waited > settings.CASEFILE_STALE_AFTER_SECONDS,
    }


def _card_context(evidence: Evidence, reveal: bool) -> dict:
    photo = _photo(evidence)
    return {
        "e": evidence,
        "photo": photo,
        "host": urlsplit(evidence.url).hostname if evidence.url else "",
        "doc_type": DOCUMENT_LABELS.get(evidence.content_type, ""),
        "source_name": _source_name(evidence.source, reveal),
        **_polling(photo),
    }


def _gone(request, evidence: Evidence, template: str, context: dict):
    """What a request for deleted evidence gets: its tombstone. To an htmx poll, with the status
    that stops the polling; to anyone else, 410 Gone."""
    status = STOP_POLLING if request.headers.get("HX-Request") else 410
    return render(request, template, {"e": evidence, **context}, status=status)


# --- Cases ----------------------------------------------------------------------------------


def _count_of(model):
    """How many rows of `model` belong to the outer case (a subquery: the case list is already
    filtered through memberships, so a join would count the wrong rows)."""
    rows = model.objects.filter(case=OuterRef("pk")).order_by().values("case")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), 0)


@login_required
@require_GET
def case_list(request):
    latest = Activity.objects.filter(case=OuterRef("pk")).order_by("-id")
    cases = (
        cases_visible_to(request.user)
        .annotate(
            claim_count=_count_of(Claim),
            evidence_count=_count_of(Evidence),
            source_count=_count_of(Source),
            member_count=_count_of(Membership),
            last_activity_at=Subquery(latest.values("created_at")[:1]),
            last_activity_id=Subquery(latest.values("id")[:1]),
        )
        .order_by("-last_activity_at", "-id")
    )
    roles = dict(Membership.objects.filter(user=request.user).values_list("case_id", "role"))
    rows = [(case, Role(roles[case.pk])) for case in cases]
    # Each case's latest row, as its reader may see it (two queries per kind of reader).
    latest_rows = Activity.objects.select_related("actor").in_bulk(
        [case.last_activity_id for case, _ in rows if case.last_activity_id]
    )
    for reveal in (False, True):
        shown = activity_rows(
            [
                latest_rows[case.last_activity_id]
                for case, role in rows
                if case.last_activity_id in latest_rows
                and can(role, case, "identity.see") == reveal
            ],
            reveal=reveal,
        )
        for row in shown:
            latest_rows[row.pk] = row
    for case, _ in rows:
        case.last_activity = latest_rows.get(case.last_activity_id)
    return render(request, "web/case_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request):
    form = forms.CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            case = case_services.case_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, f"Case “{case.title}” created. You are its owner.")
            return redirect("web:case_dashboard", case_id=case.pk)
    return render(request, "web/case_new.html", {"form": form})


def _activity_with_links(case: Case, rows) -> list[Activity]:
    """Names what each link row joined ("linked <evidence> to <claim>"), from the ids the row
    recorded, in two queries for the whole list. An item deleted since keeps the plain verb."""
    rows = list(rows)
    linked = [
        a for a in rows if a.verb in ("link.created", "link.removed") and isinstance(a.data, dict)
    ]
    if not linked:
        return rows
    claims = dict(
        claims_of(case=case)
        .filter(pk__in={a.data.get("claim") for a in linked})
        .values_list("pk", "statement")
    )
    evidence = {
        row["pk"]: Evidence.label_of(**row)
        for row in evidence_of(case=case)
        .filter(pk__in={a.data.get("evidence") for a in linked})
        .values("pk", "kind", "title", "original_name", "url", "text")
    }
    for a in linked:
        claim_id, evidence_id = a.data.get("claim"), a.data.get("evidence")
        if claim_id in claims and evidence_id in evidence:
            a.link_claim_id = claim_id
            a.link_claim = claims[claim_id]
            a.link_evidence = evidence[evidence_id]
    return rows


@login_required
@require_GET
def case_dashboard(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    claims = claims_of(case=case)
    by_status = Counter(claims.values_list("status", flat=True))
    columns = [(key, label, by_status.get(key, 0)) for key, label in CLAIM_COLUMNS]
    unfinished = (
        evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .exclude(photo__status=Photo.Status.READY)
    )
    counts = {
        "evidence": evidence_of(case=case).count(),
        "photos": evidence_of(case=case).filter(kind=Evidence.Kind.PHOTO).count(),
        "sources": case.sources.count(),
        "claims": sum(by_status.values()),
    }
    ctx = _case_context(
        request,
        case,
        columns=columns,
        recent_claims=claims.order_by("-updated_at")[:6],
        unfinished=[_card_context(e, False) for e in unfinished[:12]],
        activity=_activity_with_links(
            case,
            activity_rows(
                activity_of(case=case)[:15],
                reveal=can_see_protected(user=request.user, case=case),
                actor=request.user,
                via="page",
            ),
        ),
        members=members_of(case=case),
        counts=counts,
        add_form=forms.MemberAddForm(),
        roles=Role.choices,
    )
    return render(request, "web/case_dashboard.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    # The page opens in a closed case too: its owner reopens it here.
    require(request.user, case, "case.update", changes_case=False)
    form_class = forms.CaseEditForm if can(request.user, case, "case.status") else forms.CaseForm
    initial = {"title": case.title, "summary": case.summary, "status": case.status}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case_services.case_update(actor=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Case saved.")
            return redirect("web:case_dashboard", case_id=case.pk)
    return render(request, "web/case_edit.html", _case_context(request, case, form=form))


def _membership(request, case: Case, membership_id) -> Membership:
    return get_for_member(
        Membership.objects.select_related("user", "case").filter(case=case),
        user=request.user,
        pk=membership_id,
    )


# The member forms sit at the foot of the dashboard and send the owner back to them (#members):
# what they answer is shown in that panel, where the owner is looking, not at the page's top.
MEMBERS_PANEL = "members"


@login_required
@require_POST
def member_add(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    form = forms.MemberAddForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            lambda: case_services.membership_add(
                actor=request.user,
                case=case,
                user=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
            ),
            lambda m: f"{m.user.username} added as {m.get_role_display()}.",
            tags=MEMBERS_PANEL,
        )
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message, extra_tags=MEMBERS_PANEL)
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")


@login_required
@require_POST
def member_change(request, case_id, membership_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    membership = _membership(request, case, membership_id)
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.", extra_tags=MEMBERS_PANEL)
    else:
        attempt(
            request,
            lambda: case_services.membership_change(
                actor=request.user, membership=membership, role=form.cleaned_data["role"]
            ),
            lambda m: f"{m.user.username} is now {m.get_role_display()}.",
            tags=MEMBERS_PANEL,
        )
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")


@login_required
@require_POST
def member_remove(request, case_id, membership_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "member.manage")
    membership = _membership(request, case, membership_id)
    attempt(
        request,
        lambda: case_services.membership_remove(actor=request.user, membership=membership),
        f"{membership.user.username} removed from the case.",
        tags=MEMBERS_PANEL,
    )
    return redirect(reverse("web:case_dashboard", args=[case.pk]) + "#members")


# --- Evidence -------------------------------------------------------------------------------


@login_required
@require_GET
def evidence_gallery(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
    filters = forms.GalleryFilterForm(request.GET or None, case=case, reveal=reveal)
    items = evidence_of(case=case)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"]
            items = items.filter(
                Q(title__icontains=q)
                | Q(description__icontains=q)
                | Q(original_name__icontains=q)
                | place_matches(q, reveal=reveal)
                | Q(url__icontains=q)
                | Q(text__icontains=q)
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
    _record_reveal(request, reveal, [e.source for e in page.object_list])
    query = request.GET.copy()
    query.pop("page", None)
    ctx = _case_context(
        request,
        case,
        filters=filters,
        page=page,
        query=query.urlencode(),
        cards=[_card_context(e, reveal) for e in page.object_list],
        upload_form=forms.UploadForm(case=case, reveal=reveal, auto_id="upload_%s"),
        max_upload_bytes=settings.CASEFILE_MAX_UPLOAD_BYTES,
        filtered=bool(
            request.GET.get("q")
            or any(request.GET.get(k) for k in ("kind", "status", "source", "flagged"))
        ),
    )
    return render(request, "web/evidence_gallery.html", ctx)


# How an upload's refusal reads over HTTP, by the service's error code.
UPLOAD_ERROR_STATUS = {
    "file_too_large": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
}


@login_required
@require_POST
def evidence_upload(request, case_id):
    """One file per request, so that the page can show a progress bar per file."""
    case = case_for_user(user=request.user, case_id=case_id)
    try:
        require(request.user, case, "evidence.add")
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    reveal = can_see_protected(user=request.user, case=case)
    form = forms.UploadForm(request.POST, request.FILES, case=case, reveal=reveal)
    if not form.is_valid():
        message = "; ".join(m for errors in form.errors.values() for m in errors)
        return JsonResponse({"error": message or "Choose a file."}, status=400)
    upload = form.cleaned_data["file"]
    try:
        # No kind is asked for: the service tells a photo from a document by the bytes.
        evidence, created = evidence_services.evidence_ingest(
            actor=request.user, case=case, file=upload, source=form.cleaned_data["source"]
        )
    except ValidationError as exc:
        status = UPLOAD_ERROR_STATUS.get(getattr(exc, "code", None), 400)
        return JsonResponse({"error": " ".join(exc.messages)}, status=status)
    evidence = evidence_for_user(user=request.user, evidence_id=evidence.pk)
    html = render_to_string(
        "web/partials/evidence_card.html", _card_context(evidence, reveal), request=request
    )
    return JsonResponse(
        {
            "id": evidence.pk,
            "created": created,
            "html": html,
            "message": (
                "Already in this case: the existing copy is shown."
                if not created
                # Only a photo goes on to be processed; a document is done once it is stored.
                else "Uploaded — processing"
                if evidence.kind == Evidence.Kind.PHOTO
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
        return _gone(request, evidence, "web/partials/evidence_card_removed.html", {})
    reveal = can_see_protected(user=request.user, case=evidence.case)
    _record_reveal(request, reveal, [evidence.source])
    return render(request, "web/partials/evidence_card.html", _card_context(evidence, reveal))


@login_required
@require_http_methods(["GET", "POST"])
def evidence_new(request, case_id, kind):
    case = case_for_user(user=request.user, case_id=case_id)
    form_classes = {"link": forms.LinkEvidenceForm, "testimony": forms.TestimonyForm}
    if kind not in form_classes:
        raise Http404("No such kind of evidence.")
    require(request.user, case, "evidence.add")
    reveal = can_see_protected(user=request.user, case=case)
    form = form_classes[kind](request.POST or None, case=case, reveal=reveal)
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
        _case_context(request, case, form=form, kind=kind, title=title),
    )


@login_required
@require_http_methods(["GET", "POST"])
def evidence_edit(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    case = evidence.case
    require(request.user, case, "evidence.edit")
    reveal = can_see_protected(user=request.user, case=case)
    form = forms.EvidenceEditForm(
        request.POST or None,
        case=case,
        reveal=reveal,
        place_hidden=not _exact_location_visible(evidence, reveal),
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
        request, "web/evidence_edit.html", _case_context(request, case, form=form, e=evidence)
    )


def _camera_zone(photo: Photo | None):
    """The UTC offset the camera recorded, as a tzinfo, or None."""
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", (photo.taken_at_offset if photo else "") or "")
    if not match:
        return None
    sign = -1 if match[1] == "-" else 1
    return dt_timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def _when(moment, zone, *, seconds: bool = False) -> str:
    """A moment as a reporter reads it: in the camera's offset when there is one, else in the
    reader's time zone (web.middleware; UTC by default), named."""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if zone is None:
        name = timezone.get_current_timezone_name()
        if name == "UTC":
            return f"{moment.astimezone(UTC):{pattern}} UTC"
        return f"{timezone.localtime(moment):{pattern}} ({name})"
    local = moment.astimezone(zone)
    offset = local.strftime("%z")  # "+0800"
    return f"{local:{pattern}} (UTC{offset[:3]}:{offset[3:]})"


def _local_taken_at(photo: Photo) -> str:
    """The date taken as the camera's clock showed it, with the UTC offset it recorded."""
    zone = _camera_zone(photo)
    if zone is None:
        # No offset recorded: taken_at holds the camera's local time read as UTC.
        return f"{photo.taken_at:%Y-%m-%d %H:%M:%S} (no UTC offset recorded)"
    return _when(photo.taken_at, zone, seconds=True)


def _camera(photo: Photo) -> str | None:
    make, model = photo.camera_make.strip(), photo.camera_model.strip()
    if make and model.lower().startswith(make.lower()):
        return model  # "Canon" + "Canon EOS 5D Mark IV"
    return " ".join(x for x in (make, model) if x) or None


def _stated_place(evidence: Evidence, exact: bool) -> str | None:
    """The stated place, unless it is a protected source's (hidden below editor, like the
    coordinates: a place names where the source was)."""
    if not evidence.place_name:
        return None
    return evidence.place_name if exact else "Recorded (hidden: the source is protected)"


def _metadata_rows(evidence: Evidence, photo: Photo | None, exact: bool) -> list[tuple]:
    """The photo's metadata as label/value rows, in an order shared with the compare page."""
    zone = _camera_zone(photo)
    observed = _when(evidence.observed_at, zone) if evidence.observed_at else None
    rows = [
        ("Observed (stated)", observed),
        ("Place (stated)", _stated_place(evidence, exact)),
    ]
    if photo is None:
        return rows
    taken = None
    if photo.taken_at:
        taken = _local_taken_at(photo)
    camera = _camera(photo)
    gps = None
    if photo.gps_latitude is not None and photo.gps_longitude is not None:
        gps = (
            f"{photo.gps_latitude:.5f}, {photo.gps_longitude:.5f}"
            if exact
            else "Recorded (hidden: the source is protected)"
        )
        if exact and photo.gps_altitude is not None:
            gps += f" · {photo.gps_altitude:.0f} m"
    dims = f"{photo.width} × {photo.height} px" if photo.width and photo.height else None
    rows += [
        ("Date taken (EXIF)", taken),
        ("Camera", camera),
        ("Lens", photo.lens or None),
        ("GPS (EXIF)", gps),
        ("Software", photo.software or None),
        ("Dimensions", dims),
        ("Orientation", photo.orientation),
    ]
    return rows


@login_required
@require_GET
def evidence_detail(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id, include_deleted=True)
    case = evidence.case
    if evidence.is_deleted:  # an old link, or the page polling while an editor deleted it
        return _gone(request, evidence, "web/evidence_removed.html", _case_context(request, case))
    reveal = can_see_protected(user=request.user, case=case)
    if reveal:  # the page names a protected source: recorded (issue #6)
        identity_reveal_record(actor=request.user, sources=[evidence.source], via="page")
    photo = _photo(evidence)
    exact = _exact_location_visible(evidence, reveal)
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
                    "cross_source": match.cross_source,
                    "source_name": _source_name(other.evidence.source, reveal),
                }
            )
    _record_reveal(request, reveal, [s["e"].source for s in similar])
    links = evidence.links.select_related("claim").order_by("claim__created_at")
    # One history of the item: its custody record (which holds every activity row about it and
    # more: links, comments, exports, reveals), newest first.
    history = custody_history(evidence=evidence, reveal=reveal)[::-1]
    polling = _polling(photo)
    ctx = _case_context(
        request,
        case,
        e=evidence,
        photo=photo,
        source_name=_source_name(evidence.source, reveal),
        rows=_metadata_rows(evidence, photo, exact),
        flags=list(photo.flags.all()) if photo else [],
        map_points=points,
        # In an attribute, not a <script> data block: htmx drops script elements it swaps in.
        map_points_json=json.dumps(points),
        tile_url=settings.CASEFILE_MAP_TILE_URL,
        attribution=settings.CASEFILE_MAP_ATTRIBUTION,
        similar=similar,
        links=links,
        history=history[:HISTORY_SHOWN],
        history_earlier=max(0, len(history) - HISTORY_SHOWN),
        comments=comments_on(evidence=evidence),
        comment_form=forms.CommentForm(),
        exif=photo.exif if (photo is not None and reveal) else None,
        other_photos=evidence_of(case=case)
        .filter(kind=Evidence.Kind.PHOTO)
        .exclude(pk=evidence.pk)[:50],
        can_retry=photo is not None and (photo.status == Photo.Status.FAILED or polling["late"]),
        **polling,
    )
    return render(request, "web/evidence_detail.html", ctx)


@login_required
@require_GET
def photo_derivative(request, evidence_id, which):
    """A thumbnail or preview, to members only: derivatives never sit at a public URL."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    photo = _photo(evidence)
    field = getattr(photo, which, None) if photo is not None else None
    if not field or not field.name or not default_storage.exists(field.name):
        raise Http404("Not processed yet.")
    content_type = mimetypes.guess_type(field.name)[0] or "image/jpeg"
    response = FileResponse(default_storage.open(field.name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def evidence_original(request, evidence_id):
    """The original file, as an attachment, to editors and owners; every download is recorded."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    original = original_download(actor=request.user, evidence=evidence, via="page")
    response = FileResponse(
        original.file,
        as_attachment=True,
        filename=original.filename,
        content_type=original.content_type,
    )
    # An original keeps its metadata: no cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = original.sha256
    return response


@login_required
@require_POST
def photo_retry(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    require(request.user, evidence.case, "evidence.reprocess")
    attempt(
        request,
        lambda: photo_services.photo_reprocess(actor=request.user, evidence=evidence),
        "Queued for processing again.",
    )
    return redirect("web:evidence_detail", evidence_id=evidence.pk)


@login_required
@require_POST
def evidence_comment(request, evidence_id):
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    _comment_post(request, evidence.case, evidence=evidence)
    return redirect(reverse("web:evidence_detail", args=[evidence.pk]) + "#comments")


def _comment_post(request, case: Case, **target) -> None:
    """Add the posted comment to a claim or a piece of evidence, with a message either way."""
    require(request.user, case, "comment.add")
    form = forms.CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A comment cannot be empty.")
        return
    attempt(
        request,
        lambda: comment_services.comment_create(
            actor=request.user, text=form.cleaned_data["text"], **target
        ),
    )


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
    _record_reveal(request, reveal, [x.source for x in (a, b) if x is not None])
    if a is not None and b is not None:
        pa, pb = _photo(a), _photo(b)
        ra = _metadata_rows(a, pa, _exact_location_visible(a, reveal))
        rb = _metadata_rows(b, pb, _exact_location_visible(b, reveal))
        rows = [
            ("Title", a.label, b.label),
            ("Source", _source_name(a.source, reveal), _source_name(b.source, reveal)),
        ]
        rows += [(label, va, vb) for (label, va), (_, vb) in zip(ra, rb, strict=True)]
        rows.append(("SHA-256", a.sha256, b.sha256))
        if pa is not None and pb is not None:
            distances = {
                "phash": _hamming(pa.phash, pb.phash),
                "dhash": _hamming(pa.dhash, pb.dhash),
            }
    ctx = _case_context(
        request,
        case,
        photos=photos,
        a=a,
        b=b,
        pa=_photo(a) if a else None,
        pb=_photo(b) if b else None,
        rows=rows,
        distances=distances,
    )
    return render(request, "web/photo_compare.html", ctx)


# --- Claims ---------------------------------------------------------------------------------


@login_required
@require_GET
def claim_board(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    claims = claims_of(case=case).annotate(
        supports=Count("links", filter=Q(links__stance="supports")),
        contradicts=Count("links", filter=Q(links__stance="contradicts")),
    )
    by_status = {key: [] for key, _ in CLAIM_COLUMNS}
    for claim in claims:
        by_status[claim.status].append(claim)
    columns = [(key, label, by_status[key]) for key, label in CLAIM_COLUMNS]
    return render(request, "web/claim_board.html", _case_context(request, case, columns=columns))


@login_required
@require_http_methods(["GET", "POST"])
def claim_new(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    require(request.user, case, "claim.add")
    form = forms.ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claim = case_services.claim_create(actor=request.user, case=case, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Claim written as a draft. Link its evidence next.")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return render(request, "web/claim_form.html", _case_context(request, case, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def claim_edit(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    case = claim.case
    require(request.user, case, "claim.edit")
    initial = {"statement": claim.statement, "details": claim.details}
    initial["occurred_on"] = claim.occurred_on
    form = forms.ClaimForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case_services.claim_update(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Claim saved.")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return render(
        request, "web/claim_form.html", _case_context(request, case, form=form, claim=claim)
    )


def _link_options(claim: Claim, q: str, reveal: bool) -> list[dict]:
    items = evidence_of(case=claim.case).exclude(links__claim=claim)
    if q:
        items = items.filter(
            Q(title__icontains=q)
            | Q(original_name__icontains=q)
            | place_matches(q, reveal=reveal)
            | Q(url__icontains=q)
            | Q(text__icontains=q)
            | Q(description__icontains=q)
        )
    return [_card_context(e, reveal) for e in items[:30]]


def _claim_page(request, claim: Claim, *, link_form=None, review_form=None, status=200):
    case = claim.case
    reveal = can_see_protected(user=request.user, case=case)
    grouped = links_of(claim=claim)
    for links in grouped.values():
        for link in links:
            link.source_name = _source_name(link.evidence.source, reveal)
            link.photo = _photo(link.evidence)
    options = _link_options(claim, "", reveal)
    shown = [link.evidence.source for links in grouped.values() for link in links]
    _record_reveal(request, reveal, shown + [o["e"].source for o in options])
    ctx = _case_context(
        request,
        case,
        claim=claim,
        supports=grouped["supports"],
        contradicts=grouped["contradicts"],
        context_links=grouped["context"],
        link_form=link_form or forms.ClaimLinkForm(claim=claim, auto_id="link_%s"),
        options=options,
        review_form=review_form or forms.ReviewForm(auto_id="review_%s"),
        can_review=can_review_claim(user=request.user, claim=claim)
        and claim.status == Claim.Status.IN_REVIEW,
        is_author=claim.author_id == request.user.pk,
        history=claim.transitions.select_related("actor").order_by("created_at", "id"),
        comments=comments_on(claim=claim),
        comment_form=forms.CommentForm(),
    )
    return render(request, "web/claim_detail.html", ctx, status=status)


@login_required
@require_GET
def claim_detail(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    return _claim_page(request, claim)


@login_required
@require_GET
def claim_link_options(request, claim_id):
    """htmx partial: the evidence that can still be linked, filtered by the search box."""
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    reveal = can_see_protected(user=request.user, case=claim.case)
    q = request.GET.get("q", "").strip()[:200]
    options = _link_options(claim, q, reveal)
    _record_reveal(request, reveal, [o["e"].source for o in options])
    return render(request, "web/partials/link_options.html", {"options": options, "q": q})


@login_required
@require_POST
def claim_link(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "link.add")
    form = forms.ClaimLinkForm(request.POST, claim=claim, auto_id="link_%s")
    if form.is_valid():
        was = claim.status
        try:
            link_services.evidence_link(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            stance = dict(EvidenceLink.Stance.choices)[form.cleaned_data["stance"]]
            messages.success(request, f"Linked: {form.cleaned_data['evidence'].label} ({stance}).")
            _say_if_reopened(request, claim, was)
            return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#evidence")
    return _claim_page(request, claim, link_form=form, status=400)


@login_required
@require_POST
def link_remove(request, link_id):
    link = link_for_user(user=request.user, link_id=link_id)
    claim = link.claim
    require(request.user, claim.case, "link.remove")
    was = claim.status
    link_services.link_remove(actor=request.user, link=link)
    messages.success(request, "Link removed.")
    _say_if_reopened(request, claim, was)
    return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#evidence")


def _say_if_reopened(request, claim: Claim, was: str) -> None:
    """Tell whoever changed a decided claim's evidence that the claim is back in review (the
    service moved it, and updated `claim` in place)."""
    if was in Claim.DECIDED and claim.status == Claim.Status.IN_REVIEW:
        messages.warning(
            request,
            f"The claim was {Claim.Status(was).label.lower()}; it is back in review because "
            "its evidence changed.",
        )


@login_required
@require_POST
def claim_submit(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "claim.submit")
    form = forms.SubmitForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    attempt(
        request,
        lambda: case_services.claim_submit(actor=request.user, claim=claim, note=note),
        "Submitted for review. An editor who did not write it decides.",
    )
    return redirect("web:claim_detail", claim_id=claim.pk)


@login_required
@require_POST
def claim_review(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    require(request.user, claim.case, "claim.review")
    if claim.author_id == request.user.pk:
        # The service refuses it too; say so before looking at the form.
        raise PermissionDenied("You wrote this claim: another editor must review it.")
    form = forms.ReviewForm(request.POST, auto_id="review_%s")
    if form.is_valid():
        try:
            case_services.claim_review(actor=request.user, claim=claim, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, f"Claim marked {claim.get_status_display().lower()}.")
            return redirect("web:claim_detail", claim_id=claim.pk)
    return _claim_page(request, claim, review_form=form, status=400)


@login_required
@require_POST
def claim_comment(request, claim_id):
    claim = claim_for_user(user=request.user, claim_id=claim_id)
    _comment_post(request, claim.case, claim=claim)
    return redirect(reverse("web:claim_detail", args=[claim.pk]) + "#comments")


@login_required
@require_POST
def comment_edit(request, comment_id):
    comment = comment_for_user(user=request.user, comment_id=comment_id)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            lambda: comment_services.comment_edit(
                actor=request.user, comment=comment, text=form.cleaned_data["text"]
            ),
        )
    else:
        messages.error(request, "A comment cannot be empty.")
    if comment.claim_id:
        return redirect(reverse("web:claim_detail", args=[comment.claim_id]) + "#comments")
    return redirect(reverse("web:evidence_detail", args=[comment.evidence_id]) + "#comments")


# --- Sources --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def source_list(request, case_id):
    case = case_for_user(user=request.user, case_id=case_id)
    reveal = can_see_protected(user=request.user, case=case)
    form = forms.SourceForm(request.POST or None)
    if request.method == "POST":
        require(request.user, case, "source.add")
        if form.is_valid():
            try:
                source = source_services.source_create(
                    actor=request.user, case=case, **form.cleaned_data
                )
            except ValidationError as exc:
                forms.add_service_errors(form, exc)
            else:
                messages.success(request, f"Source “{source}” added.")
                return redirect("web:source_list", case_id=case.pk)
    sources = sources_of(case=case).annotate(evidence_count=Count("evidence"))
    rows = [
        {
            "source": s,
            "name": s.display_name(reveal=reveal),
            "show_identity": reveal or not s.protected,
        }
        for s in sources
    ]
    if reveal:  # the list names protected sources: recorded (issue #6)
        identity_reveal_record(actor=request.user, sources=[r["source"] for r in rows], via="page")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/source_list.html",
        _case_context(request, case, rows=rows, form=form),
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def source_edit(request, source_id):
    source = source_for_user(user=request.user, source_id=source_id)
    case = source.case
    require(request.user, case, "source.edit")
    reveal = can_see_protected(user=request.user, case=case)
    full = reveal or not source.protected
    if reveal:
        identity_reveal_record(actor=request.user, sources=[source], via="page")
    form_class = forms.SourceForm if full else forms.SourceSafeForm
    initial = {f: getattr(source, f) for f in form_class.base_fields}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            source_services.source_update(actor=request.user, source=source, **form.cleaned_data)
        except ValidationError as exc:
            forms.add_service_errors(form, exc)
        else:
            messages.success(request, "Source saved.")
            return redirect("web:source_list", case_id=case.pk)
    ctx = _case_context(
        request, case, form=form, source=source, name=source.display_name(reveal=reveal)
    )
    return render(request, "web/source_edit.html", ctx)


# --- Timeline, map, search ------------------------------------------------------------------


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
                "time_label": _when(e.observed_at, _camera_zone(_photo(e)))
                if e.observed_at
                else "",
                "type": e.kind,
                "type_label": e.get_kind_display(),
                "label": e.label,
                "url": reverse("web:evidence_detail", args=[e.pk]),
                "source_name": _source_name(e.source, reveal),
                "place": e.place_name if _exact_location_visible(e, reveal) else "",
                "card": _card_context(e, reveal),
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
    _record_reveal(request, reveal, [x["card"]["e"].source for x in entries if "card" in x])
    days = [(day, list(items)) for day, items in groupby(entries, key=lambda x: x["date"])]
    undated = evidence_of(case=case).filter(observed_at__isnull=True, stated_on__isnull=True)
    return render(
        request,
        "web/timeline.html",
        _case_context(request, case, days=days, undated_count=undated.count()),
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
            "source": _source_name(e.source, reveal),
        }
        if e.latitude is not None or _photo(e) is not None:
            shown.append(e.source)
        if e.latitude is not None and _exact_location_visible(e, reveal):
            points.append(
                {
                    **base,
                    "lat": e.latitude,
                    "lon": e.longitude,
                    "place": e.place_name,
                    "exif": False,
                }
            )
        photo = _photo(e)
        if (
            photo is not None
            and photo.gps_latitude is not None
            and _exact_location_visible(e, reveal)
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
    _record_reveal(request, reveal, shown)
    ctx = _case_context(
        request,
        case,
        points=points,
        points_json=json.dumps(points),
        tile_url=settings.CASEFILE_MAP_TILE_URL,
        attribution=settings.CASEFILE_MAP_ATTRIBUTION,
    )
    return render(request, "web/case_map.html", ctx)


@login_required
@require_GET
def search(request):
    form = forms.SearchForm(request.GET or None)
    q = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results = {"claims": [], "sources": [], "evidence": []}
    if q:
        cases = cases_visible_to(request.user)
        # Protected identities are searchable only where the user may see them.
        revealing = cases_where(request.user, "identity.see")
        results["claims"] = list(
            Claim.objects.filter(case__in=cases)
            .filter(Q(statement__icontains=q) | Q(details__icontains=q))
            .select_related("case")[:50]
        )
        sources = (
            Source.objects.filter(case__in=cases)
            .filter(
                Q(pseudonym__icontains=q, protected=True)
                | Q(Q(name__icontains=q) | Q(notes__icontains=q), protected=False)
                | Q(Q(name__icontains=q) | Q(notes__icontains=q), case__in=revealing)
            )
            .select_related("case")
        )
        reveal_ids = set(revealing.values_list("case_id", flat=True))
        results["sources"] = [
            (s, s.display_name(reveal=s.case_id in reveal_ids)) for s in sources[:50]
        ]
        # Protected identities named here are recorded, as on every page.
        identity_reveal_record(
            actor=request.user,
            sources=[s for s, _name in results["sources"] if s.case_id in reveal_ids],
            via="page",
        )
        results["evidence"] = list(
            Evidence.objects.filter(case__in=cases, deleted_at__isnull=True)
            .filter(
                Q(title__icontains=q)
                | Q(description__icontains=q)
                | Q(original_name__icontains=q)
                | place_matches(q, revealing=revealing)
                | Q(url__icontains=q)
                | Q(text__icontains=q)
            )
            .select_related("case")
            .order_by("-created_at")[:50]
        )
    total = sum(len(v) for v in results.values())
    return render(
        request, "web/search.html", {"form": form, "q": q, "results": results, "total": total}
    )
