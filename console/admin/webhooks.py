"""Admin for outgoing webhooks: endpoints (success rate, last error, rotate secret, test), deliveries with
their attempts (redeliver), and the notices owners were sent.

Secrets never reach a page except once: the page answering "add" or "rotate
secret" shows the new secret, rendered directly (no redirect, no flash message
in a cookie), like the API key admin. Writes go through webhooks.outbound.endpoints.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, F, OuterRef, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.template import engines
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime

from accounts.audit import record_audit, record_audit_each
from config.errors import ApplicationError
from integrations.masking import mask_secret
from webhooks.events import ALL_EVENTS, CATALOG, PING
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookNotice
from webhooks.outbound.endpoints import (
    RECOVER_MAX_WINDOW,
    delivery_redeliver,
    endpoint_create,
    endpoint_request_recover,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)

from ..formatting import pretty_body
from ..pagination import LargeTableChangeList, LargeTablePaginator
from ..scoping import OrganizationScopedAdmin

SUCCESS_RATE_WINDOW = timedelta(days=7)
_SECRETS_PAGE = engines["django"].from_string("""{% extends "admin/base_site.html" %}
{% block content %}
<p>Store each secret now: it is not shown again. Receivers verify deliveries with it (Standard Webhooks).</p>
<table><tr><th>Endpoint</th><th>Signing secret</th></tr>
{% for endpoint, secret in rows %}
<tr><td>{{ endpoint.url }} (#{{ endpoint.pk }})</td><td><code>{{ secret }}</code></td></tr>
{% endfor %}</table>
{% if note %}<p>{{ note }}</p>{% endif %}
<p><a href="{% url 'admin:webhooks_webhookendpoint_changelist' %}">Back to webhook endpoints</a></p>
{% endblock %}""")


class RecoverForm(forms.Form):
    since = forms.DateTimeField(help_text="Failed deliveries created at or after this instant (UTC).")
    until = forms.DateTimeField(required=False, help_text="…and before this one; empty: now.")


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=1000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(ALL_EVENTS, "* (every event)"), *((name, name) for name in CATALOG)],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "integration", "url", "description", "events", "is_active")


def _secrets_page(modeladmin, request, rows, *, title: str, note: str = ""):
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.opts, "title": title,
               "rows": rows, "note": note}
    return TemplateResponse(request, _SECRETS_PAGE, context)


class EventFilter(admin.SimpleListFilter):
    """Event types from the catalog (and the test ping), not a SELECT DISTINCT over every delivery."""

    title = "event"
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return [(name, name) for name in dict.fromkeys((*sorted(CATALOG), PING))]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() else queryset


def _failed_attempts(endpoint):
    """An endpoint's attempts that did not get a 2xx, newest first (what its "last error" column shows)."""
    return (WebhookDeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
            .exclude(response_status__gte=200, response_status__lt=300).order_by("-attempted_at", "-id"))


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrganizationScopedAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "organization", "is_active", "success_rate", "last_error", "last_success_at",
                    "failing_since")
    list_filter = ("is_active", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("url", "description")
    list_select_related = ("organization",)
    actions = ("send_test", "rotate_secret", "recover")
    object_actions = ("send_test", "rotate_secret", "recover")
    object_action_labels = {"send_test": "Send a test ping", "rotate_secret": "Rotate signing secret",
                            "recover": "Re-send failed deliveries…"}

    def object_action_applies(self, name, obj):
        return obj.is_active or name == "rotate_secret"
    readonly_fields = ("secret_masked", "previous_secret_expires_at", "disabled_reason", "last_triggered_at",
                       "last_success_at", "failing_since", "created_at", "updated_at")

    def get_queryset(self, request):
        since = timezone.now() - SUCCESS_RATE_WINDOW

        def recent(status: str) -> Subquery:
            # A correlated count over the last 7 days only, served by the (endpoint, -created_at) index; a
            # join-and-group over every delivery an endpoint ever had would grow with its whole history.
            rows = WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), created_at__gte=since, status=status)
            return Subquery(rows.order_by().values("endpoint").annotate(n=Count("pk")).values("n")[:1])

        return super().get_queryset(request).annotate(
            _delivered=Coalesce(recent(DeliveryStatus.DELIVERED), 0),
            _failed=Coalesce(recent(DeliveryStatus.FAILED), 0),
            _last_failed_attempt_id=Subquery(_failed_attempts(OuterRef("pk")).values("pk")[:1]),
        )

    def get_changelist_instance(self, request):
        """The page's endpoints with their last failed attempt: one subquery names it, one query loads them all."""
        changelist = super().get_changelist_instance(request)
        endpoints = list(changelist.result_list)  # evaluates the page's queryset once; the template reuses it
        ids = [e._last_failed_attempt_id for e in endpoints if e._last_failed_attempt_id]
        attempts = WebhookDeliveryAttempt.objects.only("attempted_at", "response_status", "error").in_bulk(ids)
        for endpoint in endpoints:
            endpoint._last_failed_attempt = attempts.get(endpoint._last_failed_attempt_id)
        return changelist

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    @admin.display(description="success (7 days)")
    def success_rate(self, obj: WebhookEndpoint) -> str:
        done = obj._delivered + obj._failed
        return f"{100 * obj._delivered / done:.0f}% of {done}" if done else "–"

    @admin.display(description="last error")
    def last_error(self, obj: WebhookEndpoint) -> str:
        if obj.disabled_reason and not obj.is_active:
            return f"disabled: {obj.disabled_reason}"
        attempt = getattr(obj, "_last_failed_attempt", None)  # loaded for the whole page (get_changelist_instance)
        if attempt is None:
            return ""
        text = attempt.error or f"HTTP {attempt.response_status}"
        return f"{date_format(localtime(attempt.attempted_at), 'DATETIME_FORMAT')} {text}"[:160]

    @admin.display(description="secret")
    def secret_masked(self, obj: WebhookEndpoint) -> str:
        return mask_secret(obj.secret) if obj and obj.pk else "(generated when saved, shown once)"

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ("url", "events", "integration", "description",
                                                           "is_active") if name in form.cleaned_data}
        if change:
            endpoint_update(endpoint=obj, data={k: v for k, v in data.items() if k in form.changed_data})
            record_audit(action="endpoint.changed", request=request, target=obj,
                         details={"fields": sorted(k for k in data if k in form.changed_data)})
            return
        is_active = data.pop("is_active", True)
        created, secret = endpoint_create(organization=obj.organization, **data)
        if not is_active:
            endpoint_update(endpoint=created, data={"is_active": False})
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at
        obj._state.adding, obj._state.db = False, created._state.db
        request._new_webhook_secret = (created, secret)
        record_audit(action="endpoint.created", request=request, target=created)

    def response_add(self, request, obj, post_url_continue=None):
        created = getattr(request, "_new_webhook_secret", None)
        if created is None:
            return super().response_add(request, obj, post_url_continue)
        return _secrets_page(self, request, [created], title="Webhook endpoint created")

    @admin.action(description="Rotate signing secret (old one keeps signing for 24 h)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        rows = [(endpoint, endpoint_rotate_secret(endpoint=endpoint)) for endpoint in queryset]
        record_audit_each(action="endpoint.secret_rotated", request=request, targets=[e for e, _ in rows])
        return _secrets_page(self, request, rows, title="Signing secrets rotated",
                             note="Deliveries carry signatures under both the new and the old secret for 24 hours.")

    @admin.action(description="Re-send failed deliveries of a time window (recover)", permissions=["operate"])
    def recover(self, request, queryset):
        """First a page asking for the window (the last 24 hours by default), then each endpoint's failed
        deliveries created in it queued again, as POST /api/webhook-endpoints/{id}/recover/ does."""
        endpoints = list(queryset.filter(is_active=True)[:50])
        form = RecoverForm(request.POST if "confirm" in request.POST else None,
                           initial={"since": timezone.now() - timedelta(days=1)})
        if not form.is_valid():
            return TemplateResponse(request, "admin/webhooks/recover_endpoints.html", {
                **self.admin_site.each_context(request), "opts": self.opts, "endpoints": endpoints, "form": form,
                "max_days": RECOVER_MAX_WINDOW.days, "title": "Re-send failed deliveries"})
        queued = 0
        for endpoint in endpoints:
            try:
                queued += endpoint_request_recover(endpoint=endpoint, since=form.cleaned_data["since"],
                                                   until=form.cleaned_data.get("until"))
            except ApplicationError as exc:
                detail = "; ".join(str(m) for messages_ in exc.details.values() for m in messages_) or exc.message
                self.message_user(request, f"{endpoint}: {detail}", messages.ERROR)
                continue
            record_audit(action="endpoint.recovered", request=request, target=endpoint,
                         details={"since": form.cleaned_data["since"].isoformat()})
        self.message_user(request, f"Re-sending {queued} failed delivery(ies).", messages.SUCCESS)
        return None

    @admin.action(description="Send a test ping", permissions=["operate"])
    def send_test(self, request, queryset):
        sent = [endpoint_send_test(endpoint=endpoint) for endpoint in queryset.filter(is_active=True)]
        record_audit_each(action="endpoint.test_sent", request=request, targets=[d.endpoint for d in sent])
        self.message_user(request, f"Queued {len(sent)} ping(s); see the deliveries list.", messages.SUCCESS)


class WebhookDeliveryAttemptInline(admin.TabularInline):
    """Every attempt, numbered from 1 in the order they were made: the last number is the delivery's `attempts`."""

    model = WebhookDeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "attempted_at", "response_status", "duration_ms", "error", "response")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _number=Window(RowNumber(), partition_by=[F("delivery_id")], order_by=[F("attempted_at"), F("id")]))

    @admin.display(description="attempt")
    def number(self, obj):
        return getattr(obj, "_number", None) or "–"

    @admin.display(description="response body")
    def response(self, obj):
        return pretty_body(obj.response_body)

    def has_view_permission(self, request, obj=None):
        # Whoever may see the delivery (the parent admin's organization scoping) sees its attempts.
        return self.admin_site._registry[WebhookDelivery].has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdmin):
    list_display = ("created_at", "event", "endpoint_url", "status", "attempts", "response_status", "next_attempt_at",
                    "delivered_at")
    list_filter = ("status", EventFilter)
    search_fields = ("event_id",)
    list_select_related = ("endpoint",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Millions of rows: no full COUNT per page, dates from one MIN/MAX (console/pagination.py).
    paginator = LargeTablePaginator
    change_list_template = "admin/switchyard/large_table_change_list.html"  # its date hierarchy

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList
    inlines = (WebhookDeliveryAttemptInline,)
    actions = ("redeliver",)
    object_actions = ("redeliver",)
    fields = ("organization", "endpoint", "event", "event_id", "status", "attempts_made", "next_attempt_at",
              "locked_until", "response_status", "last_response_body", "error", "delivered_at", "created_at",
              "pretty_payload")
    readonly_fields = fields
    object_action_labels = {"redeliver": "Redeliver now"}

    def object_action_applies(self, name, obj):
        return obj.endpoint.is_active

    @admin.display(description="endpoint", ordering="endpoint__url")
    def endpoint_url(self, obj: WebhookDelivery) -> str:
        url = obj.endpoint.url
        return url if len(url) <= 70 else f"{url[:67]}…"

    @admin.display(description="attempts")
    def attempts_made(self, obj: WebhookDelivery) -> str:
        """The same number as the last row of the attempts below, and how many of them since it was last queued
        (the step of its retry schedule)."""
        if obj.round_attempts == obj.attempts:
            return str(obj.attempts)
        return f"{obj.attempts} ({obj.round_attempts} since it was last queued)"

    @admin.display(description="last response body")
    def last_response_body(self, obj: WebhookDelivery):
        return pretty_body(obj.response_body)

    @admin.display(description="payload")
    def pretty_payload(self, obj: WebhookDelivery):
        return pretty_body(obj.payload)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Redeliver now", permissions=["operate"])
    def redeliver(self, request, queryset):
        queued, skipped = 0, 0
        for delivery in queryset.select_related("endpoint"):
            if not delivery.endpoint.is_active:
                skipped += 1
                continue
            delivery_redeliver(delivery=delivery)
            record_audit(action="delivery.redelivered", request=request, target=delivery)
            queued += 1
        self.message_user(request, f"Queued {queued} delivery(ies) again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped}: their endpoint is disabled.", messages.WARNING)


@admin.register(WebhookNotice)
class WebhookNoticeAdmin(OrganizationScopedAdmin):
    list_display = ("created_at", "kind", "organization", "endpoint", "message", "emailed_to")
    list_filter = ("kind",)
    fields = ("created_at", "kind", "organization", "endpoint", "message", "emailed_to")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
