"""Due syncs, re-queue of dead jobs, health checks, purge, and the tasks' names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from syncjobs import scheduler, services, tasks
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
REAL_ENQUEUE = services.enqueue_job  # the tests' conftest records enqueues instead


# Due schedules (per job type) and what they start: tests/syncjobs/test_schedules.py.


def test_dead_unsent_and_lost_jobs_are_requeued_once_per_lease(org, shop, settings, enqueued):
    settings.SYNC_JOB_LEASE_SECONDS = 60
    settings.SYNC_JOB_NUDGE_TTL_SECONDS = 900
    now = timezone.now()

    def job(**fields):
        integration = IntegrationFactory(organization=org, provider="fakeshop")
        started = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
        SyncJob.objects.filter(pk=started.pk).update(**fields)
        return started

    dead = job(heartbeat_at=now - timedelta(minutes=5))
    services.sync_job_claim(job_id=dead.pk)
    SyncJob.objects.filter(pk=dead.pk).update(heartbeat_at=now - timedelta(minutes=5))
    unsent = job(heartbeat_at=now - timedelta(minutes=5), nudged_at=None)  # its send failed
    lost = job(heartbeat_at=now - timedelta(minutes=20), nudged_at=now - timedelta(minutes=20))
    queued = job(heartbeat_at=now - timedelta(minutes=5), nudged_at=now - timedelta(minutes=5))  # still in line
    fresh = job()

    requeued = services.sync_jobs_requeue_stale()
    assert sorted(requeued) == sorted([dead.pk, unsent.pk, lost.pk])
    assert queued.pk not in requeued and fresh.pk not in requeued
    dead.refresh_from_db()
    assert dead.status == JobStatus.PENDING and dead.lease_token == "" and dead.metadata["requeued"] == 1
    assert dead.nudged_at is not None  # marked again: its new message is on its way
    assert services.sync_jobs_requeue_stale() == []


def test_a_claim_clears_the_mark_and_a_failed_send_unmarks(integration, monkeypatch):
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS,
                                  enqueue=False)
    assert job.nudged_at is None  # a command's job: nothing is sent
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_PRODUCTS)
    assert SyncJob.objects.get(pk=job.pk).nudged_at is not None
    monkeypatch.setattr("syncjobs.services.nudge", lambda *args, **options: False)  # the broker did not take it
    REAL_ENQUEUE(job.pk)
    assert SyncJob.objects.get(pk=job.pk).nudged_at is None
    SyncJob.objects.filter(pk=job.pk).update(nudged_at=timezone.now())
    services.sync_job_claim(job_id=job.pk)
    assert SyncJob.objects.get(pk=job.pk).nudged_at is None


def test_health_checks_count_failures_and_recover(integration, shop, settings, org):
    settings.SYNC_ERROR_AFTER_FAILURES = 2
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example/in", events=["integration.error"],
                                   secret="whsec_dGVzdA==")
    shop.healthy = False
    integration.refresh_from_db()
    next_sync = integration.next_sync_at
    assert scheduler.integration_check_health(integration=integration) is False
    integration.refresh_from_db()
    assert (integration.status, integration.consecutive_failures) == ("active", 1)
    assert integration.next_sync_at == next_sync  # a health check does not move the sync schedules
    assert integration.sync_schedules.get(job_type="check_health").last_result == "failed: PROVIDER_ERROR: shop is down"
    scheduler.integration_check_health(integration=integration)
    integration.refresh_from_db()
    assert (integration.status, integration.consecutive_failures) == ("error", 2)
    assert "shop is down" in integration.last_error
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["integration.error"]

    assert list(scheduler.integrations_for_health_check()) == [integration]  # errors are checked too
    shop.healthy = True
    assert scheduler.integration_check_health(integration=integration) is True
    integration.refresh_from_db()
    assert (integration.status, integration.consecutive_failures, integration.last_error) == ("active", 0, "")


def test_the_health_task_fans_out(integration, org, monkeypatch):
    IntegrationFactory(organization=org, provider="fakeshop", status="inactive")
    sent = []
    monkeypatch.setattr(tasks.check_integration_health, "delay", sent.append)
    assert tasks.check_integrations_health() == 1 and sent == [integration.pk]


def test_purge_keeps_recent_jobs_and_each_types_last_completed(integration, settings):
    settings.SYNC_JOB_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=40)

    def job(status, job_type="sync_orders", created_at=old):
        return SyncJob.objects.create(integration=integration, organization=integration.organization,
                                      job_type=job_type, trigger="api", status=status, created_at=created_at)

    gone = [job("completed"), job("failed"), job("cancelled", "sync_products")]
    kept = [job("completed"), job("completed", "sync_products"), job("failed", created_at=timezone.now())]
    assert services.sync_jobs_purge(batch_size=2) == len(gone)
    assert set(SyncJob.objects.values_list("pk", flat=True)) == {j.pk for j in kept}
    assert services.sync_jobs_purge() == 0


def test_the_tasks_have_stable_names():
    app.loader.import_default_modules()
    for name in ("run_sync_job", "run_due_syncs", "check_integrations_health", "check_integration_health",
                 "purge_finished_jobs", "start_resource_syncs"):
        assert f"syncjobs.tasks.{name}" in app.tasks


def test_the_run_task_retries_transient_errors(integration, shop, monkeypatch):
    from celery.exceptions import Retry

    def transient(**kwargs):
        raise services.RetryLater(40, "PROVIDER_ERROR: unavailable")

    monkeypatch.setattr(services, "sync_job_run", transient)
    with pytest.raises(Retry) as retry:
        tasks.run_sync_job.apply(args=[1], throw=True)
    assert retry.value.when == 40
    monkeypatch.setattr(services, "sync_job_run", lambda **kwargs: None)
    assert tasks.run_sync_job.apply(args=[1]).get() == "skipped"
