"""Reads that encode a rule. Every door (HTML, API, downloads, tasks) reaches a case through
these functions, so that the access rules live in one place.

- A non-member learns nothing of a case: every object of it answers 404, never 403.
- What a member's role lets them do is `cases.policy`'s table.
"""

from django.db.models import F, Model, QuerySet
from django.http import Http404

from cases.models import Activity, Case, Claim, Membership
from cases.policy import can, role_remember, token_of


def cases_visible_to(user) -> QuerySet[Case]:
    """The cases `user` is a member of (none for anonymous or deactivated users)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Case.objects.none()
    cases = Case.objects.filter(memberships__user=user)
    token = token_of(user)
    if token is not None and not token.all_cases:
        # An API token limited to some cases sees only those (cases.policy.role_of).
        cases = cases.filter(pk__in=token.case_ids)
    return cases


def case_for_user(*, user, case_id) -> Case:
    """The one way to fetch a case for a user: 404 to outsiders (and to malformed ids)."""
    return get_for_member(Case.objects.all(), user=user, pk=case_id, case_path="")


def get_for_member(queryset: QuerySet, *, user, pk, case_path: str = "case") -> Model:
    """Fetch one object of `queryset` whose case `user` belongs to, else 404.

    `case_path` is the lookup from the object to its case ("case", "claim__case", or "" for a
    Case itself). The object's case is attached with `select_related`, and the user's role in
    it read by the same query (`cases.policy.role_of` caches it), so that role checks that
    follow need no extra query.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    if not -(2**63) <= pk < 2**63:
        raise Http404("Not found.")
    memberships = f"{case_path}__memberships" if case_path else "memberships"
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404("Not found.")
    if case_path:
        queryset = queryset.select_related(case_path)
    # The annotation reuses the filter's join: the requesting user's own membership row.
    obj = (
        queryset.filter(pk=pk, **{f"{memberships}__user": user})
        .annotate(member_role=F(f"{memberships}__role"))
        .first()
    )
    if obj is None:
        raise Http404("Not found.")
    case = obj
    for step in case_path.split("__") if case_path else ():
        case = getattr(case, step)
    token = token_of(user)
    if token is not None and not token.covers(case.pk):
        raise Http404("Not found.")
    role_remember(case=case, user=user, role=obj.member_role)
    return obj


def claim_for_user(*, user, claim_id) -> Claim:
    return get_for_member(
        Claim.objects.select_related("author", "reviewer"), user=user, pk=claim_id
    )


def claims_of(*, case: Case) -> QuerySet[Claim]:
    return case.claims.select_related("author", "reviewer").order_by("created_at", "id")


def activity_of(*, case: Case) -> QuerySet[Activity]:
    return case.activity.select_related("actor").order_by("-id")


def members_of(*, case: Case) -> QuerySet[Membership]:
    return case.memberships.select_related("user").order_by("user__username")


def can_review_claim(*, user, claim: Claim) -> bool:
    """Whether to offer `user` the review of `claim` (the rule itself is in claim_review)."""
    return can(user, claim.case, "claim.review") and claim.author_id != user.pk
