"""What beat (or the cron endpoint) runs every 30 s: re-queue dead jobs, start what the due schedules name.

The schedules are per integration and job type (SyncSchedule, defaults in
cadences.py): products, inventory, orders, order status, health check. Every
function here is safe to run twice at the same time (two beats, a beat and a
cron call): a due schedule is claimed under a row lock and moved on by its
interval in the transaction that starts its job, so the next tick (or the other
beat) does not see it as due again; the partial unique constraint keeps one job
per integration and type whoever starts it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from config.broker import nudge_on_commit
from config.claims import claimable
from config.errors import ApplicationError, SecretsUnreadable, SyncFailed
from connectors import registry
from integrations.encryption import unreadable_secrets
from integrations.health import integration_failures_reset, integration_record_failure
from integrations.models import Integration, IntegrationStatus
from integrations.services import integration_test_connection

from .cadences import CADENCES, HEALTH_JOB_TYPES, SYNC_JOB_TYPES, Runs
from .models import ACTIVE_STATUSES, JobType, SyncJob, SyncSchedule, Trigger
from .resources import RESOURCES
from .schedules import integration_next_sync_refresh
from .services import sync_job_start, sync_jobs_requeue_stale

logger = logging.getLogger(__name__)


@dataclass
class SchedulerRun:
    started: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


SCHEDULE_WAIT = timedelta(minutes=1)  # how soon a schedule that waits for another job looks again
INTEGRATION_CLAIM_LOCK = 0x5359_4E43  # pg_try_advisory_xact_lock(namespace, integration id): one beat per integration


def schedules_due(*, now: datetime) -> QuerySet[SyncSchedule]:
    """Enabled schedules whose time has come (or that never ran) of integrations that may run them: syncs for
    active integrations with auto sync on, health checks for active ones and those in error."""
    runnable = (Q(job_type__in=SYNC_JOB_TYPES, integration__auto_sync_enabled=True,
                  integration__status=IntegrationStatus.ACTIVE)
                | Q(job_type__in=HEALTH_JOB_TYPES,
                    integration__status__in=(IntegrationStatus.ACTIVE, IntegrationStatus.ERROR)))
    return (SyncSchedule.objects.filter(Q(next_due_at__lte=now) | Q(next_due_at__isnull=True), runnable,
                                        enabled=True)
            .order_by(F("next_due_at").asc(nulls_first=True), "pk"))


def syncs_run_due(*, now: datetime | None = None, limit: int = 500) -> SchedulerRun:
    """Re-queue jobs whose worker died, then start what each due schedule names (syncjobs/cadences.py).

    An integration's due schedules are claimed together in one transaction (config/claims.py: rows another beat
    holds are skipped, and what it committed is seen) and each is moved on by its interval in that same
    transaction, so two beats, or a beat and a cron call, never start one twice, and a job type that waits for
    another (inventory for products) sees the job its sibling just started; it looks again in a minute. A
    schedule whose job is still going, or whose integration cannot sync, is skipped, and still waits a full
    interval: the scheduler never hammers it every tick.
    """
    now = now or timezone.now()
    run = SchedulerRun(requeued=sync_jobs_requeue_stale(now=now))
    due = schedules_due(now=now)
    order = {job_type: index for index, job_type in enumerate(CADENCES)}
    for integration_id in dict.fromkeys(due.values_list("integration_id", flat=True)[:limit]):
        with transaction.atomic():  # an integration's due schedules together, products before inventory
            if not _integration_taken(integration_id):
                continue  # another beat is starting this integration's schedules: all of them, not some
            claimed = claimable(due.filter(integration_id=integration_id), of=("self",)).select_related("integration")
            for schedule in sorted(claimed, key=lambda row: order.get(row.job_type, len(order))):
                _start(schedule, now, run)
            integration_next_sync_refresh(integration_id)
    return run


def _integration_taken(integration_id: int) -> bool:
    """Hold the integration for this beat until the transaction ends; False when another beat holds it.

    Row locks alone split an integration between two beats claiming at the same instant (each skips the rows the
    other has locked so far): one could then start inventory without seeing the products job the other is
    starting. SQLite serialises claims whole (config/claims.py)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [INTEGRATION_CLAIM_LOCK, integration_id % 2**31])
        return bool(cursor.fetchone()[0])


