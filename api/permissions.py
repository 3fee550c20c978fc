"""The API's one permission class: the role each view needs, read from the view."""

from rest_framework.permissions import BasePermission

from cases.models import Role
from cases.selectors import require_role


class CaseRole(BasePermission):
    """Checks the user's role in the object's case against the view's `required_roles`.

    A view declares `required_roles = {"POST": (Role.REPORTER, "add sources"), …}`; a method it
    does not list needs the viewer role. Views call `check_object_permissions` with the object
    they fetched through a selector (which has already answered 404 to non-members), so the
    check here only tells a weaker role what it is missing (403). Closed cases and finer rules
    (a claim's author cannot review it, only editors change a protected identity) stay in the
    services, which check again with the same `require_role`.
    """

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        role, action = view.role_for(request.method)
        require_role(
            user=request.user, case=view.case_of(obj), role=role, action=action, write=False
        )
        return True


def role_for(required_roles: dict, method: str) -> tuple[Role, str]:
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return required_roles.get(method, (Role.VIEWER, "see this"))
