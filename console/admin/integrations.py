"""Admin for integrations, their call log and OAuth states.

Secrets never reach a page: the Integration form has no field for them (see
console/forms.py), the change page shows them masked, and the read-only admins
leave them out. Writes go through integrations/services.py like the API's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from accounts.audit import record_audit, record_audit_each, record_changes
from accounts.staff_scope import organization_ids_with_role
from commerce.services import channel_locations_refresh, stock_mode_set
from config.broker import nudge_on_commit
from config.errors import ApplicationError
from connectors import registry
from connectors.base import AuthKind, Capability
from integrations.health_selectors import integration_health, integrations_health
from integrations.models import (
    SECRET_FIELDS,
    ClaimProof,
    Integration,
    IntegrationLog,
    IntegrationStatus,
    OAuthState,
    StockMode,
)
from integrations.oauth.flow import oauth_initiate
from integrations.routing import AccountAlreadyClaimed, accounts_claim, claims_release
from integrations.services import (
    ACTIVATABLE,
    UPDATABLE_FIELDS,
    integration_create,
    integration_delete,
    integration_test_connection,
    integration_update,
)
from syncjobs import tasks as sync_tasks
from syncjobs.audiences import audiences_refresh

from ..filters import IntegrationInScopeFilter, ProviderFilter
from ..formatting import pretty_body
from ..forms import SECRET_LABELS, IntegrationAdminForm, secret_status
from ..integration_page import IntegrationConsoleMixin
from ..pagination import LargeTableChangeList, LargeTablePaginator, RecentValuesFilter, StatusClassFilter
from ..scoping import OrganizationScopedAdmin

# How many integrations one "test connection" may probe: each is a provider call made inside the request.
TEST_CONNECTION_LIMIT = 10
# How many rows of each related kind the delete confirmation counts before it says "more than".
DELETE_SUMMARY_CAP = 10_000


def _delete_reach(model: type[models.Model], lookup: str = "", seen: frozenset = frozenset()
                  ) -> Iterator[tuple[type[models.Model], str, bool]]:
    """(related model, lookup from it to `model`, whether it blocks) for each relation a delete of `model` meets.

    CASCADE relations are followed down (an endpoint's deliveries, their attempts); PROTECT and RESTRICT ones
    block the delete; SET_NULL and the like leave their rows. Read from the model graph, so a provider app's
    own table (a courier's shipments) is counted without this module knowing it.
    """
    for rel in model._meta.related_objects:
        if rel.many_to_many or rel.related_model in seen:
            continue
        path = f"{rel.field.name}__{lookup}" if lookup else rel.field.name
        if rel.on_delete is models.CASCADE:
            yield rel.related_model, path, False
            yield from _delete_reach(rel.related_model, path, seen | {model})
        elif rel.on_delete in (models.PROTECT, models.RESTRICT):
            yield rel.related_model, path, True


class _PageHealth:
    """The health of a page of integrations, computed for all of them at its first use (a few queries). Lazy: an
    action's POST builds the list without showing it."""

    def __init__(self, integrations: list[Integration]):
        self._integrations, self._reports = integrations, None

    def of(self, integration: Integration):
        if self._reports is None:
            self._reports = integrations_health(self._integrations)
        return self._reports[integration.pk]


class IntegrationChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        page = _PageHealth(list(self.result_list))
        for integration in self.result_list:
            integration.page_health = page


@admin.register(Integration)
class IntegrationAdmin(IntegrationConsoleMixin, OrganizationScopedAdmin):
    form = IntegrationAdminForm
    list_display = ("name", "code", "provider", "type", "status", "health_badge", "stock_mode", "last_sync_at",
                    "consecutive_failures")
    list_filter = (
        ProviderFilter,
        "type",
        "status",
        "auto_sync_enabled",
        "is_test_mode",
        ("organization", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("name", "code")
    list_select_related = ("organization",)
    actions = ("test_connection", "activate", "deactivate", "claim_accounts", "release_accounts",
               "discover_stock_locations", "stock_from_channel", "stock_from_erp", "stock_off",
               "refresh_audiences", "push_audience")
    readonly_fields = (
        "route_key", "claimed_accounts", "stored_secrets", "oauth_connection", "oauth_status", "last_sync_at",
        "next_sync_at", "last_error", "consecutive_failures", "stock_mode", "created_at", "updated_at",
    )
    secret_inputs = tuple((f"{name}_new", f"{name}_clear") for name in SECRET_FIELDS)

    # ---------------------------------------------------------------- the list
    def get_changelist(self, request, **kwargs):
        return IntegrationChangeList

    @admin.display(description="health")
    def health_badge(self, obj: Integration):
        """The same badge as the dashboard and the page (integrations/health_selectors.py), its reasons on hover."""
        page = getattr(obj, "page_health", None)
        report = page.of(obj) if page is not None else integration_health(obj)
        return render_to_string("admin/switchyard/health_badge.html", {"health": report})

    # ---------------------------------------------------------------- the form
    def get_fieldsets(self, request, obj=None):
        can_write = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        secrets = ("stored_secrets", *self.secret_inputs) if can_write else ("stored_secrets",)
        return (
            (None, {"fields": ("organization", "name", "code", "provider", "type", "status", "description",
                               "api_endpoint", "is_test_mode", "route_key", "claimed_accounts")}),
            ("Secrets (write-only)", {
                "fields": secrets,
                "description": "Stored secrets are never shown. Enter a value to replace one; tick Clear to remove it.",
            }),
            # Connecting needs the change role (connect_view): the others see the state without the button.
            ("Tokens", {"fields": ("oauth_connection" if can_write else "oauth_status", "token_type", "expires_at",
                                   "scope")}),
            ("Sync", {"fields": ("sync_interval_minutes", "auto_sync_enabled", "last_sync_at", "next_sync_at",
                                 "consecutive_failures", "last_error")}),
            ("Stock", {"fields": ("stock_mode",), "description": "Who is the source of truth for this channel's "
                       "stock; change it with the list's Stock actions (audited). Map its locations under Channel "
                       "locations; see differences under Channel stock (drift)."}),
            ("Provider settings", {"fields": ("config", "metadata"), "classes": ("collapse",)}),
            ("Timestamps", {"fields": ("created_at", "updated_at")}),
        )

    def get_changeform_initial_data(self, request):
        """A new integration starts in the user's organization when they may add to only one."""
        initial = super().get_changeform_initial_data(request)
        if "organization" not in initial:
            ids = organization_ids_with_role(request, self.change_role)
            if ids is None:  # a superuser: their own memberships, if one
                ids = list(request.user.memberships.values_list("organization_id", flat=True)[:2])
            if len(ids) == 1:
                initial["organization"] = next(iter(ids))
        return initial

    def get_readonly_fields(self, request, obj=None):
        # An integration stays in its organization: the code and the inbound URLs belong to it.
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    @admin.display(description="Provider accounts it receives webhooks for")
    def claimed_accounts(self, obj: Integration | None):
        claims = list(obj.account_claims.order_by("kind", "account_id")) if obj is not None and obj.pk else []
        if not claims:
            return "None claimed (a completed OAuth connect, or a superuser's claim action, claims them)."
        return ", ".join(f"{c.kind} {c.account_id} ({c.get_proof_display().lower()})" for c in claims)

    @admin.display(description="Stored secrets")
    def stored_secrets(self, obj: Integration | None):
        stored = obj if obj is not None and obj.pk else None
        rows = [(SECRET_LABELS.get(name, name), secret_status(stored, name)) for name in SECRET_FIELDS]
        return format_html_join("", "<div>{}: <code>{}</code></div>", rows)

    @admin.display(description="OAuth")
    def oauth_connection(self, obj: Integration | None):
        """A Connect button for an OAuth integration: the flow starts, the provider asks, the page comes back."""
        return self._oauth_state(obj, can_connect=True)

    @admin.display(description="OAuth")
    def oauth_status(self, obj: Integration | None):
        """The connection state without the button, for a role that may not connect (viewer, operator)."""
        return self._oauth_state(obj, can_connect=False)

    def _oauth_state(self, obj: Integration | None, *, can_connect: bool):
        if obj is None or not obj.pk or not registry.is_registered(obj.provider):
            return "Save the integration first." if obj is None or not obj.pk else "-"
        if registry.get(obj.provider).auth_kind != AuthKind.OAUTH2:
            return "Not an OAuth provider."
        state = "Connected" if obj.access_token else "Not connected"
        if not can_connect:
            return f"{state} (connecting needs the admin role)"
        url = reverse("admin:integrations_integration_connect", args=[obj.pk])
        label = "Reconnect" if obj.access_token else "Connect"
        return format_html('{} <a class="button" href="{}">{}</a>', state, url, label)

    # ---------------------------------------------------------------- OAuth connect
    def get_urls(self):
        own = [
            path("<path:object_id>/connect/", self.admin_site.admin_view(self.connect_view),
                 name="integrations_integration_connect"),
            path("<path:object_id>/connect/done/", self.admin_site.admin_view(self.connect_done_view),
                 name="integrations_integration_connect_done"),
        ]
        return own + super().get_urls()

    def _connectable(self, request, object_id: str) -> Integration:
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def connect_view(self, request, object_id: str):
        """Start the OAuth flow for this integration; the provider sends the browser back to connect_done_view."""
        obj = self._connectable(request, object_id)
        done = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
            "admin:integrations_integration_connect_done", args=[obj.pk]
        )
        try:
            authorization = oauth_initiate(organization=obj.organization, user=request.user, provider=obj.provider,
                                           redirect_uri=done, integration_id=obj.pk)
        except ApplicationError as exc:
            self.message_user(request, f"Could not start connecting {obj}: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[obj.pk]))
        record_audit(action="integration.connect_started", request=request, target=obj)
        return HttpResponseRedirect(authorization.authorization_url)

    def connect_done_view(self, request, object_id: str):
        """Where the OAuth callback sends the browser: the outcome as a message on the change page."""
        obj = self._connectable(request, object_id)
        if request.GET.get("status") == "success":
            self.message_user(request, f"{obj} is connected.", messages.SUCCESS)
        else:
            reason = request.GET.get("message", "")[:200] or "the provider did not complete the authorization"
            self.message_user(request, f"Connecting {obj} failed: {reason}", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[obj.pk]))

    def save_model(self, request, obj, form, change):
        secrets = form.secret_changes()
        if change:
            data = {name: getattr(obj, name) for name in form.changed_data if name in UPDATABLE_FIELDS}
            integration_update(integration=obj, data={**data, **secrets})
            record_changes(request=request, target=obj, data={**data, **secrets}, secret_fields=SECRET_FIELDS,
                           kind="integration")
            return
        fields = {name: getattr(obj, name) for name in UPDATABLE_FIELDS - set(SECRET_FIELDS)}
        created = integration_create(organization=obj.organization, **fields, **secrets)
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
        obj.code, obj.type, obj.route_key, obj.status = created.code, created.type, created.route_key, created.status
        obj._state.adding, obj._state.db = False, created._state.db
        record_audit(action="integration.created", request=request, target=created,
                     details={"secrets": sorted(secrets), "status": created.status})

    # ---------------------------------------------------------------- delete
    # Through integration_delete, like the API's DELETE: webhook subscriptions removed and OAuth tokens revoked at
    # the provider (best effort), integration.disconnected published, then the row and everything that cascades.

    @csrf_protect_m
    def delete_view(self, request, object_id, extra_context=None):
        """Django's delete view without the transaction it wraps a confirmed delete in.

        integration_delete calls the provider (unsubscribe, revoke) before it deletes in its own transaction, so
        that no transaction stays open while a provider answers; inside Django's it would. `_delete_view` is
        Django's view itself (delete_view only adds the atomic block).
        """
        return self._delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        self._delete(request, obj)

    def delete_queryset(self, request, queryset):
        """The "delete selected" action: one integration at a time, each its own provider calls and transaction."""
        for integration in list(queryset.select_related("organization")):
            self._delete(request, integration)

    def _delete(self, request, integration: Integration) -> None:
        trail = copy.copy(integration)  # the delete clears the instance's pk; the audit event names the row
        integration_delete(integration=integration)
        record_audit(action="integration.deleted", request=request, target=trail,
                     details={"code": trail.code, "provider": trail.provider})

    def get_deleted_objects(self, objs, request):
        """The delete confirmation: the integrations, and how many related rows of each kind go with them.

        Django's default loads and lists every related row (an integration's call log can hold millions) and
        asks each row's admin for delete permission, which the read-only admins (call log, OAuth states) always
        refuse. Here each related model costs one COUNT capped at DELETE_SUMMARY_CAP rows, whatever the tables
        hold, and permission is the integration's: its rows go with it, as with the API's DELETE.
        """
        integrations = list(objs)
        if not integrations:
            return [], {}, set(), []
        pks = [integration.pk for integration in integrations]
        opts = self.model._meta
        listed = [
            format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name),
                        reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                                args=[quote(integration.pk)]), integration)
            for integration in integrations
        ]
        model_count: dict[str, int | str] = {opts.verbose_name_plural: len(integrations)}
        protected = []
        for model, lookup, blocks in _delete_reach(self.model):
            rows = model._default_manager.filter(**{f"{lookup}__in": pks}).order_by()
            name = str(model._meta.verbose_name_plural)
            if blocks:
                if rows.exists():
                    protected.append(f"{capfirst(name)} refer to {'it' if len(pks) == 1 else 'them'}.")
                continue
            count = rows.values("pk")[: DELETE_SUMMARY_CAP + 1].count()
            if count:
                model_count[name] = f"more than {DELETE_SUMMARY_CAP:,}" if count > DELETE_SUMMARY_CAP else count
        return listed, model_count, set(), protected

    # ---------------------------------------------------------------- actions
    @admin.action(description="Test connection", permissions=["operate"])
    def test_connection(self, request, queryset):
        integrations = list(queryset.select_related("organization")[: TEST_CONNECTION_LIMIT + 1])
        if len(integrations) > TEST_CONNECTION_LIMIT:
            self.message_user(
                request, f"Select at most {TEST_CONNECTION_LIMIT} integrations to test at once.", messages.WARNING
            )
            return
        for integration in integrations:
            # The service catches provider errors and scrubs the integration's secrets from the detail.
            result = integration_test_connection(integration=integration)
            record_audit(action="integration.tested", request=request, target=integration,
                         details={"ok": result.ok, "latency_ms": result.latency_ms})
            if result.ok:
                summary = f"{integration}: connection OK in {result.latency_ms} ms. {result.detail}"
                if integration.status in ACTIVATABLE:
                    summary += f" It is {integration.status}: the Activate action switches it on."
                self.message_user(request, summary, messages.SUCCESS)
            else:
                self.message_user(request, f"{integration}: connection failed. {result.detail}", messages.ERROR)

    @admin.action(description="Stock: discover the channel's locations", permissions=["operate"])
    def discover_stock_locations(self, request, queryset):

        for integration in queryset[:20]:
            try:
                found = channel_locations_refresh(integration=integration)
            except ApplicationError as exc:
                self.message_user(request, f"{integration}: {exc.message}", messages.ERROR)
                continue
            unmapped = ", ".join(found["unmapped"]) or "none"
            self.message_user(request, f"{integration}: {found['locations']} location(s); unmapped: {unmapped}. "
                                       "Map them under Commerce → Channel locations.", messages.SUCCESS)

    @admin.action(description="Audiences: read the mailing lists (choose one in config.list_id)",
                  permissions=["operate"])
    def refresh_audiences(self, request, queryset):
        for integration in queryset[:20]:
            try:
                lists = audiences_refresh(integration=integration)
            except ApplicationError as exc:
                self.message_user(request, f"{integration}: {exc.message}", messages.ERROR)
                continue
            names = ", ".join(f"{item['name']} ({item['id']})" for item in lists) or "none"
            self.message_user(request, f"{integration}: {names}.", messages.SUCCESS)

    @admin.action(description="Audiences: push the customers who consented", permissions=["operate"])
    def push_audience(self, request, queryset):
        for integration in queryset[:20]:
            if not registry.supports(integration.provider, Capability.CONTACTS):
                self.message_user(request, f"{integration}: its provider has no audiences.", messages.ERROR)
                continue
            nudge_on_commit(sync_tasks.push_audience, args=(integration.pk,))
            record_audit(action="integration.audience_push", request=request, target=integration)
            self.message_user(request, f"{integration}: audience push queued.", messages.SUCCESS)

    @admin.action(description="Stock: the channel is the source (import)", permissions=["change"])
    def stock_from_channel(self, request, queryset):
        self._set_stock_mode(request, queryset, StockMode.IMPORT)

    @admin.action(description="Stock: the ERP is the source (push to the channel)", permissions=["change"])
    def stock_from_erp(self, request, queryset):
        self._set_stock_mode(request, queryset, StockMode.PUSH)

    @admin.action(description="Stock: neither import nor push (off)", permissions=["change"])
    def stock_off(self, request, queryset):
        self._set_stock_mode(request, queryset, StockMode.OFF)

    def _set_stock_mode(self, request, queryset, mode: str) -> None:
        for integration in queryset[:100]:
            stock_mode_set(integration=integration, mode=mode, request=request)
            self.message_user(request, f"{integration}: stock mode is {mode}.", messages.SUCCESS)

    @admin.action(description="Activate", permissions=["change"])
    def activate(self, request, queryset):
        self._set_status(request, queryset, IntegrationStatus.ACTIVE)

    @admin.action(description="Deactivate", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_status(request, queryset, IntegrationStatus.INACTIVE)

    # Claiming routes a shop's customer data to the integration, so only a superuser, who sees every
    # organization, may vouch for an account in place of the provider (integrations/routing.py).
    def has_claim_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    @admin.action(description="Claim their provider accounts (shops, sellers) for webhook routing",
                  permissions=["claim"])
    def claim_accounts(self, request, queryset):
        for integration in queryset.select_related("organization"):
            try:
                claims = accounts_claim(integration=integration, proof=ClaimProof.STAFF, user=request.user)
            except AccountAlreadyClaimed as exc:
                self.message_user(request, f"{integration}: {exc.message}", messages.ERROR)
                continue
            names = ", ".join(f"{c.kind} {c.account_id}" for c in claims) or "no provider account to claim"
            record_audit(action="integration.accounts_claimed", request=request, target=integration,
                         details={"accounts": [[c.kind, c.account_id] for c in claims]})
            self.message_user(request, f"{integration}: {names}.", messages.SUCCESS)

    @admin.action(description="Release their provider accounts", permissions=["claim"])
    def release_accounts(self, request, queryset):
        for integration in queryset:
            released = claims_release(integration=integration)
            record_audit(action="integration.accounts_released", request=request, target=integration,
                         details={"released": released})
            self.message_user(request, f"{integration}: {released} account(s) released.", messages.SUCCESS)

    def _set_status(self, request, queryset, status: str) -> None:
        changed = []
        for integration in queryset.exclude(status=status):
            integration_update(integration=integration, data={"status": status})
            changed.append(integration)
        verb = "activated" if status == IntegrationStatus.ACTIVE else "deactivated"
        record_audit_each(action=f"integration.{verb}", request=request, targets=changed)
        changed = len(changed)
        label = IntegrationStatus(status).label.lower()
        self.message_user(request, f"{changed} integration(s) set {label}.", messages.SUCCESS)


class ActionFilter(RecentValuesFilter):
    title = "action"
    parameter_name = "action"
    field_name = "action"


@admin.register(IntegrationLog)
class IntegrationLogAdmin(OrganizationScopedAdmin):
    """The call log: read-only, and built for a table of millions of rows.

    No full COUNT(*) (LargeTablePaginator, `show_full_result_count = False`, no
    facet counts), a date hierarchy from one MIN/MAX that the created_at index
    answers (LargeTableChangeList), filters with choices that need no scan, each
    on an index that leads with the organization a staff user is scoped to
    (integrations/migrations/0003), no search (a LIKE scans the table), and the
    integration joined in the page query (`list_select_related`).
    """

    list_display = ("created_at", "integration", "action", "direction", "method", "status", "ms", "short_endpoint")
    list_filter = ("direction", StatusClassFilter, ActionFilter, IntegrationInScopeFilter)
    list_select_related = ("integration",)
    date_hierarchy = "created_at"
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    fields = ("created_at", "integration", "organization", "action", "direction", "method", "endpoint", "status_code",
              "duration_ms", "error_message", "pretty_request", "pretty_response", "pretty_metadata")
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList

    @admin.display(description="status", ordering="status_code")
    def status(self, obj: IntegrationLog):
        return obj.status_code

    @admin.display(description="ms", ordering="duration_ms")
    def ms(self, obj: IntegrationLog):
        return obj.duration_ms

    @admin.display(description="endpoint")
    def short_endpoint(self, obj: IntegrationLog) -> str:
        return obj.endpoint if len(obj.endpoint) <= 80 else f"{obj.endpoint[:77]}…"

    @admin.display(description="request (redacted)")
    def pretty_request(self, obj: IntegrationLog):
        return pretty_body(obj.request)

    @admin.display(description="response (redacted)")
    def pretty_response(self, obj: IntegrationLog):
        return pretty_body(obj.response)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj: IntegrationLog):
        return pretty_body(obj.metadata)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OAuthState)
class OAuthStateAdmin(OrganizationScopedAdmin):
    """OAuth handshakes in flight, read-only. The PKCE verifier is never shown, and the state only by its start."""

    list_display = ("__str__", "provider", "organization", "user", "created_at", "expires_at", "used_at")
    list_filter = ("provider",)
    list_select_related = ("organization", "user")
    fields = ("state_prefix", "provider", "organization", "user", "integration", "redirect_uri", "metadata",
              "created_at", "expires_at", "used_at")
    readonly_fields = fields

    @admin.display(description="state")
    def state_prefix(self, obj: OAuthState) -> str:
        return f"{obj.state[:8]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
