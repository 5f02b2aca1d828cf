"""The console's tenancy: one ModelAdmin mixin every organization-owned admin uses.

Staff who are not superusers act through their memberships (accounts/staff_scope.py):
they see only the records of organizations they belong to, and their role there
decides what they may do. Superusers see and change everything.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accounts.models import ROLE_RANK, Organization, Role
from accounts.staff_scope import is_superuser, organization_ids_with_role, organization_roles

# Which role each Django admin permission needs in the record's organization.
_PERMISSION_ROLE_FIELDS = {"view": "view_role", "operate": "operate_role"}


class OrganizationScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin for records that belong to an organization.

    Tenancy: querysets, foreign-key choices and actions are limited to the
    organizations the staff user is a member of; another organization's record
    is "does not exist" (the admin redirects to its index), never "forbidden".
    Superusers are unrestricted and keep Django's own permission checks.

    Roles (for staff who are not superusers, the membership role decides; Django's
    per-model permissions are not consulted, so a Google sign-in needs no grants):

    =========  ======================================================================
    viewer     sees the records of the organization, read-only
    operator   also runs operational actions marked ``permissions=["operate"]``
               (the Integration admin's "test connection")
    admin      also adds, changes and deletes records, and runs every other action
               (activate, deactivate, revoke, delete selected)
    owner      as admin
    =========  ======================================================================

    Subclasses say where the organization is with `organization_path` (a lookup
    path, "pk" for Organization itself) and may move `view_role`,
    `operate_role` and `change_role`. Every action is re-scoped to the
    organizations where the user holds the role the action needs, so a member who
    is admin in one organization and viewer in another cannot act on the second
    by selecting its rows.
    """

    organization_path = "organization"
    view_role: str = Role.VIEWER
    operate_role: str = Role.OPERATOR
    change_role: str = Role.ADMIN

    # ---------------------------------------------------------------- scoping
    def object_organization_id(self, obj: Model) -> int | None:
        if self.organization_path == "pk":
            return obj.pk
        *hops, last = self.organization_path.split("__")
        for hop in hops:
            obj = getattr(obj, hop, None)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id", None)

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet, role: str | None = None) -> QuerySet:
        ids = organization_ids_with_role(request, role or self.view_role)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.organization_path}__in": ids})

    def has_role(self, request: HttpRequest, role: str, obj: Model | None = None) -> bool:
        ids = organization_ids_with_role(request, role)
        if ids is None:
            return True
        if obj is None:
            return bool(ids)
        return self.object_organization_id(obj) in ids

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope_queryset(request, super().get_queryset(request))

    # ---------------------------------------------------------------- permissions
    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_superuser(request):
            return super().has_module_permission(request)
        return bool(organization_roles(request))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_superuser(request):
            return super().has_view_permission(request, obj)
        return self.has_role(request, self.view_role, obj)

    def has_operate_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_superuser(request):
            return True
        return self.has_role(request, self.operate_role, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if is_superuser(request):
            return super().has_add_permission(request)
        return self.has_role(request, self.change_role)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_superuser(request):
            return super().has_change_permission(request, obj)
        return self.has_role(request, self.change_role, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_superuser(request):
            return super().has_delete_permission(request, obj)
        return self.has_role(request, self.change_role, obj)

    # ---------------------------------------------------------------- forms and actions
    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        ids = organization_ids_with_role(request, self.change_role)
        if ids is not None:
            related = db_field.related_model
            if related is Organization:
                kwargs["queryset"] = Organization.objects.filter(pk__in=ids)
            elif any(f.name == "organization" for f in related._meta.get_fields()):
                kwargs["queryset"] = related._default_manager.filter(organization__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_actions(self, request: HttpRequest) -> dict[str, tuple]:
        actions = super().get_actions(request)
        return {name: (self._scoped_action(func), name, desc) for name, (func, name, desc) in actions.items()}

    def _scoped_action(self, func):
        needed = [
            getattr(self, _PERMISSION_ROLE_FIELDS.get(p, "change_role"))
            for p in getattr(func, "allowed_permissions", ("change",))
        ]
        role = max(needed, key=lambda r: ROLE_RANK[Role(r)])

        @functools.wraps(func)
        def scoped(modeladmin, request, queryset):
            return func(modeladmin, request, self.scope_queryset(request, queryset, role))

        return scoped
