"""Admin for sync jobs: watch a job's progress, cancel it, resume a failed one. Jobs are made by the engine,
the API, the scheduler and the commands, never typed in, so the pages are read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils.html import format_html, format_html_join

from accounts.audit import record_audit
from config.errors import ApplicationError
from syncjobs.models import JobStatus, SyncJob
from syncjobs.selectors import sync_job_wait
from syncjobs.services import sync_job_cancel, sync_job_resume

from ..filters import OrganizationInScopeFilter
from ..pagination import LargeTableChangeList, LargeTablePaginator
from ..scoping import OrganizationScopedAdmin

ACTION_LIMIT = 50


@admin.register(SyncJob)
class SyncJobAdmin(OrganizationScopedAdmin):
    list_display = ("id", "integration", "job_type", "trigger", "status", "progress", "started_at", "completed_at")
    # Choices fields, and the user's organizations (not a SELECT DISTINCT organization over every job).
    list_filter = ("status", "job_type", "trigger", OrganizationInScopeFilter)
    list_select_related = ("integration",)
    search_fields = ("integration__code", "integration__name")
    date_hierarchy = "created_at"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    # Millions of rows: no full COUNT per page, dates from one MIN/MAX (console/pagination.py).
    paginator = LargeTablePaginator
    change_list_template = "admin/switchyard/large_table_change_list.html"  # its date hierarchy

    def get_changelist(self, request, **kwargs):
        return LargeTableChangeList
    actions = ("cancel", "resume")
    object_actions = ("resume",)  # Cancel has its own button beside the live progress
    object_action_labels = {"resume": "Resume from its checkpoint"}
    fields = (
        "integration", "organization", "job_type", "trigger", "status", "params", "progress", "current_step",
        "started_at", "completed_at", "duration", "heartbeat_at", "attempts", "cancel_requested",
        "records_processed", "records_created", "records_updated", "records_unchanged", "records_failed",
        "pages_processed", "error_message", "record_errors", "cursor", "metadata", "created_at", "updated_at",
    )
    readonly_fields = fields
    # Progress refreshing by itself and a Cancel button (console/site.py serves both).
    change_form_template = "admin/switchyard/syncjob_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        can_operate = job is not None and self.has_operate_permission(request, job)
        context = {**(extra_context or {}), "can_operate": can_operate,
                   "waiting": sync_job_wait(job) if job is not None else None}
        return super().change_view(request, object_id, form_url, context)

    def object_action_applies(self, name, obj):
        return obj.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @admin.display(description="progress")
    def progress(self, obj: SyncJob) -> str:
        return (f"{obj.records_processed:,} records, {obj.pages_processed:,} pages: {obj.records_created:,} new, "
                f"{obj.records_updated:,} changed, {obj.records_failed:,} failed")

    @admin.display(description="current step")
    def current_step(self, obj: SyncJob) -> str:
        steps = (obj.cursor or {}).get("steps", [])
        index = (obj.cursor or {}).get("step", 0)
        if not steps:
            return "—"
        if index >= len(steps):
            return f"done ({', '.join(s['resource'] for s in steps)})"
        step = steps[index]
        return f"{index + 1}/{len(steps)}: {step['resource']} since {step.get('since') or 'the beginning'}"

    @admin.display(description="duration (s)")
    def duration(self, obj: SyncJob):
        return obj.duration_seconds

    @admin.display(description="first record errors")
    def record_errors(self, obj: SyncJob):
        errors = (obj.metadata or {}).get("errors", [])
        if not errors:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li><code>{} {}</code>: {}</li>",
                             ((e.get("resource", ""), e.get("external_id", ""), e.get("error", "")) for e in errors)),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # ---------------------------------------------------------------- actions
    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel(self, request, queryset):
        self._each(request, queryset.filter(status__in=(JobStatus.PENDING, JobStatus.RUNNING)), sync_job_cancel,
                   "cancelled (a running job stops after its current page)", audit="sync.cancelled")

    @admin.action(description="Resume selected failed or cancelled jobs from their checkpoint", permissions=["operate"])
    def resume(self, request, queryset):
        self._each(request, queryset.filter(status__in=(JobStatus.FAILED, JobStatus.CANCELLED)), sync_job_resume,
                   "queued to resume", audit="sync.resumed")

    def _each(self, request, queryset, service, done: str, audit: str = "") -> None:
        count = 0
        for job in queryset[:ACTION_LIMIT]:
            try:
                service(job=job)
                count += 1
                if audit:
                    record_audit(action=audit, request=request, target=job)
            except ApplicationError as exc:
                self.message_user(request, f"Job {job.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{count} job(s) {done}.", messages.SUCCESS)
