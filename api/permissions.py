"""The API's one permission class: the action each view's method is, read from the view."""

from rest_framework.permissions import BasePermission

from cases.policy import require

# What a method a view does not name in its `actions` is.
READ = "case.see"


class CaseRole(BasePermission):
    """Asks `cases.policy` whether the user may do the view's action on the object's case.

    A view names the action of each method, `actions = {"POST": "source.add", …}`; a method it
    does not list is a read (`case.see`, any member). Views call `check_object_permissions`
    with the object they fetched through a selector (which has already answered 404 to
    non-members), so the check here only tells a weaker role what it is missing (403, with the
    action's words). Closed cases and finer rules (a claim's author cannot review it, only
    editors change a protected identity) stay in the services, which ask the same policy.
    """

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        require(
            request.user, view.case_of(obj), view.action_for(request.method), changes_case=False
        )
        return True


def action_for(actions: dict[str, str], method: str) -> str:
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return actions.get(method, READ)
