"""The Integration change page's console: its health, Test, Activate and "Sync now" buttons, and what the
integration did lately.

Mixed into IntegrationAdmin. Test and Sync now are operator actions (the role
`operate_role` of the organization; a viewer gets neither) and go through the
same services as the API: `integration_test_connection`, `sync_job_start`.
A passing test of an integration that is not on (inactive, testing,
pending_auth) offers Activate to whoever may change it (the admin role):
`integration_test_and_activate` tests once more and switches it on. The
"recent" tables are bounded reads (the last RECENT rows of each, on the
(integration, -created) indexes), rendered read-only with links to each row's
own admin page; they are not Django inlines because an inline formset would
load every row of a table with millions.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.audit import record_audit
from config.errors import ApplicationError
from integrations.health_selectors import integration_health
from integrations.models import Integration, IntegrationLog
from integrations.services import ACTIVATABLE, integration_test_and_activate, integration_test_connection
from syncjobs.models import SyncJob, Trigger
from syncjobs.selectors import sync_job_type_choices
from syncjobs.services import sync_job_start
from webhooks.models import IncomingWebhook, WebhookEndpoint

RECENT = 10


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


class IntegrationConsoleMixin:
    change_form_template = "admin/switchyard/integration_change_form.html"

    def get_urls(self):
        own = [
            path("<path:object_id>/sync-now/", self.admin_site.admin_view(require_POST(self.sync_now_view)),
                 name="integrations_integration_sync_now"),
            path("<path:object_id>/test/", self.admin_site.admin_view(require_POST(self.test_view)),
                 name="integrations_integration_test"),
            path("<path:object_id>/activate/", self.admin_site.admin_view(require_POST(self.activate_view)),
                 name="integrations_integration_activate"),
        ]
        return own + super().get_urls()

    # ---------------------------------------------------------------- the page
    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        context = dict(extra_context or {})
        if obj is not None and self.has_view_permission(request, obj):
            context["console"] = self.console_context(request, obj)
        return super().change_view(request, object_id, form_url, context)

    def console_context(self, request: HttpRequest, integration: Integration) -> dict:
        return {
            "health": integration_health(integration),
            "can_operate": self.has_operate_permission(request, integration),
            "can_activate": self._may_activate(request, integration),
            "job_types": sync_job_type_choices(integration),
            "recent_jobs": list(SyncJob.objects.filter(integration=integration)
                                .order_by("-created_at", "-id")
                                .only("id", "job_type", "trigger", "status", "records_processed", "records_failed",
                                      "created_at", "completed_at", "integration_id")[:RECENT]),
            "recent_calls": list(IntegrationLog.objects.filter(integration=integration)
                                 .order_by("-created_at", "-id")
                                 .only("id", "action", "method", "status_code", "duration_ms", "error_message",
                                       "created_at", "integration_id")[:RECENT]),
            "recent_webhooks": list(IncomingWebhook.objects.filter(integration=integration)
                                    .order_by("-received_at", "-id")
                                    .only("id", "event_type", "status", "retry_count", "received_at",
                                          "integration_id")[:RECENT]),
            "endpoints": list(WebhookEndpoint.objects.filter(integration=integration)
                              .order_by("-created_at").defer("secret", "previous_secret")[:RECENT]),
            "recent": RECENT,
        }

    # ---------------------------------------------------------------- the buttons
    def _operable(self, request: HttpRequest, object_id: str) -> Integration:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such integration.")  # another organization's integration is not found
        if not self.has_operate_permission(request, obj):
            raise PermissionDenied
        return obj

    def _back(self, obj: Integration) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[obj.pk]))

    def sync_now_view(self, request: HttpRequest, object_id: str):
        """Start a job of the chosen type (manual trigger) and open its page, where its progress refreshes."""
        obj = self._operable(request, object_id)
        job_type = request.POST.get("job_type", "")
        if job_type not in dict(sync_job_type_choices(obj)):
            self.message_user(request, f"{obj.provider} cannot run {job_type or 'that job'}.", messages.ERROR)
            return self._back(obj)
        try:
            job = sync_job_start(integration=obj, trigger=Trigger.MANUAL, job_type=job_type)
        except ApplicationError as exc:
            self.message_user(request, f"Could not start a sync of {obj}: {exc.message}", messages.ERROR)
            return self._back(obj)
        record_audit(action="sync.started", request=request, target=job,
                     details={"integration": obj.code, "job_type": job_type, "trigger": Trigger.MANUAL})
        self.message_user(request, f"Started {job.get_job_type_display().lower()} of {obj} (job {job.pk}).",
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:syncjobs_syncjob_change", args=[job.pk]))

    def _may_activate(self, request: HttpRequest, integration: Integration) -> bool:
        return integration.status in ACTIVATABLE and self.has_change_permission(request, integration)

    def test_view(self, request: HttpRequest, object_id: str):
        """Test the connection; the page's script shows the answer next to the button (JSON), else a message.

        A pass of an integration that is not on answers `activate` (the URL of activate_view) to a user who
        may change it, and the script offers it as a button.
        """
        obj = self._operable(request, object_id)
        result = integration_test_connection(integration=obj)
        record_audit(action="integration.tested", request=request, target=obj,
                     details={"ok": result.ok, "latency_ms": result.latency_ms})
        offer = result.ok and self._may_activate(request, obj)
        if _wants_json(request):
            activate = reverse("admin:integrations_integration_activate", args=[obj.pk]) if offer else None
            return JsonResponse({"ok": result.ok, "latency_ms": result.latency_ms, "detail": result.detail,
                                 "status": obj.status, "activate": activate})
        if result.ok:
            hint = f" It is {obj.status}: use Test and activate to switch it on." if offer else ""
            self.message_user(request, f"{obj}: connection OK in {result.latency_ms} ms. {result.detail}{hint}",
                              messages.SUCCESS)
        else:
            self.message_user(request, f"{obj}: connection failed. {result.detail}", messages.ERROR)
        return self._back(obj)

    def activate_view(self, request: HttpRequest, object_id: str):
        """Test once more and, if it passes, switch the integration on (the change role, as the list's action)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such integration.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        previous = obj.status
        outcome = integration_test_and_activate(integration=obj)
        result = outcome.result
        record_audit(action="integration.tested", request=request, target=obj,
                     details={"ok": result.ok, "latency_ms": result.latency_ms})
        if outcome.activated:
            record_audit(action="integration.activated", request=request, target=obj,
                         details={"from": previous, "after": "connection test"})
            text, level = f"{obj} is active: connection OK in {result.latency_ms} ms.", messages.SUCCESS
        elif result.ok:
            text, level = f"{obj} is {obj.status}; nothing to activate.", messages.INFO
        else:
            text, level = f"{obj} stays {obj.status}: connection failed. {result.detail}", messages.ERROR
        if _wants_json(request):
            return JsonResponse({"ok": result.ok, "activated": outcome.activated, "status": obj.status,
                                 "detail": text})
        self.message_user(request, text, level)
        return self._back(obj)
