"""Search across the cases a user is a member of: the full page, the quick search (⌘K /
Ctrl-K) that every page opens, both answered by `evidence.search.search`; and the reverse
image search (`evidence.image_search`)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from cases.selectors import case_for_user, cases_visible_to
from evidence.image_search import evidence_phash, image_matches, query_phash
from evidence.search import SearchQuery, search
from evidence.selectors import evidence_for_user
from web import forms

QUICK_HITS = 8


def _searched(request, *, per_page: int | None = None):
    form = forms.SearchForm(request.GET or None)
    if not form.is_valid():
        return form, None, None
    query = SearchQuery.of(form.cleaned_data)
    if query.case_id is not None:
        case_for_user(user=request.user, case_id=query.case_id)  # 404 to outsiders
    if not query.q:
        return form, query, None
    extra = {"per_page": per_page} if per_page else {}
    page = form.cleaned_data.get("page") or 1
    return form, query, search(request=request, query=query, page=page, via="page", **extra)


@login_required
@require_GET
def search_page(request):
    form, query, results = _searched(request)
    status = 400 if form.is_bound and not form.is_valid() else 200
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "web/search.html",
        {
            "form": form,
            "q": query.q if query else "",
            "results": results,
            "cases": cases_visible_to(request.user).order_by("title"),
            "paging": params.urlencode(),
        },
        status=status,
    )


@login_required
@require_GET
def search_quick(request):
    """The quick search's list (an htmx partial): the best few hits and the honest total."""
    form, query, results = _searched(request, per_page=QUICK_HITS)
    if form.is_bound and not form.is_valid():
        raise Http404("Not a search.")
    return render(
        request,
        "web/partials/search_quick.html",
        {"q": query.q if query else "", "results": results, "full": request.GET.urlencode()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def search_image(request):
    """Reverse image search: drop an image (never stored), or `?evidence=` one of the user's
    photos, and see where near-duplicates of it are in all their cases."""
    form = forms.ImageSearchForm(request.POST or None, request.FILES or None)
    matches, errors, status, searched = None, [], 200, None
    evidence_id = request.GET.get("evidence")
    try:
        if request.method == "POST":
            if not form.is_valid():
                raise ValidationError(form.errors)
            matches = image_matches(
                request=request, phash=query_phash(form.cleaned_data["file"]), via="page"
            )
        elif evidence_id:
            searched = evidence_for_user(user=request.user, evidence_id=evidence_id)
            matches = image_matches(
                request=request,
                phash=evidence_phash(searched),
                exclude=searched.pk,
                via="page",
            )
    except ValidationError as exc:
        errors = [m for messages in exc.message_dict.values() for m in messages]
        status = 400
    return render(
        request,
        "web/search_image.html",
        {"form": form, "matches": matches, "errors": errors, "searched": searched},
        status=status,
    )
