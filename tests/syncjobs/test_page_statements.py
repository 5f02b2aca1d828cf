"""The statements one page of a backfill costs the sync engine on PostgreSQL, pinned (issue 18).

A real run: the sandbox shop over HTTP, the sandbox connector, the prefetching
engine and the real commerce writes, in committed transactions. What a page
costs on the engine's connection is counted from the second page on (the SKUs'
products and the COPY stages exist by then, as in any long pull): the job's
lock, the import's statements (pinned one by one in
tests/commerce/test_write_statements.py), the checkpoint, the commit. The
call-log row of each page is written by the fetching thread on its own
connection, one per page. bench/sync_backfill.py prints the same count.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import IntegrationLog
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs import prefetch, services
from syncjobs.models import JobStatus, JobType, Trigger
from tests.commerce.test_write_statements import kind
from tests.factories import IntegrationFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAGE = [
    "BEGIN", "SELECT syncjobs_syncjob",  # the job, locked: still ours?
    "INSERT commerce_externalref", "SELECT commerce_order",  # refs claimed, then the orders read
    "SELECT commerce_product", "SELECT commerce_channellocation",
    "COPY stage_commerce_order", "COPY stage_commerce_orderline",
    # with the lines (a new order's, the others') and the refs
    "INSERT commerce_order + INSERT commerce_orderline + INSERT commerce_orderline + UPDATE commerce_externalref",
    "SELECT webhooks_webhookendpoint",
    "UPDATE syncjobs_syncjob", "COMMIT",  # the checkpoint and the counts, with the page
]


@pytest.fixture
def shop():
    with SandboxServer(port=0, seed=5, orders=1000, products=20, rate_limit=1_000_000,
                       leak_rate=1_000_000.0) as server:
        yield server


def test_a_backfill_page_costs_twelve_statements_and_one_call_log_row(settings, org, shop):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    integration = IntegrationFactory(
        organization=org, code="shop-pages", provider="sandbox", api_endpoint=shop.url, api_key=DEFAULT_CLIENT_ID,
        api_secret=DEFAULT_CLIENT_SECRET, access_token=shop.issue_tokens()["access_token"],
        config={"rate_limit": None}, stock_mode="import",
    )
    job = services.sync_job_start(integration=integration, trigger=Trigger.COMMAND, job_type=JobType.BACKFILL,
                                  enqueue=False)
    assert prefetch.can_prefetch()
    pages: list[list[str]] = []
    capture: list[CaptureQueriesContext] = []

    def on_page(report):
        if capture:
            capture[0].__exit__(None, None, None)
            pages.append([kind(q["sql"]) for q in capture.pop().captured_queries])
        context = CaptureQueriesContext(connection)
        context.__enter__()
        capture.append(context)

    done = services.sync_job_run(job_id=job.pk, on_page=on_page)
    if capture:
        capture.pop().__exit__(None, None, None)

    assert done.status == JobStatus.COMPLETED and done.pages_processed == 4
    assert done.records_created == 1000 and done.records_failed == 0
    assert len(pages) == 3
    for statements in pages:  # pages 2, 3 and 4: the same statements, whatever the page
        assert statements == PAGE, statements
    assert IntegrationLog.objects.filter(integration=integration, action="list_orders").count() == 4
