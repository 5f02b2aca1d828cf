"""The Switchyard admin site: the index is the operators' dashboard, beat's tables are "Schedules", and a
running sync job's page refreshes its progress by itself.

Installed through `console.apps.SwitchyardAdminConfig` in INSTALLED_APPS (in place
of "django.contrib.admin"), so `admin.site` and every `@admin.register` are this
site; nothing else changes for the ModelAdmins (console/admin/).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.audit import record_audit
from accounts.models import Role
from accounts.staff_scope import organization_ids_with_role
from config.errors import ApplicationError
from syncjobs.models import FINISHED_STATUSES, SyncJob
from syncjobs.selectors import sync_job_wait
from syncjobs.services import sync_job_cancel

from . import charts
from .dashboard import dashboard_get, failing_endpoints

# django-celery-beat's app, shown under this name and after the apps that do the work.
SCHEDULES_APP = "django_celery_beat"
SCHEDULES_NAME = "Schedules"
# Third-party apps named for what an operator finds there.
APP_NAMES = {SCHEDULES_APP: SCHEDULES_NAME, "axes": "Sign-in lockouts"}


class SwitchyardAdminSite(admin.AdminSite):
    site_header = "Switchyard"
    site_title = "Switchyard admin"
    index_title = "Operator console"
    index_template = "admin/switchyard/index.html"
    # "View site" (shown as "API docs", templates/admin/base_site.html): this site's pages are its API.
    site_url = "/api/docs/"
    # No app list beside every page: at 1280 px it leaves a list with filters about 630 px, and the home page
    # and the breadcrumbs already lead everywhere.
    enable_nav_sidebar = False

    # ---------------------------------------------------------------- the dashboard
    def dashboard_organization_ids(self, request: HttpRequest) -> list[int] | None:
        return organization_ids_with_role(request, Role.VIEWER)

    def index(self, request, extra_context=None):
        ids = self.dashboard_organization_ids(request)
        context = dict(extra_context or {})
        if ids is None or ids:
            board = dashboard_get(organization_ids=ids)
            operated = organization_ids_with_role(request, Role.OPERATOR)
            context.update(
                dashboard=board,
                can_analyse=operated is None or bool(operated),  # the Run analysis button: operators only
                failing_endpoints=failing_endpoints(organization_ids=ids),
                sync_chart=charts.stacked_bars(
                    title="Syncs per hour by result", hours=board.syncs.hours, values=board.syncs.values,
                    order=("completed", "failed", "cancelled", "running", "pending")),
                incoming_chart=charts.stacked_bars(
                    title="Incoming webhooks per hour by status", hours=board.incoming.hours,
                    values=board.incoming.values,
                    order=("completed", "ignored", "failed", "processing", "pending")),
                delivery_chart=charts.rate_line(
                    title="Outgoing delivery success rate per hour", hours=board.deliveries.hours,
                    rates=board.delivery_success_rate),
            )
        return super().index(request, context)

    # ---------------------------------------------------------------- Schedules
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            app["name"] = APP_NAMES.get(app["app_label"], app["name"])
        schedules = [app for app in apps if app["app_label"] == SCHEDULES_APP]
        return [app for app in apps if app["app_label"] != SCHEDULES_APP] + schedules

    def app_index(self, request, app_label, extra_context=None):
        if app_label in APP_NAMES:
            extra_context = {**(extra_context or {}), "title": f"{APP_NAMES[app_label]} administration"}
        return super().app_index(request, app_label, extra_context)

    # ---------------------------------------------------------------- sync job progress
    def get_urls(self):
        own = [
            path("switchyard/syncjob/<int:job_id>/progress/", self.admin_view(self.sync_job_progress),
                 name="switchyard_syncjob_progress"),
            path("switchyard/syncjob/<int:job_id>/cancel/", self.admin_view(require_POST(self.sync_job_cancel)),
                 name="switchyard_syncjob_cancel"),
        ]
        return own + super().get_urls()

    def _sync_job(self, request: HttpRequest, job_id: int):
        job_admin = self._registry.get(SyncJob)
        if job_admin is None or not job_admin.has_view_permission(request):
            raise PermissionDenied
        job = job_admin.get_queryset(request).select_related(None).filter(pk=job_id).first()
        if job is None:
            raise Http404("No such sync job.")  # another organization's job is not found, as everywhere
        return job_admin, job

    def sync_job_progress(self, request: HttpRequest, job_id: int) -> JsonResponse:
        """The job's counts so far, for the change page's auto-refresh (one indexed read).

        The page's script fills its live panel from this every two seconds, and when the job moved (status,
        counts, heartbeat, last save) it re-reads the page itself and swaps in every field's new value.
        """
        _, job = self._sync_job(request, job_id)
        duration = job.duration_seconds
        rate = round(job.records_processed / duration, 1) if duration else None
        return JsonResponse({
            "id": job.pk,
            "status": job.status,
            "status_label": job.get_status_display(),
            "finished": job.status in FINISHED_STATUSES,
            "cancel_requested": job.cancel_requested,
            "records_processed": job.records_processed,
            "records_created": job.records_created,
            "records_updated": job.records_updated,
            "records_failed": job.records_failed,
            "pages_processed": job.pages_processed,
            "records_per_second": rate,
            "duration_seconds": duration,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "completed_at": job.completed_at.isoformat() if job.completed_at else None,
            "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
            "updated_at": job.updated_at.isoformat() if job.updated_at else None,
            "error_message": job.error_message,
            "waiting": getattr(sync_job_wait(job), "message", ""),  # why a pending job has not started
        })  # admin_view makes it never_cache

    def sync_job_cancel(self, request: HttpRequest, job_id: int) -> HttpResponseRedirect:
        """The change page's Cancel button: an operator action, audited."""
        job_admin, job = self._sync_job(request, job_id)
        if not job_admin.has_operate_permission(request, job):
            raise PermissionDenied
        try:
            job = sync_job_cancel(job=job)
        except ApplicationError as exc:
            messages.error(request, f"Job {job.pk}: {exc.message}")
        else:
            record_audit(action="sync.cancelled", request=request, target=job)
            note = "cancelled" if job.status == "cancelled" else "will stop after its current page"
            messages.success(request, f"Job {job.pk} {note}.")
        return HttpResponseRedirect(reverse("admin:syncjobs_syncjob_change", args=[job.pk]))
