"""A web link's captures on its page (issue #16): capture again, a capture's files, and the
archived HTML, served as a document of its own that can neither run a script nor fetch
anything (a CSP `sandbox` response, shown in a sandboxed frame)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from cases.policy import require
from evidence.downloads import download_response
from evidence.models import Capture, CaptureFile, Evidence
from evidence.selectors import capture_file_of, captures_of, evidence_for_user
from evidence.services.capture_requests import capture_request
from web.feedback import attempt

# The archived page may say anything and ask for anything: here it can do neither. `sandbox`
# without allowances runs no script, submits no form and gives the document an opaque origin
# (no cookies, no storage); `default-src 'none'` lets it load nothing from any server, the
# images it inlines as data: URLs and its own inline styles excepted.
ARCHIVED_HTML_POLICY = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
# Shown in the page (the screenshots); everything else is a download.
INLINE_ROLES = {
    CaptureFile.Role.SCREENSHOT,
    CaptureFile.Role.SCREENSHOT_FULL,
    CaptureFile.Role.SCREENSHOT_PHONE,
}


# While a capture waits or runs, its panel asks for the page again this often.
CAPTURE_POLL_SECONDS = 3


def capture_panel(request, evidence: Evidence) -> dict:
    """What the page of a link shows of its captures: the one asked for (`?capture=`) or the
    latest, its files by role, the evidence made of its images, and every earlier capture."""
    captures = list(captures_of(evidence=evidence))
    if not captures:
        return {"captures": [], "capture": None}
    wanted = request.GET.get("capture", "")
    shown = next((c for c in captures if str(c.pk) == wanted), captures[0])
    files = {row.role: row for row in shown.files.all()}
    media = [
        item
        for item in shown.media.select_related("photo").order_by("id")
        if item.deleted_at is None
    ]
    waiting = captures[0].status in (Capture.Status.PENDING, Capture.Status.RUNNING)
    return {
        "captures": captures,
        "capture": shown,
        "capture_files": files,
        "capture_media": media,
        "capture_polling": waiting,
        "capture_poll_seconds": CAPTURE_POLL_SECONDS,
        "capture_waiting": waiting,
    }


def _link(request, evidence_id) -> Evidence:
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    if evidence.kind != Evidence.Kind.LINK:
        raise Http404("Only web links are captured.")
    return evidence


@login_required
@require_POST
def capture_again(request, evidence_id):
    evidence = _link(request, evidence_id)
    require(request.user, evidence.case, "evidence.capture")
    attempt(
        request,
        lambda: capture_request(actor=request.user, evidence=evidence),
        "Capture queued: the page is captured again, the earlier captures are kept.",
    )
    return redirect("web:evidence_detail", evidence_id=evidence.pk)


@login_required
@require_GET
def capture_file(request, evidence_id, capture_id, name):
    row = capture_file_of(evidence=_link(request, evidence_id), capture_id=capture_id, name=name)
    if row is None:
        raise Http404("No such file in this capture.")
    response = download_response(
        row.file.open("rb"),
        content_type=row.content_type,
        filename=f"capture-{row.capture_id}-{row.name}",
        as_attachment=row.role not in INLINE_ROLES,
    )
    response["X-Content-SHA256"] = row.sha256
    return response


@login_required
@require_GET
@xframe_options_sameorigin
def capture_html(request, evidence_id, capture_id):
    row = capture_file_of(
        evidence=_link(request, evidence_id), capture_id=capture_id, name="page.html"
    )
    if row is None:
        raise Http404("This capture has no HTML.")
    with row.file.open("rb") as handle:
        body = handle.read()
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = ARCHIVED_HTML_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["X-Content-SHA256"] = row.sha256
    return response
