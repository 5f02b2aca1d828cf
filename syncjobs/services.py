"""Writes to sync jobs: start, claim, run, cancel, resume, and what a finished job does to its integration.

The life of a job: `sync_job_start` writes a pending row (the database refuses
a second pending or running job of the same integration and type) and, after
commit, enqueues `run_sync_job`. A worker `sync_job_run`s it: it claims the row
(pending, or running with an expired lease) under a fresh lease token, and the
engine writes page after page. At the end the job is completed or cancelled;
a transient provider error puts it back to pending with a retry time (the task
retries it from the checkpoint), a permanent one fails it. Every outcome is
recorded on the integration and published as an event in the same transaction.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.broker import nudge
from config.errors import ApplicationError, CapabilityNotSupported, IntegrationInactive, SyncFailed, ValidationError
from connectors import registry
from connectors.errors import is_transient
from integrations.encryption import check_readable
from integrations.events import publish
from integrations.health import integration_record_failure, integration_synced
from integrations.models import Integration, IntegrationStatus
from integrations.payloads import integration_summary
from integrations.services import scrub_secrets

from . import selectors
from .engine import LeaseLost, PageReport, SyncEngine
from .models import FINISHED_STATUSES, JobStatus, JobType, SyncJob, Trigger
from .resources import Writer, resources_for
from .schedules import schedule_job_finished

logger = logging.getLogger(__name__)

# An integration in these states has no working credentials: a sync could only fail.
_UNSYNCABLE = (IntegrationStatus.INACTIVE, IntegrationStatus.PENDING_AUTH)


class RetryLater(Exception):
    """A transient provider error: the job is pending again and should run after `countdown` seconds."""

    def __init__(self, countdown: int, reason: str):
        super().__init__(reason)
        self.countdown = countdown


class SyncJobFinished(ApplicationError):
    code = "SYNC_JOB_FINISHED"
    http_status = 409
    default_message = "The sync job has already finished."


# ---------------------------------------------------------------------- start
def enqueue_job(job_id: int) -> bool:
    """Send the Celery message that runs the job, best effort (config/broker.py), to the sync queue.

    The caller marked the job (`nudged_at`) when it made it pending: its message is on its way, and the scheduler
    leaves it alone for SYNC_JOB_NUDGE_TTL_SECONDS however long the queue ahead of it is. A send that fails
    unmarks it, and `sync_jobs_requeue_stale` sends it again once its lease ran out: a dead broker fails nothing.
    """
    from .tasks import run_sync_job

    sent = nudge(run_sync_job, (job_id,), queue=settings.SYNC_TASK_QUEUE)
    if not sent:
        SyncJob.objects.filter(pk=job_id, status=JobStatus.PENDING).update(nudged_at=None)
    return sent


def sync_job_start(
    *,
    integration: Integration,
    trigger: str,
    job_type: str = JobType.SCHEDULED_SYNC,
    since: datetime | None = None,
    until: datetime | None = None,
    full: bool = False,
    enqueue: bool = True,
) -> SyncJob:
    """Create a pending job and, once the caller's transaction commits, enqueue it.

    Refused, with nothing written: an integration that is inactive or awaiting
    authorization (INTEGRATION_INACTIVE, 409, naming the call that fixes it), one
    whose secrets this process cannot read (SECRETS_UNREADABLE, 503), a job type the provider cannot do
    (CAPABILITY_NOT_SUPPORTED), inconsistent options (VALIDATION_ERROR), and a
    second job of the same type while one is pending or running (SYNC_FAILED,
    409, naming that job) — the partial unique constraint decides that race,
    so two requests at the same instant cannot both start one.
    """
    params = _params(job_type=job_type, since=since, until=until, full=full)
    if integration.status in _UNSYNCABLE:
        raise _inactive(integration)
    check_readable(integration)  # SECRETS_UNREADABLE now rather than a job that can only fail
    resources = resources_for(job_type, registry.get(integration.provider).supports)
    if not resources:
        raise CapabilityNotSupported(
            f"{integration.provider} does not support {job_type}.",
            details={"provider": integration.provider, "job_type": job_type},
        )
    job = SyncJob(integration=integration, organization_id=integration.organization_id, job_type=job_type,
                  trigger=trigger, params=params, nudged_at=timezone.now() if enqueue else None)
    job.cursor = _plan(job, [r.name for r in resources])
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        running = selectors.sync_job_active(integration=integration, job_type=job_type)
        if running is None:  # it finished between our insert and this read: the caller may simply try again
            raise SyncFailed("Another job of this type was starting; try again.", details={"job_type": job_type})
        raise SyncFailed(
            f"A {job_type} job is already {running.status} for this integration (job {running.pk}).",
            details={"job_id": running.pk, "job_type": job_type, "status": running.status},
        )
    if enqueue:
        transaction.on_commit(lambda: enqueue_job(job.pk))
    return job


def _inactive(integration: Integration) -> IntegrationInactive:
    """INTEGRATION_INACTIVE naming the call that fixes it (`details.fix`)."""
    api = f"/api/integrations/{integration.pk}/"
    if integration.status == IntegrationStatus.PENDING_AUTH:
        fix = (f"reconnect it (POST /api/integrations/oauth/initiate/ with integration_id {integration.pk}), or "
               f"set a new token with PATCH {api} (a passing connection test then activates it)")
        message = f"The integration is waiting for new credentials (pending_auth): {fix}, then sync."
    else:
        fix = f"POST {api}activate/ (tests the connection, then activates it), or PATCH {api} with status active"
        message = f"The integration is {integration.status}: activate it with {fix}, then sync."
    return IntegrationInactive(message, details={"integration_status": integration.status, "fix": fix})


def _params(*, job_type: str, since: datetime | None, until: datetime | None, full: bool) -> dict[str, Any]:
    if job_type not in JobType.values:
        raise ValidationError(f"Unknown job type {job_type!r}.", details={"job_type": ["not a job type"]})
    errors = {}
    if full and since is not None:
        errors["full"] = ["A full sync walks everything: give `since` or `full`, not both."]
    if until is not None and job_type != JobType.BACKFILL:
        errors["until"] = ["Only a backfill takes `until`."]
    if since is not None and until is not None and until <= since:
        errors["until"] = ["`until` must be after `since`."]
    if since is not None and since > timezone.now():
        errors["since"] = ["`since` is in the future."]
    if errors:
        raise ValidationError(details=errors)
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    if full:
        params["full"] = True
    return params


def _plan(job: SyncJob, resource_names: list[str]) -> dict[str, Any]:
    """The checkpoint a job starts from: each resource with the `since` its pull starts at, step 0, no page.

    A full sync and a backfill without `since` walk everything; an explicit
    `since` wins; otherwise an incremental sync starts at the resource's
    watermark (the start of the last completed sync that covered it) minus
    SYNC_OVERLAP_SECONDS, so whatever changed while that sync ran comes again.
    """
    overlap = timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    steps = []
    for name in resource_names:
        if job.params.get("full") or (job.job_type == JobType.BACKFILL and "since" not in job.params):
            since = None
        elif "since" in job.params:
            since = job.params["since"]
        else:
            mark = selectors.sync_watermark(integration=job.integration, resource=name)
            since = (mark - overlap).isoformat() if mark else None
        steps.append({"resource": name, "since": since})
    return {"steps": steps, "step": 0, "page": None}


# ---------------------------------------------------------------------- claim and run
def sync_job_claim(*, job_id: int) -> tuple[SyncJob, str] | None:
    """Take the job for this worker: a pending job, or a running one whose lease expired (its worker died).

    One conditional UPDATE, so of two workers handed the same job (a duplicated
    or redelivered message) exactly one gets it; the other gets None and does
    nothing. Returns the job and the lease token its pages must be written under.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    expired = now - timedelta(seconds=settings.SYNC_JOB_LEASE_SECONDS)
    claimed = SyncJob.objects.filter(pk=job_id).filter(
        Q(status=JobStatus.PENDING) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=expired)
    ).update(
        status=JobStatus.RUNNING, lease_token=token, heartbeat_at=now, attempts=F("attempts") + 1, nudged_at=None,
        started_at=Coalesce("started_at", now), updated_at=now,
    )
    if not claimed:
        return None
    return SyncJob.objects.select_related("integration", "organization").get(pk=job_id), token


