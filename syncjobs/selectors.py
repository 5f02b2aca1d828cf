"""Reads of sync jobs, always scoped to an organization when a caller outside the engine asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import Organization
from config.errors import NotFound
from connectors import registry
from integrations.models import Integration
from integrations.selectors import _as_id

from .models import ACTIVE_STATUSES, JobStatus, JobType, SyncJob
from .resources import JOB_RESOURCES, resources_for


def sync_job_list(*, organization: Organization) -> QuerySet[SyncJob]:
    return SyncJob.objects.filter(organization=organization).select_related("integration")


def sync_job_get(*, organization: Organization, job_id: int | str) -> SyncJob:
    """The organization's job with this id; NOT_FOUND (404) otherwise, whoever else owns it."""
    pk = _as_id(job_id)
    job = None if pk is None else sync_job_list(organization=organization).filter(pk=pk).first()
    if job is None:
        raise NotFound("Sync job not found.", details={"id": str(job_id)})
    return job


def sync_job_active(*, integration: Integration, job_type: str) -> SyncJob | None:
    return SyncJob.objects.filter(integration=integration, job_type=job_type, status__in=ACTIVE_STATUSES).first()


def sync_jobs_stale(*, expired_before: datetime, lost_before: datetime) -> QuerySet[SyncJob]:
    """Active jobs with no sign of life since `expired_before` (the partial index on heartbeat_at serves this):
    running ones, and pending ones with no message on its way (none sent, or one sent before `lost_before`)."""
    waiting_for_nothing = Q(nudged_at__isnull=True) | Q(nudged_at__lt=lost_before)
    return (SyncJob.objects.filter(status__in=ACTIVE_STATUSES, heartbeat_at__lt=expired_before)
            .filter(Q(status=JobStatus.RUNNING) | waiting_for_nothing).order_by("heartbeat_at"))


@dataclass(frozen=True)
class JobWait:
    """Why a pending job has not started: what its page and the API show."""

    reason: str  # queued, retry_scheduled or not_sent
    message: str
    queue: str
    jobs_ahead: int = 0  # pending jobs whose messages went to the queue before its own
    jobs_running: int = 0  # jobs workers are running now
    retry_at: datetime | None = None


NO_WORKER_HINT_SECONDS = 15  # first in line, nothing running, and still waiting: is anything consuming the queue?


def sync_job_wait(job: SyncJob, *, now: datetime | None = None) -> JobWait | None:
    """Why `job` waits, or None when it does not (it is not pending).

    The sync queue is shared by every organization, so the counts are of every job in it: a count says how long
    the line is, never whose jobs are in it.
    """
    if job.status != JobStatus.PENDING:
        return None
    now = now or timezone.now()
    queue = settings.SYNC_TASK_QUEUE
    if job.heartbeat_at > now:
        error = (job.metadata or {}).get("last_retry_error", "")
        return JobWait(reason="retry_scheduled", queue=queue, retry_at=job.heartbeat_at,
                       message=f"Retrying at {job.heartbeat_at:%H:%M:%S %Z} after a provider error"
                       + (f": {error}" if error else "."))
    if job.nudged_at is None:
        return JobWait(reason="not_sent", queue=queue,
                       message="Its message could not be sent (the broker did not answer); the scheduler sends it "
                       f"again within {settings.SYNC_JOB_LEASE_SECONDS + 30} s.")
    ahead = (SyncJob.objects.filter(status=JobStatus.PENDING, heartbeat_at__lte=now)
             .filter(Q(nudged_at__lt=job.nudged_at) | Q(nudged_at=job.nudged_at, pk__lt=job.pk)).count())
    live = now - timedelta(seconds=settings.SYNC_JOB_LEASE_SECONDS)
    running = SyncJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__gte=live).count()
    line = f"Queued behind {ahead} job{'' if ahead == 1 else 's'}" if ahead else "Next in line"
    message = f"{line} on the {queue!r} queue; {running} running."
    if not ahead and not running and (now - job.nudged_at).total_seconds() > NO_WORKER_HINT_SECONDS:
        message += f" No worker has taken it yet: is a worker consuming the {queue!r} queue?"
    return JobWait(reason="queued", queue=queue, jobs_ahead=ahead, jobs_running=running, message=message)


def _covering(resource: str) -> list[str]:
    return [job_type for job_type, names in JOB_RESOURCES.items() if resource in names]


def sync_watermark(*, integration: Integration, resource: str) -> datetime | None:
    """Since when the resource is known to be in sync: the start of the last completed job that pulled it up to
    its own start (a backfill bounded by `until` does not count). Falls back to the integration's
    `last_sync_at` when it has no job history at all (an integration synced before its jobs were kept)."""
    completed = SyncJob.objects.filter(integration=integration, status=JobStatus.COMPLETED)
    mark = (completed.filter(job_type__in=_covering(resource)).exclude(params__has_key="until")
            .aggregate(mark=Max("started_at"))["mark"])
    if mark is None and not completed.exists():
        return integration.last_sync_at
    return mark


def sync_job_watermark_ids() -> list[int]:
    """The newest completed job of each integration and type: the ones `sync_watermark` reads."""
    rows = (SyncJob.objects.filter(status=JobStatus.COMPLETED).values("integration_id", "job_type")
            .annotate(last=Max("pk")).values_list("last", flat=True))
    return list(rows)


def sync_job_resumable(*, integration: Integration, job_type: str, params: dict) -> SyncJob | None:
    """The newest job of this type with exactly these params, if it did not complete and has work left."""
    recent = SyncJob.objects.filter(integration=integration, job_type=job_type).order_by("-created_at", "-pk")
    for job in recent[:50]:
        if job.params == params:
            unfinished = job.cursor.get("step", 0) < len(job.cursor.get("steps", []))
            return job if job.status != JobStatus.COMPLETED and unfinished else None
    return None


def sync_job_type_choices(integration: Integration) -> list[tuple[str, str]]:
    """The job types this integration's provider can run (the engine's own rule), as (value, label) choices."""
    if not registry.is_registered(integration.provider):
        return []
    supports = registry.get(integration.provider).supports
    return [(value, label) for value, label in JobType.choices if resources_for(value, supports)]
