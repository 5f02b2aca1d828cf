"""What a finished, failed or retried job does to its integration, and the events it publishes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs import services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.syncjobs import fakes
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(org):
    return WebhookEndpoint.objects.create(organization=org, url="https://hooks.example/in", events=["*"],
                                          secret="whsec_dGVzdA==")


def events(org) -> list[str]:
    return list(WebhookDelivery.objects.filter(organization=org).order_by("pk").values_list("event", flat=True))


def start(integration, job_type=JobType.SYNC_ORDERS) -> SyncJob:
    return services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=job_type)


def test_a_completed_job_moves_the_schedule_and_publishes_synced(integration, shop, writer, endpoint, org):
    shop.add_orders(3)
    integration.consecutive_failures, integration.last_error, integration.status = 2, "old", "error"
    integration.save()
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())

    integration.refresh_from_db()
    assert integration.last_sync_at == done.started_at
    orders = integration.sync_schedules.get(job_type="sync_orders")
    assert timedelta(minutes=59) < orders.next_due_at - timezone.now() <= timedelta(minutes=60)
    assert integration.next_sync_at <= timezone.now()  # its other schedules never ran: the earliest is due now
    assert (integration.consecutive_failures, integration.last_error, integration.status) == (0, "", "active")
    assert events(org) == ["integration.synced"]
    payload = WebhookDelivery.objects.get().payload["data"]
    assert payload["sync_job"]["id"] == done.pk and payload["sync_job"]["records_created"] == 3


def test_a_permanent_provider_error_fails_the_job(integration, shop, writer, endpoint, org):
    shop.add_orders(25)
    shop.fail_at[("orders", 10)] = fakes.permanent()
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())

    assert done.status == JobStatus.FAILED and done.error_message.startswith("PROVIDER_ERROR")
    assert done.records_processed == 10 and done.cursor["page"] == "10"  # the checkpoint survives the failure
    integration.refresh_from_db()
    assert integration.consecutive_failures == 1 and integration.last_error == done.error_message
    assert integration.last_sync_at is None
    assert events(org) == ["sync_job.failed"]


def test_a_transient_error_is_retried_from_the_checkpoint_with_backoff(integration, shop, writer, settings):
    settings.SYNC_RETRY_BACKOFF_SECONDS = 10
    shop.add_orders(25)
    shop.fail_at[("orders", 10)] = fakes.transient()
    job = start(integration)

    with pytest.raises(services.RetryLater) as retry:
        services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert retry.value.countdown == 10
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.metadata["retries"] == 1
    assert job.heartbeat_at > timezone.now() + timedelta(seconds=8)  # the sweeper waits for the retry

    shop.calls.clear()
    done = services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert shop.calls[0][2] == "10"
    assert done.status == JobStatus.COMPLETED and done.records_processed == 25 and done.records_created == 25


def test_retries_back_off_then_give_up(integration, shop, writer, settings):
    settings.SYNC_MAX_RETRIES, settings.SYNC_RETRY_BACKOFF_SECONDS = 2, 5
    job = start(integration)
    countdowns = []
    for _ in range(2):
        shop.fail_at[("orders", 0)] = fakes.transient()
        with pytest.raises(services.RetryLater) as retry:
            services.sync_job_run(job_id=job.pk, writers=writer.writers())
        countdowns.append(retry.value.countdown)
    shop.fail_at[("orders", 0)] = fakes.transient()
    done = services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert countdowns == [5, 10]
    assert done.status == JobStatus.FAILED and "unavailable" in done.error_message


def test_n_consecutive_failures_put_the_integration_in_error_once(integration, shop, writer, endpoint, org,
                                                                  settings):
    settings.SYNC_ERROR_AFTER_FAILURES = 2
    for _ in range(3):
        shop.fail_at[("orders", 0)] = fakes.permanent()
        services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    integration.refresh_from_db()
    assert integration.status == "error" and integration.consecutive_failures == 3
    assert events(org) == ["sync_job.failed", "sync_job.failed", "integration.error", "sync_job.failed"]


def test_a_bug_fails_the_job_and_is_raised(integration, shop):
    shop.add_orders(3)

    def broken(**kwargs):
        raise ZeroDivisionError("boom with secret-value")

    job = start(integration)
    with pytest.raises(ZeroDivisionError):
        services.sync_job_run(job_id=job.pk, writers={"orders": broken})
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_message == "Internal error (ZeroDivisionError); see the worker's log."


def test_a_provider_message_is_scrubbed_of_the_integrations_secrets(integration, shop, writer):
    integration.access_token = "tok-very-secret-123"
    integration.save()
    shop.fail_at[("orders", 0)] = fakes.ProviderError("Denied for token tok-very-secret-123", status_code=403)
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert "tok-very-secret-123" not in done.error_message and "Denied for token" in done.error_message


def test_a_finished_job_is_not_run_again(integration, shop, writer):
    job = start(integration)
    services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert services.sync_job_run(job_id=job.pk, writers=writer.writers()) is None  # a duplicated message
    assert SyncJob.objects.get(pk=job.pk).attempts == 1