def sync_job_run(
    *,
    job_id: int,
    writers: dict[str, Writer] | None = None,
    on_page: Callable[[PageReport], None] | None = None,
    claimed: tuple[SyncJob, str] | None = None,
) -> SyncJob | None:
    """Claim the job and run it to its end. Idempotent: a job another worker holds, or one that finished, is
    left alone (returns None).

    Raises RetryLater after a transient provider error while retries remain
    (the job is pending again, its checkpoint kept); fails the job on a
    permanent error. An unexpected exception (a bug) fails the job too, and is
    re-raised so that it is logged with its traceback.
    """
    claimed = claimed or sync_job_claim(job_id=job_id)
    if claimed is None:
        return None
    job, token = claimed
    try:
        with Heartbeat(job_id=job_id, token=token):
            status = SyncEngine(job, lease_token=token, writers=writers, on_page=on_page).run()
    except LeaseLost:
        logger.warning("Sync job %s was claimed by another worker; this one stops.", job_id)
        return None
    except Exception as exc:  # noqa: BLE001 - every failure of a job is recorded on it before anything else
        message = _describe(exc, job.integration)
        if is_transient(exc):
            countdown = _defer(job_id=job_id, token=token, message=message)
            if countdown is not None:
                raise RetryLater(countdown, message) from exc
        job = _finish(job_id=job_id, token=token, status=JobStatus.FAILED, error=message)
        if not isinstance(exc, ApplicationError):
            raise
        return job
    return _finish(job_id=job_id, token=token, status=status)


