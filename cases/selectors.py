"""Reads that encode a rule. Every door (HTML, API, downloads, tasks) reaches a case through
these functions, so that the access rules live in one place.

- A non-member learns nothing of a case: every object of it answers 404, never 403.
- A member whose role is too weak for an action gets PermissionDenied naming what is missing.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, QuerySet
from django.http import Http404

from cases.models import Activity, Case, Claim, Membership, Role


def cases_visible_to(user) -> QuerySet[Case]:
    """The cases `user` is a member of (none for anonymous or deactivated users)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Case.objects.none()
    return Case.objects.filter(memberships__user=user)


def role_of(*, user, case: Case) -> Role | None:
    """The user's role in the case, or None for a non-member. Cached on the case instance."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cache = case.__dict__.setdefault("_roles", {})
    if user.pk not in cache:
        role = (
            Membership.objects.filter(case=case, user=user).values_list("role", flat=True).first()
        )
        _role_cache(case, user, role)
    return cache[user.pk]


def _role_cache(case: Case, user, role: str | None) -> None:
    case.__dict__.setdefault("_roles", {})[user.pk] = Role(role) if role else None


def require_role(*, user, case: Case, role: Role, action: str, write: bool = True) -> Role:
    """Check that `user` may do `action` in `case` with at least `role`.

    Raises Http404 for a non-member and PermissionDenied for a weaker role. A write to a case
    that is not open is refused too, except the owner's own change of the case's status.
    """
    actual = role_of(user=user, case=case)
    if actual is None:
        raise Http404("No such case.")
    if not actual.at_least(role):
        raise PermissionDenied(f"To {action} you need the {role.label.lower()} role in this case.")
    if write and not case.is_open:
        raise PermissionDenied(f"This case is {case.status}: nothing in it can change.")
    return actual


def can_see_protected(*, user, case: Case) -> bool:
    """Editors and owners see protected identities, exact locations and originals."""
    role = role_of(user=user, case=case)
    return role is not None and role.at_least(Role.EDITOR)


def case_for_user(*, user, case_id, role: Role = Role.VIEWER) -> Case:
    """The one way to fetch a case for a user: 404 to outsiders (and to malformed ids)."""
    case = get_for_member(Case.objects.all(), user=user, pk=case_id, case_path="")
    require_role(user=user, case=case, role=role, action="see this", write=False)
    return case


def get_for_member(queryset: QuerySet, *, user, pk, case_path: str = "case") -> Model:
    """Fetch one object of `queryset` whose case `user` belongs to, else 404.

    `case_path` is the lookup from the object to its case ("case", "claim__case", or "" for a
    Case itself). The object's case is attached with `select_related`, and the user's role in
    it read by the same query (`role_of` caches it), so that role checks that follow need no
    extra query.
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
    _role_cache(case, user, obj.member_role)
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
    role = role_of(user=user, case=claim.case)
    return (
        role is not None
        and role.at_least(Role.EDITOR)
        and claim.author_id != user.pk
        and claim.case.is_open
    )
