"""Admin for incoming webhooks: read-only rows, a readable payload and headers, retry and replay.

The list is built for millions of rows: no full COUNT, no facet counts, and
filters whose choices need no query (statuses, the registry's providers) or a
small one (the user's integrations).

The payload and headers are shown parsed and masked (secret-named keys and the
integration's secret values), never raw. Retry puts failed rows back to pending;
replay processes completed, failed or ignored rows again (the handlers are
idempotent, so replaying an order webhook re-imports the same order). Both are
operator actions and go through services.webhooks_requeue like the API and the
`retry_webhooks` command.
"""

from __future__ import annotations

from django.contrib import admin, messages

from accounts.audit import record_audit_each
from accounts.models import Role
from webhooks.inbound.selectors import incoming_webhook_headers, incoming_webhook_payload
from webhooks.inbound.services import REPLAYABLE, RETRYABLE, webhooks_requeue
from webhooks.models import IncomingStatus, IncomingWebhook

from ..filters import IntegrationInScopeFilter, ProviderFilter
from ..formatting import pretty_body
from ..pagination import LargeTableChangeList, LargeTablePaginator
from ..scoping import OrganizationScopedAdmin


class StatusFilter(admin.SimpleListFilter):
    """The statuses, without counting rows per status; `?status=` as the dashboard's links use it."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return IncomingStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class SourceFilter(ProviderFilter):
    """The source (the provider key) from the connector registry, not a SELECT DISTINCT over the table."""

    title = "source"
    parameter_name = "source"

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(IncomingWebhook)
class IncomingWebhookAdmin(OrganizationScopedAdmin):
    list_display = ("received_at", "integration", "event_type", "status", "retry_count", "short_error",
                    "short_external_id", "processed_at")
    list_filter = (StatusFilter, IntegrationInScopeFilter, SourceFilter)
    list_select_related = ("integration",)
    search_fields = ("external_id", "event_type")
    date_hierarchy = "received_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Millions of rows: no full COUNT per page, dates from one MIN/MAX (console/pagination.py).
    paginator = LargeTablePaginator
    change_list_template = "admin/switchyard/large_table_change_list.html"  # its date hierarchy

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList
    list_per_page = 100
    actions = ("retry", "replay")
    object_actions = ("retry", "replay")
    object_action_labels = {"retry": "Retry", "replay": "Replay (process again)"}
    fields = (
        "integration", "organization", "source", "event_type", "external_id", "status", "retry_count",
        "max_retries", "next_attempt_at", "locked_until", "processed_at", "error_message", "signature_verified",
        "remote_ip", "received_at", "updated_at", "pretty_headers", "pretty_payload", "result", "traceback",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body", "headers", "metadata")

    def get_object(self, request, object_id, from_field=None):
        queryset = self.scope_queryset(request, IncomingWebhook.objects.select_related("integration"))
        return queryset.filter(pk=object_id).first() if str(object_id).isdigit() else None

    def object_action_applies(self, name, obj):
        return obj.status in (RETRYABLE if name == "retry" else REPLAYABLE)

    @admin.display(description="error")
    def short_error(self, obj: IncomingWebhook) -> str:
        return obj.error_message if len(obj.error_message) <= 120 else f"{obj.error_message[:117]}…"

    @admin.display(description="event id")
    def short_external_id(self, obj: IncomingWebhook) -> str:
        return obj.external_id if len(obj.external_id) <= 40 else f"{obj.external_id[:37]}…"

    @admin.display(description="headers (secrets masked)")
    def pretty_headers(self, obj: IncomingWebhook):
        return pretty_body(incoming_webhook_headers(obj))

    @admin.display(description="payload (secrets masked)")
    def pretty_payload(self, obj: IncomingWebhook):
        return pretty_body(incoming_webhook_payload(obj))

    @admin.display(description="result")
    def result(self, obj: IncomingWebhook):
        return pretty_body((obj.metadata or {}).get("result") or {})

    @admin.display(description="last traceback")
    def traceback(self, obj: IncomingWebhook):
        return pretty_body((obj.metadata or {}).get("traceback") or "")

    # ---------------------------------------------------------------- actions
    @admin.action(description="Retry selected failed webhooks", permissions=["operate"])
    def retry(self, request, queryset):
        self._requeue(request, queryset, RETRYABLE, "retried")

    @admin.action(description="Replay selected webhooks (process again)", permissions=["operate"])
    def replay(self, request, queryset):
        self._requeue(request, queryset, REPLAYABLE, "replayed")

    def _requeue(self, request, queryset, statuses, verb: str) -> None:
        scoped = self.scope_queryset(request, queryset, Role.OPERATOR)
        ids = list(scoped.values_list("pk", flat=True))
        done = webhooks_requeue(webhook_ids=ids, statuses=statuses)
        record_audit_each(action=f"webhook.{verb}", request=request,
                          targets=IncomingWebhook.objects.filter(pk__in=done).only("id", "organization_id", "source",
                                                                                   "event_type"))
        skipped = len(ids) - len(done)
        level = messages.SUCCESS if done else messages.WARNING
        note = f" {skipped} skipped (status not {' / '.join(statuses)})." if skipped else ""
        self.message_user(request, f"{len(done)} webhook(s) {verb}.{note}", level)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
