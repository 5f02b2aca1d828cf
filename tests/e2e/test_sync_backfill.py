"""End to end: the sync engine against a real sandbox shop of 10,000 orders, writing real commerce records.

The sandbox runs with no rate limit and the connector pages by 250, so each
test stays well under a minute; what is measured is the engine, not a limiter.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from commerce.models import ExternalRef, Order, OrderLine
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs import services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory

ORDERS = 10_000
pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(port=0, seed=21, orders=ORDERS, products=120, rate_limit=1_000_000,
                       leak_rate=1_000_000.0) as server:
        yield server


def sandbox_lines(sandbox) -> int:
    return sum(len(sandbox.data.order(j)["line_items"]) for j in range(ORDERS))


def connect(sandbox, organization, code="shop-ro"):
    return IntegrationFactory(
        organization=organization, code=code, provider="sandbox", api_endpoint=sandbox.url,
        api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
        access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None},
    )


@pytest.mark.django_db
def test_a_backfill_stores_every_order_once_and_again_creates_nothing(settings, org, sandbox):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    integration = connect(sandbox, org)

    call_command("backfill_orders", "shop-ro", "--since", "2000-01-01", "--no-progress")
    first = SyncJob.objects.get()
    assert first.status == JobStatus.COMPLETED and first.job_type == JobType.BACKFILL
    assert (first.records_processed, first.records_created, first.records_failed) == (ORDERS, ORDERS, 0)
    assert first.pages_processed == ORDERS // 250
    orders = Order.objects.filter(integration=integration)
    assert orders.count() == ORDERS
    assert orders.values("external_id").distinct().count() == ORDERS
    assert OrderLine.objects.filter(order__integration=integration).count() == sandbox_lines(sandbox)
    assert not orders.filter(lines__isnull=True).exists()
    assert ExternalRef.objects.filter(integration=integration, resource_type="order").count() == ORDERS

    call_command("backfill_orders", "shop-ro", "--since", "2000-01-01", "--no-progress")
    second = SyncJob.objects.exclude(pk=first.pk).get()
    assert (second.records_processed, second.records_created, second.records_updated,
            second.records_unchanged) == (ORDERS, 0, 0, ORDERS)
    assert orders.count() == ORDERS and OrderLine.objects.filter(order__integration=integration).count() == \
        sandbox_lines(sandbox)


@pytest.mark.django_db
def test_a_job_killed_between_pages_resumes_without_duplicates(settings, org, sandbox):
    """The same crash the worker test makes with SIGKILL, in-process: the job dies after 7 pages, its lease
    expires, the scheduler re-queues it, and the re-run carries on from the checkpoint."""
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.SYNC_JOB_LEASE_SECONDS = 0
    integration = connect(sandbox, org, code="shop-crash")
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.BACKFILL,
                                  enqueue=False)

    def die(report):
        if report.job.pages_processed == 7:
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        services.sync_job_run(job_id=job.pk, on_page=die)
    assert Order.objects.filter(integration=integration).count() == 7 * 250

    assert services.sync_jobs_requeue_stale() == [job.pk]
    done = services.sync_job_run(job_id=job.pk)
    assert done.status == JobStatus.COMPLETED and done.attempts == 2
    assert (done.records_processed, done.records_created, done.records_updated) == (ORDERS, ORDERS, 0)
    assert Order.objects.filter(integration=integration).count() == ORDERS