def _start(schedule: SyncSchedule, now: datetime, run: SchedulerRun) -> None:
    """Start what the claimed `schedule` names and move it on; inside the claim's transaction."""
    integration, cadence = schedule.integration, CADENCES.get(schedule.job_type)
    next_due = now + timedelta(minutes=schedule.every_minutes)
    if cadence is None:
        schedule.last_result = "skipped: not a scheduled job type any more"
    elif cadence.runs == Runs.HEALTH:
        from .tasks import check_integration_health

        nudge_on_commit(check_integration_health, (integration.pk,))
        schedule.last_result = "health check sent"
    elif waiting := SyncJob.objects.filter(integration=integration, job_type__in=cadence.waits_for,
                                           status__in=ACTIVE_STATUSES).first():
        schedule.last_result = f"waiting for {waiting.job_type} (job {waiting.pk})"
        SyncSchedule.objects.filter(pk=schedule.pk).update(next_due_at=now + SCHEDULE_WAIT,
                                                           last_result=schedule.last_result, updated_at=now)
        run.skipped.append(integration.pk)
        return
    else:
        try:
            with transaction.atomic():
                job = sync_job_start(integration=integration, trigger=Trigger.SCHEDULE, job_type=schedule.job_type)
        except ApplicationError as exc:
            logger.info("Scheduled %s of integration %s skipped: %s", schedule.job_type, integration.pk, exc.message)
            schedule.last_result = f"skipped: {exc.message}"[:255]
            run.skipped.append(integration.pk)
        else:
            schedule.last_job, schedule.last_result = job, "started"
            run.started.append(job.pk)
    schedule.next_due_at, schedule.last_started_at = next_due, now
    schedule.save(update_fields=["next_due_at", "last_started_at", "last_job", "last_result", "updated_at"])


def syncs_start_for_resource(*, job_type: str, trigger: str = Trigger.SCHEDULE) -> SchedulerRun:
    """Start one job of `job_type` (sync_orders, sync_inventory…) for every active auto-sync integration whose
    provider can do it, due or not: the cron endpoint's sync-orders and sync-inventory."""
    names = {JobType.SYNC_ORDERS: "orders", JobType.SYNC_INVENTORY: "inventory", JobType.SYNC_PRODUCTS: "products"}
    capability = RESOURCES[names[job_type]].capability
    run = SchedulerRun()
    candidates = Integration.objects.filter(auto_sync_enabled=True, status=IntegrationStatus.ACTIVE).order_by("pk")
    for integration in candidates:
        if not registry.is_registered(integration.provider) or not registry.supports(integration.provider,
                                                                                     capability):
            continue
        try:
            with transaction.atomic():
                run.started.append(sync_job_start(integration=integration, trigger=trigger, job_type=job_type).pk)
        except (SyncFailed, SecretsUnreadable):
            run.skipped.append(integration.pk)
    return run


# ---------------------------------------------------------------------- health
def integrations_for_health_check() -> QuerySet[Integration]:
    """Active integrations, and those in error (a passing check brings them back)."""
    return Integration.objects.filter(status__in=(IntegrationStatus.ACTIVE, IntegrationStatus.ERROR)).order_by("pk")


def integration_check_health(*, integration: Integration) -> bool:
    """Test the connection and count the outcome as scheduled work.

    A pass clears the failure count (and `integration_test_connection` puts an
    integration in error back to active); a failure counts towards
    SYNC_ERROR_AFTER_FAILURES, after which the integration goes to error and
    `integration.error` is published. Secrets this process cannot read (a worker still on the old key ring)
    are this process's problem, not the integration's: nothing is tested or counted.
    """
    if unreadable_secrets(integration):
        logger.warning("Health check of integration %s skipped: its secrets are under a key this process lacks.",
                       integration.pk)
        return False
    result = integration_test_connection(integration=integration)
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        if result.ok:
            integration_failures_reset(integration=locked)
        else:  # a failed health check leaves the sync schedule alone
            integration_record_failure(integration=locked, message=f"Health check: {result.detail}")
        outcome = "passed" if result.ok else f"failed: {result.detail}"
        SyncSchedule.objects.filter(integration=integration, job_type__in=HEALTH_JOB_TYPES).update(
            last_result=outcome[:255], updated_at=timezone.now())
    return result.ok
