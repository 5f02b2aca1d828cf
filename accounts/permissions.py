"""Role limits for the API: viewers read, operators operate, admins and owners change."""

from __future__ import annotations

from rest_framework import permissions

from .models import ROLE_RANK, Role
from .tenancy import request_tenant


class HasOrganizationRole(permissions.BasePermission):
    """Reads need viewer; actions listed in the view's `operator_actions` need operator; other writes need admin."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            return False
        tenant = request_tenant(request)
        return ROLE_RANK[Role(tenant.role)] >= ROLE_RANK[required_role(request, view)]


def required_role(request, view) -> Role:
    explicit = getattr(view, "required_roles", {}).get(getattr(view, "action", None))
    if explicit:
        return Role(explicit)
    if request.method in permissions.SAFE_METHODS:
        return Role.VIEWER
    if getattr(view, "action", None) in getattr(view, "operator_actions", ()):
        return Role.OPERATOR
    return Role.ADMIN
