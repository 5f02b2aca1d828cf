"""The prefetching engine (PostgreSQL, committed transactions, a real fetch thread): page N+1 is fetched while page N
is written, and a failure on page N — fetching it or writing it — resumes at page N, never after it."""

from __future__ import annotations

import sys
import threading

import pytest

from connectors.errors import ProviderError
from syncjobs import prefetch, services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory
from tests.syncjobs import fakes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fetched(monkeypatch):
    """(cursor, thread name) of every page the fake provider serves."""
    seen: list[tuple[str | None, str]] = []
    real = fakes.FakeConnector._pages

    def recording(self, resource, since, cursor):
        for page in real(self, resource, since, cursor):
            seen.append((page.next_cursor, threading.current_thread().name))
            yield page

    monkeypatch.setattr(fakes.FakeConnector, "_pages", recording)
    return seen


def start() -> SyncJob:
    integration = IntegrationFactory(provider="fakeshop")
    return services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS,
                                   enqueue=False)


def resume(job: SyncJob, writer) -> SyncJob:
    job.refresh_from_db()
    services.sync_job_resume(job=job, enqueue=False)
    return services.sync_job_run(job_id=job.pk, writers=writer.writers())


def test_page_n_plus_1_is_fetched_while_page_n_is_written(shop, writer, fetched):
    shop.add_orders(45)
    assert prefetch.can_prefetch()
    overlapped: list[bool] = []

    def slow_write(*, integration, orders):
        # Hold the write of each page until the next page has been fetched: only a fetch running beside the write
        # can get there (in turn, this would wait out the timeout). The last page has no next page to wait for.
        page = len(overlapped) + 1
        if page < 5:
            overlapped.append(wait_until(lambda: len(fetched) > page))
        return writer._upsert("orders", orders)

    done = services.sync_job_run(job_id=start().pk, writers={"orders": slow_write})

    assert done.status == JobStatus.COMPLETED and done.records_created == 45 and done.pages_processed == 5
    assert overlapped == [True, True, True, True]
    assert {name for _, name in fetched} == {"sync-prefetch_0"}
    assert len(fetched) == 5  # nothing fetched past the last page (it has no next cursor)


def test_pages_are_normalized_on_the_fetching_thread_and_written_on_the_engines(shop, writer, fetched, monkeypatch):
    """The writer only writes: the records it gets were mapped where their page was fetched."""
    shop.add_orders(25)
    mapped: list[str] = []
    writing: list[str] = []
    intervals: list[float] = []
    before = sys.getswitchinterval()
    real = fakes.FakeConnector.normalize_order

    def normalize_order(record):
        mapped.append(threading.current_thread().name)
        return real(record)

    def write(*, integration, orders):
        writing.append(threading.current_thread().name)
        intervals.append(sys.getswitchinterval())
        return writer._upsert("orders", orders)

    monkeypatch.setattr(fakes.FakeConnector, "normalize_order", staticmethod(normalize_order))
    done = services.sync_job_run(job_id=start().pk, writers={"orders": write})

    assert done.status == JobStatus.COMPLETED and done.records_created == 25
    assert mapped == ["sync-prefetch_0"] * 25
    assert writing == [threading.current_thread().name] * 3
    # While pages stream ahead the writer gets the GIL back within 0.5 ms of asking; afterwards as it was.
    assert intervals == [prefetch.SWITCH_INTERVAL] * 3 and sys.getswitchinterval() == before


def wait_until(condition, timeout: float = 5.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        event.wait(0.01)
    return False


def test_a_fetch_that_fails_on_page_n_resumes_at_page_n(shop, writer, fetched):
    shop.add_orders(45)
    shop.fail_at[("orders", 30)] = ProviderError("The shop answered HTTP 404", transient=False)
    job = start()

    failed = services.sync_job_run(job_id=job.pk, writers=writer.writers())

    assert failed.status == JobStatus.FAILED
    assert (failed.cursor["page"], failed.pages_processed, failed.records_created) == ("30", 3, 30)
    assert sorted(writer.stored["orders"]) == [str(1000 + i) for i in range(30)]

    shop.calls.clear()
    done = resume(job, writer)
    assert shop.calls[0][2] == "30"  # from the page that failed, not the one after
    assert done.status == JobStatus.COMPLETED
    assert (done.records_processed, done.records_created, done.pages_processed) == (45, 45, 5)
    assert sorted(writer.stored["orders"]) == [str(1000 + i) for i in range(45)]


def test_a_write_that_fails_on_page_n_with_page_n_plus_1_in_hand_resumes_at_page_n(shop, writer, fetched):
    shop.add_orders(45)
    job = start()
    written: list[list[str]] = []

    def third_page_breaks(*, integration, orders):
        if len(written) == 2:
            raise RuntimeError("the database went away")
        written.append([o["external_id"] for o in orders])
        return writer._upsert("orders", orders)

    with pytest.raises(RuntimeError):
        services.sync_job_run(job_id=job.pk, writers={"orders": third_page_breaks})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and (job.cursor["page"], job.records_created) == ("20", 20)
    assert [cursor for cursor, _ in fetched] == ["10", "20", "30", "40"]  # page 4 was fetched ahead, then dropped

    shop.calls.clear()
    done = resume(job, writer)
    assert shop.calls[0][2] == "20"  # page 3 again: the page fetched ahead was never taken for written
    assert (done.status, done.records_created, done.pages_processed) == (JobStatus.COMPLETED, 45, 5)
    assert sorted(writer.stored["orders"]) == [str(1000 + i) for i in range(45)]


def test_inside_a_transaction_pages_are_fetched_in_turn(shop, writer, fetched):
    """A caller's atomic block (and SQLite): the fetch thread could not see the job's rows, so no look-ahead."""
    from django.db import transaction

    shop.add_orders(25)
    with transaction.atomic():
        assert not prefetch.can_prefetch()
        job = start()
        claimed = services.sync_job_claim(job_id=job.pk)
        from syncjobs.engine import SyncEngine

        assert SyncEngine(claimed[0], lease_token=claimed[1], writers=writer.writers()).run() == JobStatus.COMPLETED
    assert {name for _, name in fetched} == {threading.current_thread().name}
    assert len(writer.stored["orders"]) == 25


def test_overlapping_streams_of_two_jobs_restore_the_switch_interval_once_the_last_closes():
    """A threads-pool worker runs two jobs at once; their streams close in any order."""
    from connectors.base import Page

    before = sys.getswitchinterval()
    first = prefetch.PageStream(iter([Page(items=[])]), ahead=True, prepare=list)
    second = prefetch.PageStream(iter([Page(items=[])]), ahead=True, prepare=list)
    first.__exit__(None, None, None)  # the first job ends while the second still streams
    assert sys.getswitchinterval() == prefetch.SWITCH_INTERVAL
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
