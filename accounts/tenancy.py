"""Which organization a request acts for, and with which role.

API keys belong to one organization. A signed-in staff user acts for the
organization named in the `X-Organization` header (a slug), or for their only
membership; superusers may act for any organization with the owner role.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions

from .authentication import ApiKeyPrincipal
from .models import Membership, Organization, Role


@dataclass(frozen=True)
class Tenant:
    organization: Organization
    role: str


def request_tenant(request) -> Tenant:
    cached = getattr(request, "_switchyard_tenant", None)
    if cached is not None:
        return cached
    tenant = _resolve(request)
    request._switchyard_tenant = tenant
    return tenant


def _resolve(request) -> Tenant:
    user = request.user
    if isinstance(user, ApiKeyPrincipal):
        return Tenant(user.organization, user.role)
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    slug = request.headers.get("X-Organization")
    if user.is_superuser and slug:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise exceptions.PermissionDenied("Unknown organization.")
        return Tenant(org, Role.OWNER)
    memberships = Membership.objects.select_related("organization").filter(user=user, organization__is_active=True)
    if slug:
        memberships = memberships.filter(organization__slug=slug)
    found = list(memberships[:2])
    if len(found) != 1:
        raise exceptions.PermissionDenied(
            "Name the organization in the X-Organization header." if found else "You belong to no such organization."
        )
    return Tenant(found[0].organization, found[0].role)


# The tenant's organization; a schema-generation pass (no real request) gets none. A comment, not a docstring:
# drf-spectacular describes an operation with the first docstring in its view's MRO, so a docstring here would
# become the description of every operation whose view has none.
class TenantScopedMixin:
    @property
    def organization(self):
        return request_tenant(self.request).organization

    @property
    def _fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)