class Heartbeat:
    """Renews a held job's lease every quarter lease while it runs, from a thread of its own.

    Pages renew the lease too, but one page may wait on a slow provider (timeouts, retries, Retry-After) for
    longer than a lease. With the heartbeat the lease can be short (SYNC_JOB_LEASE_SECONDS, a minute) and a
    dead worker's job is taken up again within about two, while a live one is never presumed dead. A
    SIGKILLed worker takes the thread with it, which is the point. The renewal is conditional on our lease
    token, so once another worker holds the job (or it was deferred or finished) the thread stops.

    Not started inside a transaction (a caller's atomic block, a test): another connection could not see or
    lock the claimed row until that transaction ends, and would only wait on it.
    """

    def __init__(self, *, job_id: int, token: str):
        self.job_id, self.token = job_id, token
        self.interval = max(settings.SYNC_JOB_LEASE_SECONDS / 4, 0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sync-job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        if not connection.in_atomic_block:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                held = SyncJob.objects.filter(pk=self.job_id, lease_token=self.token, status=JobStatus.RUNNING)
                if not held.update(heartbeat_at=timezone.now()):
                    return
        except Exception:  # noqa: BLE001 - a missed renewal costs at worst a requeue the lease token makes safe
            logger.exception("Heartbeat of sync job %s failed", self.job_id)
        finally:
            connection.close()  # this thread's own connection


def _describe(exc: BaseException, integration: Integration) -> str:
    if isinstance(exc, ApplicationError):
        text = f"{exc.code}: {exc.message}"
    else:
        text = f"Internal error ({type(exc).__name__}); see the worker's log."
    return scrub_secrets(text, integration)


def _defer(*, job_id: int, token: str, message: str) -> int | None:
    """Put the job back to pending until its retry time; None when it has used up its retries."""
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().filter(pk=job_id, lease_token=token).first()
        if job is None:
            return None
        retries = int(job.metadata.get("retries", 0))
        if retries >= settings.SYNC_MAX_RETRIES:
            return None
        countdown = settings.SYNC_RETRY_BACKOFF_SECONDS * 2**retries
        job.status, job.lease_token = JobStatus.PENDING, ""
        job.heartbeat_at = timezone.now() + timedelta(seconds=countdown)  # the sweeper leaves it alone until then
        job.nudged_at = timezone.now()  # the task's retry message, sent as this returns
        job.metadata = {**job.metadata, "retries": retries + 1, "last_retry_error": message}
        job.save(update_fields=["status", "lease_token", "heartbeat_at", "nudged_at", "metadata", "updated_at"])
        return countdown


# ---------------------------------------------------------------------- finish
def _finish(*, job_id: int, token: str, status: str, error: str = "") -> SyncJob:
    """End a job we hold and record the outcome on its integration (integrations/health.py), with its event, in one
    transaction."""
    with transaction.atomic():
        job = SyncJob.objects.select_for_update(of=("self",)).select_related("integration").get(pk=job_id)
        if job.lease_token != token or job.status != JobStatus.RUNNING:
            return job
        now = timezone.now()
        job.status, job.completed_at, job.lease_token, job.error_message = status, now, "", error
        job.save(update_fields=["status", "completed_at", "lease_token", "error_message", "updated_at"])
        integration = Integration.objects.select_for_update().get(pk=job.integration_id)
        if status == JobStatus.COMPLETED:
            integration.last_sync_at = max(filter(None, (integration.last_sync_at, job.started_at)))
            integration.save(update_fields=["last_sync_at", "updated_at"])
            schedule_job_finished(job=job, now=now)
            integration_synced(integration=integration, sync_job=_job_summary(job))
        elif status == JobStatus.FAILED:
            publish("sync_job.failed", {"integration": integration_summary(integration), "sync_job": _job_summary(job)},
                    integration.organization, integration)
            schedule_job_finished(job=job, now=now)  # a failed sync waits a full interval too
            integration_record_failure(integration=integration, message=error)
        integration.refresh_from_db(fields=["next_sync_at"])  # its schedules just moved it
    job.integration = integration
    return job


def _job_summary(job: SyncJob) -> dict[str, Any]:
    """How a job appears in integration.synced and sync_job.failed."""
    return {
        "id": job.pk, "job_type": job.job_type, "trigger": job.trigger, "status": job.status,
        "records_processed": job.records_processed, "records_created": job.records_created,
        "records_updated": job.records_updated, "records_failed": job.records_failed,
        "error": job.error_message,
    }


# ---------------------------------------------------------------------- cancel, resume, sweep
def sync_job_cancel(*, job: SyncJob) -> SyncJob:
    """Cancel a job: a pending one (or one whose worker died) at once; a running one stops after its current page.

    Cancelling a cancelled job changes nothing; a completed or failed one is SYNC_JOB_FINISHED (409).
    """
    expired = timezone.now() - timedelta(seconds=settings.SYNC_JOB_LEASE_SECONDS)
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().get(pk=job.pk)
        if job.status == JobStatus.CANCELLED:
            return job
        if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            raise SyncJobFinished(f"Job {job.pk} already {job.status}.", details={"status": job.status})
        job.cancel_requested = True
        fields = ["cancel_requested", "updated_at"]
        if job.status == JobStatus.PENDING or job.heartbeat_at < expired:
            job.status, job.completed_at, job.lease_token = JobStatus.CANCELLED, timezone.now(), ""
            fields += ["status", "completed_at", "lease_token"]
        job.save(update_fields=fields)
    return job


def sync_job_resume(*, job: SyncJob, enqueue: bool = True) -> SyncJob:
    """Reopen a failed or cancelled job so it carries on from its checkpoint (its counts carry on too).

    SYNC_FAILED (409) when another job of its type is active, VALIDATION_ERROR
    when the job completed or is active itself.
    """
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise ValidationError(f"Job {job.pk} is {job.status}: only a failed or cancelled job can be resumed.",
                              details={"status": job.status})
    try:
        with transaction.atomic():
            reopened = SyncJob.objects.filter(pk=job.pk, status__in=(JobStatus.FAILED, JobStatus.CANCELLED)).update(
                status=JobStatus.PENDING, cancel_requested=False, completed_at=None, error_message="",
                heartbeat_at=timezone.now(), lease_token="", nudged_at=timezone.now() if enqueue else None,
                updated_at=timezone.now(),
            )
    except IntegrityError:
        running = selectors.sync_job_active(integration=job.integration, job_type=job.job_type)
        raise SyncFailed(
            f"A {job.job_type} job is already active for this integration"
            + (f" (job {running.pk})." if running else "."),
            details={"job_id": running.pk if running else None, "job_type": job.job_type},
        )
    if reopened and enqueue:
        transaction.on_commit(lambda: enqueue_job(job.pk))
    job.refresh_from_db()
    return job


def sync_jobs_requeue_stale(*, now: datetime | None = None) -> list[int]:
    """Re-queue active jobs past their lease: running ones whose worker died, pending ones with no message on its
    way (its send failed, or the one sent is older than SYNC_JOB_NUDGE_TTL_SECONDS: lost). A pending job merely
    queued behind others keeps the one message it has.

    Each goes back to pending (so the dead worker's lease token no longer
    writes) with a fresh heartbeat (so it is re-queued at most once per lease)
    and marked, and its message is sent after commit. Returns the job ids.
    """
    now = now or timezone.now()
    expired = now - timedelta(seconds=settings.SYNC_JOB_LEASE_SECONDS)
    lost = now - timedelta(seconds=settings.SYNC_JOB_NUDGE_TTL_SECONDS)
    requeued = []
    stale = selectors.sync_jobs_stale(expired_before=expired, lost_before=lost)
    for job_id in list(stale.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            job = stale.select_for_update().filter(pk=job_id).first()  # still stale, now that we hold it
            if job is None:
                continue
            job.status, job.lease_token, job.heartbeat_at, job.nudged_at = JobStatus.PENDING, "", now, now
            job.metadata = {**job.metadata, "requeued": int(job.metadata.get("requeued", 0)) + 1}
            job.save(update_fields=["status", "lease_token", "heartbeat_at", "nudged_at", "metadata", "updated_at"])
            transaction.on_commit(lambda pk=job.pk: enqueue_job(pk))
        requeued.append(job_id)
    return requeued


def sync_jobs_purge(*, older_than_days: int | None = None, batch_size: int = 2000) -> int:
    """Delete finished jobs past retention, in batches; the newest completed job of each integration and type is
    kept whatever its age, because incremental syncs start from it (see `_plan`)."""
    days = settings.SYNC_JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("older_than_days must not be negative.")
    cutoff = timezone.now() - timedelta(days=days)
    keep = selectors.sync_job_watermark_ids()
    expired = (SyncJob.objects.filter(status__in=FINISHED_STATUSES, created_at__lt=cutoff)
               .exclude(pk__in=keep).order_by("pk").values_list("pk", flat=True))
    deleted = 0
    while True:
        pks = list(expired[:batch_size])
        if not pks:
            return deleted
        count, _ = SyncJob.objects.filter(pk__in=pks).delete()
        deleted += count


def sync_job_interrupt(*, job_id: int, token: str, reason: str) -> None:
    """A foreground run was interrupted (Ctrl-C): the job we hold is cancelled, its checkpoint kept, so running
    the same command again resumes it. Not a failure of the integration: nothing is counted or published."""
    SyncJob.objects.filter(pk=job_id, lease_token=token, status=JobStatus.RUNNING).update(
        status=JobStatus.CANCELLED, completed_at=timezone.now(), lease_token="", error_message=reason,
        updated_at=timezone.now(),
    )


def sync_job_open_for_command(
    *, integration: Integration, job_type: str, since: datetime | None = None, until: datetime | None = None,
    full: bool = False, resume: bool = False,
) -> tuple[SyncJob, str]:
    """The job a foreground command runs, claimed: with `resume`, the last unfinished job of the same type and
    range (failed, cancelled, or running with a dead worker) carries on from its checkpoint; otherwise, or when
    there is none, a new job. SYNC_FAILED when a worker is running one right now."""
    params = _params(job_type=job_type, since=since, until=until, full=full)
    previous = selectors.sync_job_resumable(integration=integration, job_type=job_type, params=params) \
        if resume else None
    if previous is not None and previous.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        previous = sync_job_resume(job=previous, enqueue=False)
    job = previous or selectors.sync_job_active(integration=integration, job_type=job_type)
    if job is None:
        job = sync_job_start(integration=integration, trigger=Trigger.COMMAND, job_type=job_type, since=since,
                             until=until, full=full, enqueue=False)
    claimed = sync_job_claim(job_id=job.pk)
    if claimed is None:
        raise SyncFailed(
            f"Job {job.pk} ({job.job_type}) is running in a worker; cancel it or wait for it.",
            details={"job_id": job.pk, "status": job.status},
        )
    return claimed
