"""What each role may do in a case: one table, and the two questions every door asks of it.

Services call `require(actor, case, "claim.review")` before they change anything; API views
name the action of each method (`actions = {"POST": "source.add"}`) and one permission class
asks `require`; pages ask `can`, and templates ask the `Allowed` object a page puts in its
context as `can` (`{% if can.evidence.add %}`). Nothing else compares roles: a test reads
every module and fails on a role comparison outside this module and `cases.models`.

- A non-member learns nothing of a case: `require` answers 404 to them, never 403.
- A member whose role is too weak gets PermissionDenied with the action's words, which name
  the role it needs ("To review claims you need the editor role in this case.").
- An action that changes the case is refused in a case that is not open.
- An API token narrows its user's role, never widens it: a case the token does not name is
  answered as for a non-member (404), and a `read` token is refused (403) every action the
  table marks `writes`. The token rides on the user object the API authenticated
  (`user.api_token`, set by `api.authentication`), so services asking `require(actor, …)` ask
  it too, whichever door the actor came through.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from cases.models import Case, Membership, Role


@dataclass(frozen=True)
class Rule:
    """The least role that may do an action, what the action is in words ("add sources"),
    and whether it changes the case (then a case that is not open refuses it)."""

    role: Role
    doing: str
    changes_case: bool
    # Whether the action makes or changes anything (a `read` token may not do it). Every
    # `_writes` action does; a few `_reads` (allowed in a closed case) do too.
    writes: bool = False

    @property
    def refusal(self) -> str:
        """The one sentence a member below `role` is told."""
        return f"To {self.doing} you need the {self.role.label.lower()} role in this case."


def _reads(role: Role, doing: str, *, writes: bool = False) -> Rule:
    return Rule(role=role, doing=doing, changes_case=False, writes=writes)


def _writes(role: Role, doing: str) -> Rule:
    return Rule(role=role, doing=doing, changes_case=True, writes=True)


# Every action a member may take, by noun. The comment on a rule says why it is not the
# weakest role that could do it.
ACTIONS: dict[str, Rule] = {
    "case.see": _reads(Role.VIEWER, "see this case"),
    "case.update": _writes(Role.EDITOR, "edit the case"),
    # An owner reopens a closed case: a change of status is allowed whatever the status.
    "case.status": _reads(Role.OWNER, "close or reopen the case", writes=True),
    "member.manage": _writes(Role.OWNER, "manage members"),
    "source.add": _writes(Role.REPORTER, "add sources"),
    "source.edit": _writes(Role.REPORTER, "edit sources"),
    # Whoever changes a protected source's name, notes or pseudonym learns its identity.
    "source.protect": _writes(Role.EDITOR, "change a protected source's identity or pseudonym"),
    "identity.see": _reads(Role.EDITOR, "see protected sources' identities"),
    "evidence.add": _writes(Role.REPORTER, "add evidence"),
    "evidence.edit": _writes(Role.REPORTER, "edit evidence"),
    # Moved to an open source, a protected source's evidence would show its hidden place.
    "evidence.move_protected": _writes(
        Role.EDITOR, "move a protected source's evidence to another source"
    ),
    "evidence.reprocess": _writes(Role.REPORTER, "process photos again"),
    "evidence.capture": _writes(Role.REPORTER, "capture web pages again"),
    "evidence.delete": _writes(Role.EDITOR, "delete evidence"),
    "evidence.purge": _writes(Role.OWNER, "purge deleted originals"),
    # An original keeps its metadata (GPS, camera serial numbers) and may name its source.
    "original.download": _reads(Role.EDITOR, "download originals"),
    "link.add": _writes(Role.REPORTER, "link evidence"),
    "link.edit": _writes(Role.REPORTER, "change links"),
    "link.remove": _writes(Role.REPORTER, "remove links"),
    "comment.add": _writes(Role.REPORTER, "comment"),
    "comment.edit": _writes(Role.REPORTER, "edit comments"),
    "claim.add": _writes(Role.REPORTER, "write claims"),
    "claim.edit": _writes(Role.REPORTER, "edit claims"),
    "claim.submit": _writes(Role.REPORTER, "submit claims"),
    "claim.review": _writes(Role.EDITOR, "review claims"),
    "work.assign": _writes(Role.REPORTER, "assign claims and evidence to members"),
    # Exports carry originals and the whole record; a closed case can still be exported.
    "export.see": _reads(Role.EDITOR, "see exports"),
    "export.create": _reads(Role.EDITOR, "export the case", writes=True),
    "export.download": _reads(Role.EDITOR, "download exports"),
    "export.create_revealing": _reads(
        Role.OWNER, "include protected identities in an export", writes=True
    ),
    # A webhook posts the case's events to an address outside Casefile; allowed in a closed
    # case (switching one off must stay possible).
    "webhook.manage": _reads(Role.OWNER, "manage webhooks", writes=True),
    "webhook.see": _reads(Role.OWNER, "see webhooks and their deliveries"),
    # A bulk import adds many items at once, each as its own service would.
    "import.run": _writes(Role.REPORTER, "import rows from a spreadsheet"),
    "export.download_revealing": _reads(Role.OWNER, "download an export with protected identities"),
}


class UnknownAction(LookupError):
    """An action that is not in the table: a typo in a view, a service or a template.

    Not a KeyError, so that a template asking for it fails loudly instead of reading False."""


def rule(action: str) -> Rule:
    try:
        return ACTIONS[action]
    except KeyError:
        raise UnknownAction(f"No such action in cases.policy.ACTIONS: {action!r}.") from None


# --- The member's role ----------------------------------------------------------------------


# Refusals, not passwords (S105).
TOKEN_READ_ONLY = (
    "This API token may only read (its scope is read): make a token with the write scope."  # noqa: S105
)
TOKEN_LIMITED = (
    "This API token is limited to some cases: sign in or use a token for all your cases."  # noqa: S105
)


def token_of(user):
    """The API token the request authenticated `user` with (None: a browser session, a task)."""
    return getattr(user, "api_token", None)


def role_of(*, user, case: Case) -> Role | None:
    """The user's role in the case, or None for a non-member (or a case the user's API token
    does not name). Cached on the case instance."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    token = token_of(user)
    if token is not None and not token.covers(case.pk):
        return None
    cache = case.__dict__.setdefault("_roles", {})
    if user.pk not in cache:
        role = (
            Membership.objects.filter(case=case, user=user).values_list("role", flat=True).first()
        )
        role_remember(case=case, user=user, role=role)
    return cache[user.pk]


