"""The accounts admin: organizations with their members, API keys, and the audit trail.

Every admin here is organization-scoped (console/scoping.py): staff who are not
superusers see only their organizations' records, and their role there decides
what they may do.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.audit import record_audit
from accounts.models import ROLE_RANK, ApiKey, AuditEvent, Membership, Organization, Role
from accounts.services import api_key_create, api_key_revoke
from accounts.staff_scope import is_superuser, organization_ids_with_role, organization_roles

from ..filters import OrganizationInScopeFilter
from ..pagination import LargeTableChangeList, LargeTablePaginator, RecentValuesFilter
from ..scoping import OrganizationScopedAdmin


# -------------------------------------------------------------------- organizations
class MembershipInline(admin.TabularInline):
    """Members of an organization; its admins and owners manage them, and grant no role above their own."""

    model = Membership
    extra = 0
    raw_id_fields = ("user",)  # a select would list every user of the installation
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)

    def _can_manage(self, request: HttpRequest, obj: Organization | None) -> bool:
        ids = organization_ids_with_role(request, Role.ADMIN)
        return ids is None or (obj is not None and obj.pk in ids)

    def has_view_permission(self, request, obj=None):
        return is_superuser(request) or obj is None or obj.pk in organization_roles(request)

    def has_add_permission(self, request, obj=None):
        return self._can_manage(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._can_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._can_manage(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if not is_superuser(request) and obj is not None and "role" in formset.form.base_fields:
            own = organization_roles(request).get(obj.pk, Role.VIEWER)
            field = formset.form.base_fields["role"]
            field.choices = [(v, label) for v, label in Role.choices if ROLE_RANK[Role(v)] <= ROLE_RANK[Role(own)]]
        return formset


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    """Organizations are created and deleted by superusers; their admins and owners edit them."""

    organization_path = "pk"
    list_display = ("name", "slug", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    inlines = (MembershipInline,)

    def get_readonly_fields(self, request, obj=None):
        if is_superuser(request):
            return ("created_at",)
        return ("slug", "is_active", "created_at")

    def has_add_permission(self, request):
        return is_superuser(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return is_superuser(request) and super().has_delete_permission(request, obj)


# -------------------------------------------------------------------- API keys
class ApiKeyAddForm(forms.ModelForm):
    """Organization, name and role; the key itself is made by `api_key_create` when the form is saved."""

    class Meta:
        model = ApiKey
        fields = ("organization", "name", "role")

    request: HttpRequest | None = None

    def clean(self):
        cleaned = super().clean()
        org, role = cleaned.get("organization"), cleaned.get("role")
        if org is not None and role and self.request is not None and not is_superuser(self.request):
            own = organization_roles(self.request).get(org.pk)
            if own is None or ROLE_RANK[Role(role)] > ROLE_RANK[Role(own)]:
                self.add_error("role", "You cannot create a key with a role above your own.")
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    """API keys: the raw key is shown once, on the page that answers the add form; only its prefix after that.

    The hash is never shown. The answer to the add form is rendered directly
    (not a redirect with a flash message), so the raw key never passes through
    the message cookie or the session table.
    """

    list_display = ("name", "organization", "prefix", "role", "created_at", "last_used_at", "revoked")
    list_filter = ("role", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "prefix")
    list_select_related = ("organization",)
    actions = ("revoke",)
    object_actions = ("revoke",)
    object_action_labels = {"revoke": "Revoke this key"}

    def object_action_applies(self, name, obj):
        return obj.revoked_at is None
    readonly_on_change = ("organization", "prefix", "role", "created_by", "created_at", "last_used_at", "revoked_at")

    @admin.display(boolean=True, ordering="revoked_at")
    def revoked(self, obj: ApiKey) -> bool:
        return obj.revoked_at is not None

    def get_fields(self, request, obj=None):
        return ("organization", "name", "role") if obj is None else ("name", *self.readonly_on_change)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_on_change

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form = type(form.__name__, (form,), {"request": request})
        return form

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = api_key_create(
            organization=obj.organization, name=obj.name, role=obj.role, created_by=request.user
        )
        # Let the admin's add view carry on (history entry, response) with the saved key.
        for name in ("id", "prefix", "hashed_key", "created_by_id", "created_at"):
            setattr(obj, name, getattr(key, name))
        obj._state.adding, obj._state.db = False, key._state.db
        request._new_api_key_raw = raw
        record_audit(action="api_key.created", request=request, target=key, details={"role": key.role})

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_new_api_key_raw", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "api_key": obj,
            "raw_key": raw,
        }
        # The admin's views are never_cache: this page (and the key on it) is not stored by the browser.
        return TemplateResponse(request, "admin/accounts/apikey/created.html", context)

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=key)
            record_audit(action="api_key.revoked", request=request, target=key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s) at {timezone.now():%Y-%m-%d %H:%M:%S} UTC.",
                          messages.SUCCESS)


# -------------------------------------------------------------------- audit trail
@admin.register(AuditEvent)
class AuditEventAdmin(OrganizationScopedAdmin):
    """The audit trail, read-only: every operator action with who, when, what and from which IP.

    Built like the call log for a table that only grows: no full COUNT, a date
    hierarchy from one MIN/MAX, filters on indexed columns with bounded choices.
    """

    list_display = ("created_at", "actor_label", "action", "target_link", "organization", "ip_address", "via")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    change_list_template = "admin/switchyard/large_table_change_list.html"  # its date hierarchy: one MIN/MAX
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    fields = ("created_at", "organization", "actor", "api_key", "actor_label", "action", "target_type", "target_id",
              "target_repr", "details", "ip_address", "via")
    readonly_fields = fields

    def get_list_filter(self, request):
        action_filter = type("AuditActionFilter", (RecentValuesFilter,),
                             {"title": "action", "parameter_name": "action", "field_name": "action"})
        return (action_filter, "via", OrganizationInScopeFilter)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return LargeTablePaginator(queryset, per_page, orphans, allow_empty_first_page)

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList

    @admin.display(description="target")
    def target_link(self, obj: AuditEvent):
        if not obj.target_type or not obj.target_id:
            return obj.target_repr or "-"
        try:
            url = reverse(f"admin:{obj.target_type.replace('.', '_')}_change", args=[obj.target_id])
        except NoReverseMatch:
            return obj.target_repr
        return format_html('<a href="{}">{}</a>', url, obj.target_repr or obj.target_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
