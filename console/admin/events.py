"""Admin for consumed events: the sources (secret shown once on add and rotate) and the received events, read-only."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.template import engines
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.audit import record_audit, record_audit_each
from accounts.models import Role
from console.pagination import LargeTableChangeList, LargeTablePaginator
from console.scoping import OrganizationScopedAdmin
from events.handlers import HANDLERS
from events.models import EventSource, InboundEvent
from events.processing import events_requeue
from events.sources import event_source_create, event_source_rotate_secret, event_source_update
from integrations.masking import mask_secret

_SECRETS_PAGE = engines["django"].from_string("""{% extends "admin/base_site.html" %}
{% block content %}
<p>Store each secret now: it is not shown again. The service signs its events with it (Standard Webhooks) and
posts them to the intake path.</p>
<table><tr><th>Source</th><th>Intake path</th><th>Signing secret</th></tr>
{% for source, secret in rows %}
<tr><td>{{ source.name }} (#{{ source.pk }})</td><td><code>/api/events/?source={{ source.key }}</code></td>
<td><code>{{ secret }}</code></td></tr>
{% endfor %}</table>
{% if note %}<p>{{ note }}</p>{% endif %}
<p><a href="{% url 'admin:events_eventsource_changelist' %}">Back to event sources</a></p>
{% endblock %}""")


def _secrets_page(modeladmin, request, rows, *, title: str, note: str = ""):
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.opts, "title": title,
               "rows": rows, "note": note}
    return TemplateResponse(request, _SECRETS_PAGE, context)


class EventSourceForm(forms.ModelForm):
    class Meta:
        model = EventSource
        fields = ("organization", "name", "is_active")


@admin.register(EventSource)
class EventSourceAdmin(OrganizationScopedAdmin):
    form = EventSourceForm
    list_display = ("name", "organization", "key", "is_active", "last_received_at", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "key")
    list_select_related = ("organization",)
    actions = ("rotate_secret",)
    readonly_fields = ("key", "secret_masked", "previous_secret_expires_at", "last_received_at", "created_at",
                       "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    @admin.display(description="secret")
    def secret_masked(self, obj: EventSource) -> str:
        return mask_secret(obj.secret) if obj and obj.pk else "(generated when saved, shown once)"

    def save_model(self, request, obj, form, change):
        if change:
            event_source_update(source=obj, name=form.cleaned_data.get("name"),
                                is_active=form.cleaned_data.get("is_active"))
            record_audit(action="event_source.changed", request=request, target=obj,
                         details={"fields": sorted(form.changed_data)})
            return
        created, secret = event_source_create(organization=obj.organization, name=obj.name)
        if not form.cleaned_data.get("is_active", True):
            event_source_update(source=created, is_active=False)
        obj.pk, obj.key, obj.secret, obj.created_at = created.pk, created.key, created.secret, created.created_at
        obj._state.adding, obj._state.db = False, created._state.db
        request._new_event_source_secret = (created, secret)
        record_audit(action="event_source.created", request=request, target=created)

    def response_add(self, request, obj, post_url_continue=None):
        created = getattr(request, "_new_event_source_secret", None)
        if created is None:
            return super().response_add(request, obj, post_url_continue)
        return _secrets_page(self, request, [created], title="Event source created")

    @admin.action(description="Rotate signing secret (the old one still verifies for 24 h)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        rows = [(source, event_source_rotate_secret(source=source)) for source in queryset]
        record_audit_each(action="event_source.secret_rotated", request=request, targets=[s for s, _ in rows])
        return _secrets_page(self, request, rows, title="Signing secrets rotated",
                             note="Events signed with the old secret are accepted for 24 more hours.")


class EventTypeFilter(admin.SimpleListFilter):
    """The handled types, not a SELECT DISTINCT over every event; ignored types are found by status."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(HANDLERS)]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(InboundEvent)
class InboundEventAdmin(OrganizationScopedAdmin):
    list_display = ("received_at", "source", "event_type", "status", "retry_count", "event_id", "processed_at")
    list_filter = ("status", EventTypeFilter)
    list_select_related = ("source",)
    search_fields = ("event_id",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = LargeTablePaginator
    change_list_template = "admin/switchyard/large_table_change_list.html"
    list_per_page = 100
    actions = ("retry",)
    fields = ("source", "organization", "event_id", "event_type", "status", "retry_count", "max_retries",
              "next_attempt_at", "locked_until", "processed_at", "error_message", "remote_ip", "received_at",
              "updated_at", "pretty_payload", "pretty_result")
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    @admin.display(description="payload")
    def pretty_payload(self, obj: InboundEvent):
        try:
            payload = json.loads(bytes(obj.body))
        except ValueError:
            payload = "(not JSON)"
        return _pre(payload)

    @admin.display(description="result")
    def pretty_result(self, obj: InboundEvent):
        return _pre(obj.result or {})

    @admin.action(description="Retry selected failed events", permissions=["operate"])
    def retry(self, request, queryset):
        ids = list(self.scope_queryset(request, queryset, Role.OPERATOR).values_list("pk", flat=True))
        done = events_requeue(event_ids=ids)
        record_audit_each(action="inbound_event.retried", request=request,
                          targets=InboundEvent.objects.filter(pk__in=done).only("id", "organization_id", "event_type"))
        skipped = len(ids) - len(done)
        note = f" {skipped} skipped (not failed)." if skipped else ""
        self.message_user(request, f"{len(done)} event(s) retried.{note}",
                          messages.SUCCESS if done else messages.WARNING)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _pre(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>', text)
