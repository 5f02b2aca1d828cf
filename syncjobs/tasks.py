"""Background work for syncs. Tasks take ids, call a service, and are safe to run twice.

The SyncJob row is the job's record; a message is a nudge. A duplicated or
redelivered `run_sync_job` (acks_late: a killed worker's message comes back)
finds the job held or finished and does nothing; a lost one is re-sent by
`run_due_syncs`, which re-queues jobs past their lease.

Beat schedule (created by the project's periodic-task data migration):
run_due_syncs every 30 s, check_integrations_health every 15 minutes,
purge_finished_jobs daily.
"""

from __future__ import annotations

from celery import shared_task

from integrations.models import Integration

from . import scheduler, services


@shared_task(bind=True, ignore_result=True, max_retries=None)
def run_sync_job(self, job_id: int) -> str:
    """Run one sync job from its checkpoint. Transient provider errors come back as a retry with backoff."""
    try:
        job = services.sync_job_run(job_id=job_id)
    except services.RetryLater as retry:
        raise self.retry(countdown=retry.countdown, exc=retry) from None
    return "skipped" if job is None else job.status


@shared_task(ignore_result=True)
def run_due_syncs() -> dict[str, list[int]]:
    """Every 30 s: re-queue dead jobs and lost messages, start scheduled syncs of due integrations."""
    run = scheduler.syncs_run_due()
    return {"started": run.started, "requeued": run.requeued, "skipped": run.skipped}


@shared_task(ignore_result=True)
def check_integrations_health() -> int:
    """Every 15 minutes: one check task per active (or erroring) integration, so a slow provider delays only
    its own check."""
    ids = list(scheduler.integrations_for_health_check().values_list("pk", flat=True))
    for integration_id in ids:
        check_integration_health.delay(integration_id)
    return len(ids)


@shared_task(ignore_result=True)
def check_integration_health(integration_id: int) -> bool | None:
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return None
    return scheduler.integration_check_health(integration=integration)


@shared_task(ignore_result=True)
def purge_finished_jobs(older_than_days: int | None = None) -> int:
    """Daily: delete finished jobs past SYNC_JOB_RETENTION_DAYS (keeping each type's last completed job)."""
    return services.sync_jobs_purge(older_than_days=older_than_days)


@shared_task(ignore_result=True)
def start_resource_syncs(job_type: str) -> list[int]:
    """A job of `job_type` (sync_orders, sync_inventory) for every active auto-sync integration that can do it
    (the cron endpoint's sync-orders and sync-inventory)."""
    return scheduler.syncs_start_for_resource(job_type=job_type).started
