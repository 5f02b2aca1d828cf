"""SyncJob: one run of the sync engine for one integration, and the row that makes it resumable and visible.

The row is the job's state of record. The Celery message only says "run job
N": everything the engine needs to carry on after a crash (which resources,
from when, the provider cursor of the next page) is in `cursor`, written in the
same transaction as the page it follows. `heartbeat_at` is the lease: a
running job that has not checkpointed within SYNC_JOB_LEASE_SECONDS is
presumed dead and may be claimed again; `lease_token` makes sure the old
worker, should it wake up, cannot write another page.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from integrations.models import Integration


class JobType(models.TextChoices):
    SCHEDULED_SYNC = "scheduled_sync", "Scheduled sync (every resource)"
    SYNC_PRODUCTS = "sync_products", "Sync products"
    SYNC_INVENTORY = "sync_inventory", "Sync inventory"
    SYNC_ORDERS = "sync_orders", "Sync orders"
    SYNC_CAMPAIGNS = "sync_campaigns", "Sync campaigns"
    SYNC_POSTS = "sync_posts", "Sync social accounts and posts"
    BACKFILL = "backfill", "Backfill orders"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual (admin)"
    API = "api", "API"
    WEBHOOK = "webhook", "Webhook"
    COMMAND = "command", "Command"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class SyncJob(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_jobs")
    # Denormalized from the integration so tenant-scoped lists use one indexed column (as IntegrationLog does).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sync_jobs")
    job_type = models.CharField(max_length=32, choices=JobType.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    params = models.JSONField(
        default=dict, blank=True, help_text="What was asked: since, until (ISO 8601), full. Fixed at creation."
    )

    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    records_processed = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_unchanged = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    pages_processed = models.PositiveIntegerField(default=0)
    cursor = models.JSONField(
        default=dict, blank=True, help_text="Checkpoint: the resources, the current one, its `since` and next page."
    )
    error_message = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True, help_text="First record errors, retries, skipped counts.")
    cancel_requested = models.BooleanField(default=False)

    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker (or a command) claimed the job.")
    heartbeat_at = models.DateTimeField(
        default=timezone.now, help_text="Last checkpoint or claim; the lease runs from here (or the retry time)."
    )
    lease_token = models.CharField(max_length=32, blank=True, default="")
    nudged_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the message that runs it was sent (empty: none is on its way); the scheduler sends another "
        "only once this is SYNC_JOB_NUDGE_TTL_SECONDS old.",
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one pending or running job per integration and type, whoever asks and however fast.
            models.UniqueConstraint(
                fields=["integration", "job_type"],
                condition=Q(status__in=["pending", "running"]),
                name="syncjob_one_active_per_type",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in JobStatus]), name="syncjob_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="syncjob_org_created"),
            models.Index(fields=["integration", "-created_at"], name="syncjob_integration_created"),
            models.Index(
                fields=["heartbeat_at"], name="syncjob_active_heartbeat", condition=Q(status__in=["pending", "running"])
            ),
            models.Index(fields=["status", "completed_at"], name="syncjob_status_completed"),
            # A superuser's unscoped list: its date hierarchy's MIN/MAX and its newest-first page.
            models.Index(fields=["created_at"], name="syncjob_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.completed_at or timezone.now()
        return round((end - self.started_at).total_seconds(), 3)
