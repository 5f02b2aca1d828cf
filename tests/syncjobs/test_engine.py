"""The engine against a fake provider and writer: pages, checkpoints, counts, failures, resume, cancel, lease."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs import engine, services
from syncjobs.engine import SyncEngine
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.syncjobs.fakes import BASE_TIME

pytestmark = pytest.mark.django_db


def start(integration, **kwargs) -> SyncJob:
    kwargs.setdefault("job_type", JobType.SYNC_ORDERS)
    return services.sync_job_start(integration=integration, trigger=Trigger.API, **kwargs)


def test_a_job_writes_every_page_and_its_counts_add_up(integration, shop, writer):
    shop.add_orders(35, bad={7, 21})
    job = start(integration)
    pages = []

    done = services.sync_job_run(job_id=job.pk, writers=writer.writers(), on_page=pages.append)

    assert done.status == JobStatus.COMPLETED
    assert len(writer.stored["orders"]) == 33
    assert (done.records_processed, done.records_created, done.records_failed) == (35, 33, 2)
    assert done.records_processed == (done.records_created + done.records_updated + done.records_unchanged
                                      + done.records_failed)
    assert done.pages_processed == 4 and [p.records for p in pages] == [10, 10, 10, 5]
    assert [e["external_id"] for e in done.metadata["errors"]] == ["1007", "1021"]
    assert "has no currency" in done.metadata["errors"][0]["error"]
    assert done.cursor["step"] == 1 and done.cursor["page"] is None
    assert done.started_at and done.completed_at and done.lease_token == ""


def test_the_first_job_freezes_what_is_alive_out_of_the_gc_and_later_ones_do_not(integration, shop, writer,
                                                                              monkeypatch):
    monkeypatch.setattr(engine, "_frozen", False)  # as in a fresh worker process
    shop.add_orders(5)
    before = gc.get_freeze_count()
    services.sync_job_run(job_id=start(integration, full=True).pk, writers=writer.writers())
    frozen = gc.get_freeze_count()
    assert frozen > before  # what the process held before its first job is no longer rescanned

    services.sync_job_run(job_id=start(integration, full=True).pk, writers=writer.writers())
    # Once: a job's leftovers are never frozen (the count only falls, as frozen objects that die leave it).
    assert gc.get_freeze_count() <= frozen


def test_running_it_again_changes_nothing(integration, shop, writer):
    shop.add_orders(25)
    services.sync_job_run(job_id=start(integration, full=True).pk, writers=writer.writers())
    again = services.sync_job_run(job_id=start(integration, full=True).pk, writers=writer.writers())
    assert (again.records_processed, again.records_created, again.records_updated, again.records_unchanged) == (
        25, 0, 0, 25)


def test_the_error_sample_is_bounded(integration, shop, writer, settings):
    settings.SYNC_ERROR_SAMPLE_SIZE = 3
    shop.add_orders(20, bad=set(range(10)))
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert done.records_failed == 10 and len(done.metadata["errors"]) == 3


def test_writer_failures_are_counted_with_their_ids(integration, shop):
    from tests.syncjobs.fakes import FakeWriter

    shop.add_orders(5)
    writer = FakeWriter(fail_ids={"1002"})
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert (done.records_created, done.records_failed) == (4, 1)
    assert done.metadata["errors"] == [{"resource": "orders", "external_id": "1002", "error": "refused by the writer"}]


def test_a_crash_between_pages_resumes_from_the_checkpoint(integration, shop, writer, settings):
    shop.add_orders(45)
    job = start(integration)

    def die_after_two(report):
        if report.job.pages_processed == 2:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        services.sync_job_run(job_id=job.pk, writers=writer.writers(), on_page=die_after_two)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.cursor["page"] == "20" and job.records_processed == 20

    assert services.sync_job_claim(job_id=job.pk) is None  # its lease is still valid: nobody else may take it
    SyncJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    shop.calls.clear()
    done = services.sync_job_run(job_id=job.pk, writers=writer.writers())

    assert shop.calls[0][2] == "20"  # resumed at the third page, not the first
    assert done.status == JobStatus.COMPLETED and done.attempts == 2
    assert (done.records_processed, done.records_created, done.pages_processed) == (45, 45, 5)
    assert len(writer.stored["orders"]) == 45


def test_a_worker_that_lost_its_lease_writes_nothing(integration, shop, writer):
    shop.add_orders(30)
    job = start(integration)
    job, token = services.sync_job_claim(job_id=job.pk)
    SyncJob.objects.filter(pk=job.pk).update(lease_token="someone-else")  # re-claimed while this one slept

    from syncjobs.engine import LeaseLost

    with pytest.raises(LeaseLost):
        SyncEngine(job, lease_token=token, writers=writer.writers()).run()
    assert writer.stored["orders"] == {}
    job.refresh_from_db()
    assert job.records_processed == 0 and job.cursor["page"] is None


def test_cancel_is_honoured_between_pages(integration, shop, writer):
    shop.add_orders(50)
    job = start(integration)

    def cancel_after_first(report):
        if report.job.pages_processed == 1:
            services.sync_job_cancel(job=report.job)

    done = services.sync_job_run(job_id=job.pk, writers=writer.writers(), on_page=cancel_after_first)
    assert done.status == JobStatus.CANCELLED and done.cancel_requested
    assert done.pages_processed == 2  # the page in hand when the cancel came is finished, then it stops
    assert len(writer.stored["orders"]) == 20


def test_a_scheduled_sync_walks_every_resource_in_order(integration, shop, writer):
    shop.records["products"] = [{"id": i, "title": f"P{i}", "updated": BASE_TIME.isoformat()} for i in range(12)]
    shop.records["inventory"] = [{"inventory_item_id": i, "updated": BASE_TIME.isoformat()} for i in range(3)]
    shop.add_orders(4)
    done = services.sync_job_run(job_id=start(integration, job_type=JobType.SCHEDULED_SYNC).pk,
                                 writers=writer.writers())
    assert [c[0] for c in shop.calls] == ["products", "inventory", "orders"]
    assert [s["resource"] for s in done.cursor["steps"]] == ["products", "inventory", "orders"]
    assert done.records_created == 19 and done.pages_processed == 4


def test_an_empty_provider_completes(integration, shop, writer):
    done = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert done.status == JobStatus.COMPLETED and done.records_processed == 0


# ---------------------------------------------------------------------- where a pull starts
def test_incremental_starts_at_the_last_sync_minus_the_overlap(integration, shop, writer, settings):
    settings.SYNC_OVERLAP_SECONDS = 120
    first = services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    second = start(integration)
    since = second.cursor["steps"][0]["since"]
    assert since == (first.started_at - timedelta(seconds=120)).isoformat()
    services.sync_job_run(job_id=second.pk, writers=writer.writers())
    assert shop.calls[-1][1] == first.started_at - timedelta(seconds=120)


def test_products_do_not_start_from_an_orders_watermark(integration, shop, writer):
    services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert start(integration, job_type=JobType.SYNC_PRODUCTS).cursor["steps"][0]["since"] is None


def test_without_job_history_the_integrations_last_sync_is_the_start(integration, settings):
    settings.SYNC_OVERLAP_SECONDS = 60
    integration.last_sync_at = timezone.now() - timedelta(days=1)
    integration.save()
    assert start(integration).cursor["steps"][0]["since"] == (
        integration.last_sync_at - timedelta(seconds=60)).isoformat()


def test_full_and_explicit_since(integration, shop, writer):
    services.sync_job_run(job_id=start(integration).pk, writers=writer.writers())
    assert start(integration, full=True).cursor["steps"][0]["since"] is None
    SyncJob.objects.update(status=JobStatus.COMPLETED)
    since = BASE_TIME + timedelta(days=3)
    assert start(integration, since=since).cursor["steps"][0]["since"] == since.isoformat()


def test_a_backfill_keeps_to_its_window(integration, shop, writer):
    shop.add_orders(30)  # placed one a day from BASE_TIME
    job = start(integration, job_type=JobType.BACKFILL, since=BASE_TIME + timedelta(days=5),
                until=BASE_TIME + timedelta(days=15))
    done = services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert sorted(writer.stored["orders"]) == [str(1000 + i) for i in range(5, 15)]
    assert done.records_processed == 10 and done.metadata["skipped_outside_window"] == 15  # 0-4 not even pulled