def role_remember(*, case: Case, user, role: str | None) -> None:
    """Cache the user's role in the case, read by a query that had it anyway."""
    case.__dict__.setdefault("_roles", {})[user.pk] = Role(role) if role else None


# --- The questions --------------------------------------------------------------------------


def require(actor, case: Case, action: str, *, changes_case: bool | None = None) -> Role:
    """Check that `actor` may do `action` in `case`; return the actor's role.

    Raises Http404 for a non-member, PermissionDenied with the action's refusal for a weaker
    role, and PermissionDenied for an action that changes a case that is not open.
    `changes_case` overrides the table's answer for that last check: the API's permission
    class leaves it to the services, and an owner may rename a case in the request that
    reopens it.
    """
    wanted = rule(action)
    role = role_of(user=actor, case=case)
    if role is None:
        raise Http404("No such case.")
    if not role.at_least(wanted.role):
        raise PermissionDenied(wanted.refusal)
    if wanted.writes and _token_read_only(actor):
        raise PermissionDenied(TOKEN_READ_ONLY)
    if changes_case is None:
        changes_case = wanted.changes_case
    if changes_case and not case.is_open:
        raise PermissionDenied(f"This case is {case.status}: nothing in it can change.")
    return role


def can(actor_or_role, case: Case | None, action: str) -> bool:
    """Whether `require` would let the actor (a user, or a role) do `action` in `case`.

    With a role and no case, whether the role may do it in an open case."""
    wanted = rule(action)
    if isinstance(actor_or_role, str | None):
        role = actor_or_role
    else:
        role = None if case is None else role_of(user=actor_or_role, case=case)
    if role is None or not Role(role).at_least(wanted.role):
        return False
    if wanted.writes and _token_read_only(actor_or_role):
        return False
    return not (wanted.changes_case and case is not None and not case.is_open)


def _token_read_only(actor) -> bool:
    token = token_of(actor)
    return token is not None and token.read_only


def require_any_case(actor) -> None:
    """For what no case's role covers (creating a case): an API token limited to some cases,
    or to reading, may not do it (403)."""
    token = token_of(actor)
    if token is None:
        return
    if token.read_only:
        raise PermissionDenied(TOKEN_READ_ONLY)
    if not token.all_cases:
        raise PermissionDenied(TOKEN_LIMITED)


def roles_that_may(action: str) -> list[Role]:
    """The roles that may do `action` (in an open case), weakest first."""
    least = rule(action).role
    return [role for role in Role if role.at_least(least)]


def members_who_may(*, case: Case, action: str) -> QuerySet:
    """The active members of `case` whose role may do `action` (whom to tell of a claim to
    review, of a webhook switched off)."""
    return Membership.objects.filter(
        case=case, role__in=roles_that_may(action), user__is_active=True
    )


def cases_where(user, action: str) -> QuerySet:
    """The ids of the cases in which `user`'s role may do `action` (for a query across cases,
    such as search; whether each case is open is not looked at)."""
    memberships = Membership.objects.filter(user=user, role__in=roles_that_may(action))
    token = token_of(user)
    if token is not None:
        if rule(action).writes and token.read_only:
            return memberships.none().values("case_id")
        if not token.all_cases:
            memberships = memberships.filter(case_id__in=token.case_ids)
    return memberships.values("case_id")


class Allowed:
    """What a page's templates ask of the policy: `{% if can.evidence.add %}` is
    `can(user, case, "evidence.add")`. An action that is not in the table fails the page."""

    def __init__(self, user, case: Case):
        self._user, self._case = user, case

    def __getitem__(self, noun: str) -> "_Verbs":
        if not any(action.startswith(f"{noun}.") for action in ACTIONS):
            raise UnknownAction(f"No action of {noun!r} in cases.policy.ACTIONS.")
        return _Verbs(self, noun)

    def answer(self, action: str) -> bool:
        return can(self._user, self._case, action)


class _Verbs:
    def __init__(self, allowed: Allowed, noun: str):
        self._allowed, self._noun = allowed, noun

    def __getitem__(self, verb: str) -> bool:
        return self._allowed.answer(f"{self._noun}.{verb}")
