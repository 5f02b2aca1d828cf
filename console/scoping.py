"""The console's tenancy: one ModelAdmin mixin every organization-owned admin uses.

Staff who are not superusers act through their memberships (accounts/staff_scope.py):
they see only the records of organizations they belong to, and their role there
decides what they may do. Superusers see and change everything.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

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
    # List actions also offered as buttons on one record's page (the same action run on that record alone), so
    # an operator looking at a failed delivery need not go back to the list to redeliver it.
    object_actions: tuple[str, ...] = ()
    object_action_labels: dict[str, str] = {}  # a button's words, where the list's ("…selected…") do not fit
    change_form_template = "admin/switchyard/change_form.html"

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

    # ---------------------------------------------------------------- one record's actions
    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_object_action"
        own = [path("<path:object_id>/action/<str:action>/", self.admin_site.admin_view(
            require_POST(self.object_action_view)), name=name)]
        return own + super().get_urls()

    def object_action_choices(self, request: HttpRequest, obj: Model) -> list[tuple[str, str]]:
        """(name, label) of the `object_actions` this user may run on `obj`."""
        if not self.object_actions or obj is None or obj.pk is None:
            return []
        actions = self.get_actions(request)  # already filtered by the permissions each action needs
        choices = []
        for name in self.object_actions:
            if name in actions and self._may_run(request, actions[name][0], obj) and self.object_action_applies(
                    name, obj):
                choices.append((name, self.object_action_labels.get(name) or str(actions[name][2])))
        return choices

    def object_action_applies(self, name: str, obj: Model) -> bool:
        """Whether the action means anything for this record now (resume a failed job, not a running one)."""
        return True

    def _may_run(self, request: HttpRequest, func, obj: Model) -> bool:
        needed = getattr(func, "needed_role", self.change_role)
        return self.has_role(request, needed, obj) or is_superuser(request)

    def object_action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Run one list action on this record alone; its own page (a form, a secret shown once) or its page back."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("Not found.")  # another organization's record is not found, as everywhere
        if action not in dict(self.object_action_choices(request, obj)):
            raise PermissionDenied
        func = self.get_actions(request)[action][0]
        response = func(self, request, self.get_queryset(request).filter(pk=obj.pk))
        if response is not None:
            return response
        info = self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add:
            context["object_actions"] = self.object_action_choices(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

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

        scoped.needed_role = role
        return scoped
