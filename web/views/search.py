"""Search across the cases a user is a member of."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.models import Claim
from cases.policy import cases_where
from cases.selectors import cases_visible_to
from evidence.models import Evidence, Source
from evidence.reader import identity_reveal_record, place_matches
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
                | photo_text_matches(q)
            )
            .select_related("case")
            .order_by("-created_at")[:50]
        )
    total = sum(len(v) for v in results.values())
    return render(
        request, "web/search.html", {"form": form, "q": q, "results": results, "total": total}
    )
