"""Search across the cases a user is a member of."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.models import Claim
from cases.policy import cases_where
from cases.selectors import cases_visible_to
from evidence.models import Evidence, Source
from evidence.reader import place_matches, reader_for, source_matches, text_matches
from evidence.selectors import photo_text_matches
from web import forms


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
            .filter(source_matches(q, revealing=revealing))
            .select_related("case")
        )
        results["sources"] = [
            (s, reader_for(request, s.case, via="page").source_name(s)) for s in sources[:50]
        ]
        results["evidence"] = list(
            Evidence.objects.filter(case__in=cases, deleted_at__isnull=True)
            .filter(
                Q(title__icontains=q)
                | Q(description__icontains=q)
                | Q(original_name__icontains=q)
                | place_matches(q, revealing=revealing)
                | Q(url__icontains=q)
                | Q(text__icontains=q)
                | photo_text_matches(q)
                | text_matches(q, revealing=revealing)
            )
            .select_related("case")
            .order_by("-created_at")[:50]
        )
    total = sum(len(v) for v in results.values())
    return render(
        request, "web/search.html", {"form": form, "q": q, "results": results, "total": total}
    )
