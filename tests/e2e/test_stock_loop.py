"""The stock loop closed, end to end: a real worker, the sandbox shop sending webhooks, pushes and their echoes.

The sandbox (two locations, like a Shopify shop) sends an `inventory_levels/update`
webhook after every stock write, to a live Django server in this process; a real
Celery worker (Redis, the test's PostgreSQL database) processes the webhooks,
runs the sync and the pushes. Delays are scaled down (push debounce 0.3 s, the
sweepers called every second instead of every minute), so each half minute of
wall time is many minutes of the product's own cadence.

What it shows (issue "Stock that tells the truth"): after connect and a full
sync, and the operator making the ERP the source (`push`), no stock write at all
while nothing changes in the ERP; one ERP adjustment of +3 at one mapped
location → exactly one write, to that channel location, with the ERP's figure;
its echo causes nothing; every location then equals the ERP's.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from commerce.models import ChannelLocation, ChannelStock, StockLevel
from commerce.services import adjust_stock, stock_mode_set
from config.celery import app as celery_app
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs import services as sync_services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from syncjobs.pushes import inventory_pushes_sweep
from tests.factories import IntegrationFactory
from webhooks.inbound.tasks import sweep_incoming_webhooks
from webhooks.models import IncomingWebhook

from .workers import Worker, forget_queue, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery_worker]

PUSH_DELAY = 0.3
QUIET_SECONDS = 30
AFTER_SECONDS = 15


def start_worker(queue: str, log_path: Path) -> Worker:
    return Worker(queue, log_path, concurrency=2, pool="threads", env={
        "SYNC_TASK_QUEUE": queue, "WEBHOOK_INCOMING_QUEUE": queue,
        "COMMERCE_INVENTORY_PUSH_DELAY_SECONDS": str(PUSH_DELAY)})


def run_for(seconds: float, queue: str) -> None:
    """Let the worker work, with the beat sweepers (pushes, webhooks) running every second."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        inventory_pushes_sweep()
        sweep_incoming_webhooks.apply_async(queue=queue)
        time.sleep(1)


def settle(sandbox: SandboxServer, worker: Worker) -> None:
    """Every webhook the shop sent has arrived and been handled."""
    assert sandbox.webhooks.flush(30)
    wait_for(lambda: not IncomingWebhook.objects.filter(status__in=["pending", "processing"]).exists(), 60,
             "the webhooks to be processed", worker)


def channel_levels(sandbox: SandboxServer) -> dict[tuple[str, str], int]:
    """{(inventory item id, location id): available} as the shop holds it now."""
    data, state = sandbox.data, sandbox.state
    with state.lock:
        levels = [data.inventory_level(flat, state.stock) for flat in range(data.level_count)]
    return {(str(lv["inventory_item_id"]), str(lv["location_id"])): lv["available"] for lv in levels}


def sync(integration, job_type: str, worker: Worker) -> SyncJob:
    job = sync_services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=job_type)
    done = wait_for(lambda: (j := SyncJob.objects.get(pk=job.pk)).status in (JobStatus.COMPLETED, JobStatus.FAILED)
                    and j, 120, f"the {job_type} job", worker)
    assert done.status == JobStatus.COMPLETED, done.error_message
    return done


def test_pushes_and_their_echoes_never_loop(transactional_db, live_server, settings, tmp_path):
    queue = f"test-stock-{uuid.uuid4().hex[:12]}"
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.SYNC_TASK_QUEUE = settings.WEBHOOK_INCOMING_QUEUE = queue
    settings.COMMERCE_INVENTORY_PUSH_DELAY_SECONDS = PUSH_DELAY
    previous_queue, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    code = "loop-shop"
    webhook_url = f"{live_server.url}/api/webhooks/receive/{code}/"
    worker = None
    try:
        with SandboxServer(port=0, seed=5, orders=40, products=12, locations=2, rate_limit=100_000,
                           leak_rate=100_000.0, webhook_url=webhook_url) as sandbox:
            shop = IntegrationFactory(
                code=code, route_key=code, provider="sandbox", api_endpoint=sandbox.url, api_key=DEFAULT_CLIENT_ID,
                api_secret=DEFAULT_CLIENT_SECRET, webhook_secret=DEFAULT_CLIENT_SECRET,
                access_token=sandbox.issue_tokens()["access_token"],
                config={"rate_limit": None, "stock_location": "WH-A"},
            )
            assert shop.stock_mode == "import"  # a new shop: the channel is the source
            first, second = (str(loc.id) for loc in sandbox.data.locations)
            for external_id, erp_location in ((first, "WH-A"), (second, "WH-B")):
                ChannelLocation.objects.create(organization=shop.organization, integration=shop,
                                               external_id=external_id, erp_location=erp_location)
            worker = start_worker(queue, tmp_path / "worker.log")

            # Connect and a full sync: every level lands at its mapped ERP location; nothing is written back.
            sync(shop, JobType.SCHEDULED_SYNC, worker)
            levels = channel_levels(sandbox)
            erp = {(lv.product_id, lv.location): lv for lv in StockLevel.objects.filter(organization=shop.organization)}
            stock = list(ChannelStock.objects.filter(integration=shop).select_related("channel_location"))
            assert len(stock) == len(levels)
            for row in stock:
                assert erp[(row.product_id, row.channel_location.erp_location)].on_hand == levels[
                    (row.inventory_item_id, row.channel_location.external_id)]

            # The operator makes the ERP the source; nothing changes in the ERP for a long while.
            stock_mode_set(integration=shop, mode="push", actor_label="test operator")
            run_for(QUIET_SECONDS / 2, queue)
            sync(shop, JobType.SYNC_INVENTORY, worker)  # a reconciliation pull in the middle of it
            run_for(QUIET_SECONDS / 2, queue)
            settle(sandbox, worker)
            assert sandbox.stats()["stock_writes"] == 0, sandbox.stock_write_log[:10]

            # One ERP adjustment of +3 at one mapped location: exactly one write, there, with the ERP's figure.
            target = next(row for row in stock if row.channel_location.erp_location == "WH-A")
            level = StockLevel.objects.get(product_id=target.product_id, location="WH-A")
            adjust_stock(stock_level=level, delta=3)
            level.refresh_from_db()
            wanted = level.on_hand - level.reserved
            wait_for(lambda: sandbox.stats()["stock_writes"] >= 1, 30, "the push", worker)
            run_for(AFTER_SECONDS, queue)
            settle(sandbox, worker)
            run_for(3, queue)
            assert sandbox.stock_write_log == [(int(target.inventory_item_id), int(first), wanted)]
            assert sandbox.stats()["stock_writes"] == 1  # the echo of our own write caused nothing
            echo = IncomingWebhook.objects.get(integration=shop)  # the shop did tell us about our write
            assert (echo.event_type, echo.status) == ("inventory_levels/update", "completed")
            assert echo.metadata["result"]["inventory"]["unchanged"] == 1

            # Every mapped location of the shop now holds what the ERP says it may sell.
            levels = channel_levels(sandbox)
            for row in ChannelStock.objects.filter(integration=shop).select_related("channel_location"):
                erp_level = StockLevel.objects.get(product_id=row.product_id,
                                                   location=row.channel_location.erp_location)
                assert levels[(row.inventory_item_id, row.channel_location.external_id)] == max(
                    0, erp_level.on_hand - erp_level.reserved), row
    finally:
        celery_app.conf.task_default_queue = previous_queue
        if worker is not None:
            worker.stop()
        forget_queue(queue)
