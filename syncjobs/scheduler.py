"""What beat (or the cron endpoint) runs every minute or so: start due syncs, re-queue dead jobs, health checks.

Every function here is safe to run twice at the same time (two beats, a beat
and a cron call): the partial unique constraint keeps one job per integration
and type, claims are conditional updates, and a due integration's
`next_sync_at` moves forward as its job is created, so the next tick does not
see it as due again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.errors import ApplicationError, SecretsUnreadable, SyncFailed
from connectors import registry
from integrations.encryption import unreadable_secrets
from integrations.health import integration_failures_reset, integration_record_failure
from integrations.models import Integration, IntegrationStatus
from integrations.services import integration_test_connection

from .models import JobType, Trigger
from .resources import RESOURCES
from .services import sync_job_start, sync_jobs_requeue_stale

logger = logging.getLogger(__name__)


@dataclass
class SchedulerRun:
    started: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def integrations_due(*, now: datetime) -> QuerySet[Integration]:
    """Active integrations with auto sync on, an interval, and `next_sync_at` reached (or never set)."""
    return Integration.objects.filter(
        Q(next_sync_at__lte=now) | Q(next_sync_at__isnull=True),
        auto_sync_enabled=True, status=IntegrationStatus.ACTIVE, sync_interval_minutes__gt=0,
    ).order_by("next_sync_at", "pk")


def syncs_run_due(*, now: datetime | None = None, limit: int = 500) -> SchedulerRun:
    """Re-queue jobs whose worker died, then start a scheduled sync of each due integration.

    An integration whose provider pulls nothing, or whose previous scheduled
    sync is still going, is skipped, and its `next_sync_at` still moves on by
    its interval: the scheduler never hammers it every minute.
    """
    now = now or timezone.now()
    run = SchedulerRun(requeued=sync_jobs_requeue_stale(now=now))
    for integration in integrations_due(now=now)[:limit]:
        with transaction.atomic():
            try:
                job = sync_job_start(integration=integration, trigger=Trigger.SCHEDULE, job_type=JobType.SCHEDULED_SYNC)
                run.started.append(job.pk)
            except ApplicationError as exc:
                logger.info("Scheduled sync of integration %s skipped: %s", integration.pk, exc.message)
                run.skipped.append(integration.pk)
            Integration.objects.filter(pk=integration.pk).update(
                next_sync_at=now + timedelta(minutes=integration.sync_interval_minutes)
            )
    return run


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
    return result.ok
