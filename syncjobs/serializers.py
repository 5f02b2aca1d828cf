"""Shapes of the sync API: strict input to start a job, the job as it runs; an auto-fulfil run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictBooleanField, StrictCharField, StrictInputSerializer, StrictIntegerField

from .models import MAX_EVERY_MINUTES, JobType, SyncJob
from .selectors import sync_job_wait


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time or a plain date (midnight UTC); only a string, so 1700000000 is not silently a time."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        if len(value) == 10:
            try:
                return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
            except ValueError:
                self.fail("invalid", format="ISO 8601")
        return super().to_internal_value(value)


class SyncStartSerializer(StrictInputSerializer):
    """POST /api/integrations/{id}/sync/: everything optional; `{}` runs the scheduled sync now."""

    job_type = serializers.ChoiceField(
        choices=JobType.choices, required=False, default=JobType.SCHEDULED_SYNC,
        help_text="scheduled_sync (every resource the provider has, the default), sync_products, sync_inventory, "
        "sync_order_status (the orders pull its schedule runs more often), "
        "sync_orders, or backfill (orders placed in [since, until)).",
    )
    since = StrictDateTimeField(
        required=False, help_text="ISO 8601 time or date. Pull what changed since then instead of since the last sync."
    )
    until = StrictDateTimeField(required=False, help_text="Backfill only: orders placed before this time.")
    full = StrictBooleanField(required=False, default=False, help_text="Walk everything, ignoring the last sync.")


class SyncJobWaitSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=["queued", "retry_scheduled", "not_sent"],
        help_text="queued: its message is in the sync queue, behind `jobs_ahead` others; retry_scheduled: a provider "
        "error, it runs again at `retry_at`; not_sent: the broker did not take its message, the scheduler sends it "
        "again.",
    )
    message = serializers.CharField(help_text='What the job page shows, e.g. "Queued behind 3 jobs on the \'sync\' '
                                    'queue; 2 running."')
    queue = serializers.CharField(help_text="The Celery queue sync jobs run from (SYNC_TASK_QUEUE).")
    jobs_ahead = serializers.IntegerField(help_text="Pending jobs (of every organization) queued before this one.")
    jobs_running = serializers.IntegerField(help_text="Jobs workers are running now (of every organization).")
    retry_at = serializers.DateTimeField(allow_null=True)


class SyncJobSerializer(serializers.ModelSerializer):
    integration_code = StrictCharField(source="integration.code", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    waiting = serializers.SerializerMethodField(
        help_text="Why a pending job has not started yet; null once it runs (or when it is not pending)."
    )

    class Meta:
        model = SyncJob
        fields = [
            "id", "integration", "integration_code", "job_type", "trigger", "status", "params",
            "started_at", "completed_at", "duration_seconds", "records_processed", "records_created",
            "records_updated", "records_unchanged", "records_failed", "pages_processed", "cursor",
            "error_message", "metadata", "cancel_requested", "attempts", "heartbeat_at", "waiting", "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(SyncJobWaitSerializer(allow_null=True))
    def get_waiting(self, job: SyncJob) -> dict[str, Any] | None:
        wait = sync_job_wait(job)
        return None if wait is None else SyncJobWaitSerializer(wait).data


class AutoFulfillSerializer(StrictInputSerializer):
    order_ids = serializers.ListField(child=StrictIntegerField(min_value=1), required=False, max_length=500,
                                      help_text="Only these orders; leave out for every unshipped order (100 at most).")


class AutoFulfillResultSerializer(serializers.Serializer):
    fulfilled = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField())


class LabelFetchSerializer(StrictInputSerializer):
    order_ids = serializers.ListField(child=StrictIntegerField(min_value=1), min_length=1, max_length=500)
    missing_only = serializers.BooleanField(required=False, default=True,
                                            help_text="Skip orders that already have a stored label.")


class LabelFetchResultSerializer(serializers.Serializer):
    fetched = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField())
class SyncScheduleSerializer(serializers.Serializer):
    """One of an integration's schedules: what it starts, how often, and what its last due time did."""

    job_type = serializers.CharField(help_text="sync_products, sync_inventory, sync_orders, sync_order_status, "
                                               "check_health… (only those the provider runs).")
    label = serializers.SerializerMethodField()
    every_minutes = serializers.IntegerField()
    enabled = serializers.BooleanField(help_text="Syncs also need the integration's `auto_sync_enabled`.")
    next_due_at = serializers.DateTimeField(allow_null=True, help_text="null: due now (never ran).")
    last_started_at = serializers.DateTimeField(allow_null=True)
    last_result = serializers.CharField(help_text="started, skipped: why, waiting for …, health check sent, "
                                                  "passed, failed: why.")
    last_job_id = serializers.IntegerField(allow_null=True, help_text="The sync job its last start created.")
    last_job_status = serializers.SerializerMethodField()

    def get_label(self, schedule) -> str:
        from .cadences import label

        return label(schedule.job_type)

    def get_last_job_status(self, schedule) -> str | None:
        return schedule.last_job.status if schedule.last_job_id and schedule.last_job else None


class SyncScheduleUpdateSerializer(StrictInputSerializer):
    """PATCH /api/integrations/{id}/schedules/{job_type}/: either or both."""

    every_minutes = StrictIntegerField(required=False, min_value=1, max_value=MAX_EVERY_MINUTES,
                                       help_text="1 minute to a week. The next due time moves to this interval "
                                                 "after the last start (now, if that has passed).")
    enabled = StrictBooleanField(required=False)
