"""Which organizations a signed-in staff user may see, and with which role (the operator console's tenancy).

Staff who are not superusers act through their memberships: they see only the
records of organizations they belong to, and their role there decides what they
may do. Superusers see and change everything. The console (console/scoping.py)
builds its admin scoping on these; the API's tenancy is accounts/tenancy.py.
"""

from __future__ import annotations

from django.http import HttpRequest

from .models import ROLE_RANK, Membership, Role


def is_superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.is_superuser)


def organization_roles(request: HttpRequest) -> dict[int, str]:
    """{organization id: role} of the signed-in user's memberships in active organizations, cached per request."""
    cached = getattr(request, "_admin_organization_roles", None)
    if cached is None:
        user = request.user
        cached = {}
        if user.is_authenticated and user.is_active and user.is_staff:
            cached = dict(
                Membership.objects.filter(user=user, organization__is_active=True).values_list(
                    "organization_id", "role"
                )
            )
        request._admin_organization_roles = cached
    return cached


def organization_ids_with_role(request: HttpRequest, role: str) -> list[int] | None:
    """Organizations where the user holds at least `role`; None means every organization (a superuser)."""
    if is_superuser(request):
        return None
    needed = ROLE_RANK[Role(role)]
    return sorted(org_id for org_id, held in organization_roles(request).items() if ROLE_RANK[Role(held)] >= needed)
