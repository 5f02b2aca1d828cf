"""Background work for syncs. Tasks take ids, call a service, and are safe to run twice.

The SyncJob row is the job's record; a message is a nudge, sent to the sync
queue (SYNC_TASK_QUEUE, the Procfiles' syncworker) so that nothing queued on the
default queue ever holds a sync back. A duplicated or
redelivered `run_sync_job` (acks_late: a killed worker's message comes back)
finds the job held or finished and does nothing; a lost one is re-sent by
`run_due_syncs`, which re-queues jobs past their lease.

Beat schedule (created by the project's periodic-task data migrations):
run_due_syncs every 30 s (it starts what each integration's due schedules name: its syncs per job type and its
health check, syncjobs/cadences.py), purge_finished_jobs daily, sweep_pending_pushes every minute, export_orders
hourly (orders into ERP integrations), push_audiences hourly (consenting customers into the audiences operators
started), backup_records daily (CSV exports into file stores).
check_integrations_health checks every integration at once: the cron job `check-health`, on demand.

The channel pushes and the order re-pull keep the names they had in
`commerce.tasks` (commerce.outbox names them; queued messages and beat rows
hold those names). Their rows are the queue of record (InventoryPush,
Fulfillment.push_status): a lost message is picked up by the sweeper, a
duplicate finds nothing left to push. Only transient provider errors (429,
5xx, timeouts) are retried, with exponential backoff.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from commerce.outbox import (
    PUSH_DELIVERY_TASK,
    PUSH_FULFILLMENT_TASK,
    PUSH_INVENTORY_TASK,
    REPULL_ORDER_TASK,
    SWEEP_PUSHES_TASK,
)
from connectors.errors import is_transient
from integrations.models import Integration

from . import audiences, backups, labels, order_exports, pushes, repull, scheduler, services


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
    """Every 30 s: re-queue dead jobs and lost messages, start what each due schedule names (syncs, health)."""
    run = scheduler.syncs_run_due()
    return {"started": run.started, "requeued": run.requeued, "skipped": run.skipped}


@shared_task(ignore_result=True)
def check_integrations_health() -> int:
    """On demand (cron `check-health`): one check task per active (or erroring) integration, so a slow provider
    delays only its own check. On the clock, each integration's health schedule sends its own."""
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


# ---------------------------------------------------------------------- channel pushes and re-pulls
def _backoff(retries: int) -> int:
    return min(3600, 30 * 2**retries)


@shared_task(name=PUSH_INVENTORY_TASK, bind=True, ignore_result=True)
def push_inventory(self, integration_id: int) -> dict:
    """Push one channel's pending stock figures (all its InventoryPush rows, in one call)."""
    try:
        return pushes.inventory_push_send(integration_id=integration_id)
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.COMMERCE_PUSH_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise


@shared_task(name=PUSH_FULFILLMENT_TASK, bind=True, ignore_result=True)
def push_fulfillment(self, fulfillment_id: int) -> str:
    """Push one fulfillment's tracking number to its order's channel; the outcome is recorded on the row."""
    final = self.request.retries >= settings.COMMERCE_PUSH_MAX_RETRIES
    try:
        return pushes.fulfillment_push(fulfillment_id=fulfillment_id, final_attempt=final)
    except Exception as exc:
        if is_transient(exc) and not final:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise


@shared_task(name=SWEEP_PUSHES_TASK, ignore_result=True)
def sweep_pending_pushes() -> dict:
    """Beat sweeper: re-send pushes whose message was lost (a pending row nobody picked up)."""
    return pushes.pushes_sweep()


@shared_task(name=REPULL_ORDER_TASK, ignore_result=True)
def repull_order(order_id: int) -> dict:
    """Fetch an order's changes from its channel again (admin action) and import them."""
    return repull.order_repull(order_id=order_id)


@shared_task(ignore_result=True)
def push_audiences() -> list[int]:
    """Hourly: one audience push per integration whose audience is kept current (syncjobs/audiences.py)."""
    ids = audiences.integrations_pushing_audiences()
    for integration_id in ids:
        push_audience.delay(integration_id)
    return ids


@shared_task(bind=True, ignore_result=True, max_retries=5)
def push_audience(self, integration_id: int, full: bool = False) -> dict[str, int] | None:
    """Copy the consenting customers into the integration's audience (syncjobs/audiences.py); transient provider
    errors retry with backoff."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return None
    try:
        return audiences.audience_push(integration=integration, full=full)
    except Exception as exc:
        if is_transient(exc):
            raise self.retry(countdown=30 * 2**self.request.retries, exc=exc) from None
        raise
# ---------------------------------------------------------------------- order exports and backups
@shared_task(ignore_result=True)
def export_orders() -> list[int]:
    """Hourly: one export task per active ERP integration that takes orders (syncjobs/order_exports.py)."""
    ids = order_exports.integrations_exporting_orders()
    for integration_id in ids:
        export_integration_orders.delay(integration_id)
    return ids


@shared_task(bind=True, ignore_result=True)
def export_integration_orders(self, integration_id: int) -> dict:
    """Push one ERP integration's due orders; a transient provider error is retried with backoff (the orders
    stay due, and the connector finds what a timed-out push did write)."""
    try:
        return order_exports.orders_export(integration_id=integration_id).summary()
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.COMMERCE_PUSH_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise


@shared_task(ignore_result=True)
def backup_records() -> list[int]:
    """Daily (and POST /api/cron/backup/): one backup task per file-store integration with a backup folder."""
    ids = backups.integrations_backing_up()
    for integration_id in ids:
        backup_integration.delay(integration_id)
    return ids


@shared_task(bind=True, ignore_result=True)
def backup_integration(self, integration_id: int) -> dict | None:
    """Write one backup run (orders, lines, products, stock as CSV) and apply the folder's retention."""
    try:
        run = backups.backup_write(integration_id=integration_id)
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.COMMERCE_PUSH_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise
    return run.summary() if run is not None else None


@shared_task(name=PUSH_DELIVERY_TASK, bind=True, ignore_result=True)
def push_delivery(self, order_id: int) -> dict:
    """Tell an order's channel its parcels were delivered (once per fulfillment; outcome on the fulfillment)."""
    try:
        return labels.delivery_push(order_id=order_id)
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.COMMERCE_PUSH_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise
