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

from django.core.validators import MaxValueValidator, MinValueValidator
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
    SYNC_ORDER_STATUS = "sync_order_status", "Sync order status"
    SYNC_CAMPAIGNS = "sync_campaigns", "Sync campaigns (ad accounts, campaigns, ad sets)"
    SYNC_AD_METRICS = "sync_ad_metrics", "Sync ad metrics (spend per campaign and day)"
    SYNC_POSTS = "sync_posts", "Sync social accounts and posts"
    SYNC_MARKETING_CAMPAIGNS = "sync_marketing_campaigns", "Sync marketing campaigns (CRM)"
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
MAX_EVERY_MINUTES = 7 * 24 * 60  # a schedule's longest interval: a longer gap is a switched-off schedule
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


class SyncSchedule(models.Model):
    """When the scheduler next starts one kind of job (`job_type`, a key of syncjobs/cadences.py) for one integration.

    One row per integration and job type its provider can run, made from the cadence table (defaults there,
    `schedules_ensure`); operators change `every_minutes` and `enabled` in the admin or the API. `next_due_at` is
    the claim: the scheduler moves it on in the same transaction that starts the job, under a row lock, so two
    beats (or a beat and a cron call) never both start it. Empty `next_due_at`: due now.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_schedules")
    job_type = models.CharField(max_length=32, help_text="What it starts: a sync job type, or check_health.")
    every_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EVERY_MINUTES)],
        help_text="Minutes from one start (or finish) to the next; 1 to 10080 (a week).",
    )
    enabled = models.BooleanField(default=True)
    next_due_at = models.DateTimeField(null=True, blank=True, help_text="Empty: due now.")
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(SyncJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_result = models.CharField(max_length=255, blank=True, default="",
                                   help_text="What its last due time did: started, skipped (why), passed, failed.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "job_type"], name="syncschedule_one_per_type"),
            models.CheckConstraint(condition=Q(every_minutes__gte=1), name="syncschedule_every_positive"),
        ]
        indexes = [models.Index(fields=["next_due_at"], name="syncschedule_due", condition=Q(enabled=True))]

    def __str__(self) -> str:
        return f"{self.job_type} every {self.every_minutes} min"
