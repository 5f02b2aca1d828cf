"""Role limits for the API: viewers read, operators operate, admins and owners change."""

from __future__ import annotations

from rest_framework import permissions

from config.errors import RoleRequired

from .authentication import ApiKeyPrincipal
from .models import ROLE_RANK, Role
from .tenancy import request_tenant


class HasOrganizationRole(permissions.BasePermission):
    """Reads need viewer; actions listed in the view's `operator_actions` need operator; other writes need admin.

    A refusal is a 403 PERMISSION_DENIED that names the role the call needs and the caller's (in the message and
    in `details`), so whoever reads it knows which key or membership to ask for.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            return False
        tenant = request_tenant(request)
        needed = required_role(request, view)
        if ROLE_RANK[Role(tenant.role)] >= ROLE_RANK[needed]:
            return True
        whose = "this API key has" if isinstance(request.user, ApiKeyPrincipal) else "your role here is"
        raise RoleRequired(
            f"This needs the {needed.value} role or above; {whose} {Role(tenant.role).value}.",
            details={"required_role": needed.value, "role": Role(tenant.role).value},
        )


def required_role(request, view) -> Role:
    explicit = getattr(view, "required_roles", {}).get(getattr(view, "action", None))
    if explicit:
        return Role(explicit)
    if request.method in permissions.SAFE_METHODS:
        return Role.VIEWER
    if getattr(view, "action", None) in getattr(view, "operator_actions", ()):
        return Role.OPERATOR
    return Role.ADMIN
