"""Pages of the chain of custody: an item's custody record, deleting evidence (a tombstone)
and purging it, and the case's exports with their progress.

Like the other pages (`web.views.base`): every view reaches its case through the selectors
(404 to non-members), refuses early a role that cannot act, hands the write to a service and
renders.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import signing
from cases.models import Claim
from cases.policy import can, require
from cases.selectors import case_for_user
from evidence import custody
from evidence.downloads import download_response
from evidence.models import Export
from evidence.reader import Reader, reader_for
from evidence.selectors import evidence_for_user, export_for_user, exports_for_user
from evidence.services import custody as custody_services
from evidence.services import exports as export_services
from web.feedback import error_messages
from web.presenters import checkpoint_rows, custody_history
from web.views.base import case_context

# How often the exports panel asks for progress while an export runs (htmx polling).
POLL_SECONDS = 2


@login_required
@require_GET
def evidence_custody(request, evidence_id):
    """The custody record of one item (any member; a deleted item's too)."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id, include_deleted=True)
    case = evidence.case
    reader = reader_for(request, case, via="page")
    record = custody.custody_entries(evidence=evidence, reader=reader)
    context = case_context(
        request,
        case,
        e=evidence,
        source_name=reader.source_name(evidence.source),
        entries=custody_history(evidence=evidence, reader=reader, entries=record),
        checkpoints=checkpoint_rows(evidence=evidence, entries=record),
        key_fingerprint=signing.fingerprint(signing.public_key()),
        trusted_timestamp=custody.custody_timestamp(evidence=evidence),
    )
    return render(request, "exports/evidence_custody.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def evidence_delete(request, evidence_id):
    """Ask for a reason, then delete (editors and owners): the item leaves every list and keeps
    a tombstone; its original is retained until an owner purges it."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id)
    case = evidence.case
    require(request.user, case, "evidence.delete")
    reason = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        # The decided claims that rest on it: the deletion sends them back to review.
        decided = list(
            Claim.objects.filter(links__evidence=evidence, status__in=Claim.DECIDED).order_by("pk")
        )
        try:
            custody_services.evidence_delete(actor=request.user, evidence=evidence, reason=reason)
        except ValidationError as exc:
            error_messages(request, exc)
        else:
            messages.success(
                request,
                f"“{evidence.label}” was deleted. Its tombstone and custody record remain"
                + (
                    ", and its original is retained until an owner purges it."
                    if evidence.original
                    else "."
                ),
            )
            for claim in decided:
                messages.warning(
                    request,
                    f"The claim “{claim.statement[:80]}” was {claim.get_status_display().lower()}; "
                    "it is back in review because its evidence changed.",
                )
            return redirect("web:evidence_gallery", case_id=case.pk)
    # Named by its pseudonym to editors too: the page quotes it beside the reason given.
    hiding = Reader(actor=request.user, case=case, via="page", reveal=False)
    source_name = hiding.source_name(evidence.source)
    return render(
        request,
        "exports/evidence_delete.html",
        case_context(request, case, e=evidence, reason=reason, source_name=source_name),
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def evidence_purge(request, evidence_id):
    """Delete a deleted item's retained original for good (owners)."""
    evidence = evidence_for_user(user=request.user, evidence_id=evidence_id, include_deleted=True)
    require(request.user, evidence.case, "evidence.purge")
    try:
        custody_services.evidence_purge(actor=request.user, evidence=evidence)
    except ValidationError as exc:
        error_messages(request, exc)
    else:
        messages.success(request, "The original was purged; the purge is recorded.")
    return redirect("web:evidence_custody", evidence_id=evidence.pk)


@login_required
@require_http_methods(["GET", "POST"])
def case_exports(request, case_id):
    """The case's exports and a form for a new one (editors and owners). Rendered as a panel
    that the case page loads, and that polls itself while an export runs."""
    case = case_for_user(user=request.user, case_id=case_id)
    if request.method == "POST":
        # An htmx post gets the panel back, which shows the messages tagged with its name;
        # a plain post goes back to the dashboard, which shows the others at its top.
        tags = "exports" if request.headers.get("HX-Request") else ""
        try:
            # Below editor, the service's refusal is the answer (403).
            created = export_services.export_request(
                actor=request.user,
                case=case,
                originals=request.POST.get("originals") == "on",
                reveal_protected=request.POST.get("reveal_protected") == "on",
            )
        except ValidationError as exc:
            error_messages(request, exc, tags=tags)
        else:
            if created.dispatch.sent is False:
                messages.warning(
                    request,
                    "The export is queued, but the task queue cannot be reached just now: "
                    "it will start when the queue is back.",
                    extra_tags=tags,
                )
        if not request.headers.get("HX-Request"):
            return redirect(reverse("web:case_dashboard", kwargs={"case_id": case.pk}) + "#exports")
    if not can(request.user, case, "export.see"):
        return render(request, "exports/partials/exports_panel.html", {"hidden": True})
    items = list(exports_for_user(user=request.user, case=case)[:10])
    running = any(e.status in (Export.Status.QUEUED, Export.Status.RUNNING) for e in items)
    return render(
        request,
        "exports/partials/exports_panel.html",
        case_context(request, case, exports=items, running=running, poll_seconds=POLL_SECONDS),
    )


@login_required
@require_GET
def export_download(request, export_id):
    """The bundle (editors and owners; with protected identities, owners only); recorded."""
    bundle = export_for_user(user=request.user, export_id=export_id)
    try:
        handle = export_services.export_open(actor=request.user, export=bundle)
    except ValidationError as exc:
        error_messages(request, exc)
        return redirect(
            reverse("web:case_dashboard", kwargs={"case_id": bundle.case_id}) + "#exports"
        )
    return download_response(
        handle,
        as_attachment=True,
        filename=export_services.export_filename(bundle),
        content_type="application/zip",
    )
