"""The operator's day in a real browser, with a real Celery worker: the healthy sandbox shop on the dashboard,
Sync now and the job page counting until it completes, an order the sync created, a failed incoming webhook
retried until it completes, and a viewer without a Sync button.

The worker is `celery -A config worker` on a queue of its own against Redis and this test's PostgreSQL
database (as tests/e2e/test_sync_worker.py runs one); the sandbox shop is a real HTTP server in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from accounts.models import AuditEvent
from commerce.models import Order
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs.models import JobStatus, SyncJob
from tests.factories import IntegrationFactory, MembershipFactory
from tests.webhooks.inbound_support import SECRET, raw_order, shopify_delivery
from webhooks.models import IncomingStatus, IncomingWebhook

ORDERS = 300
pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.redis, pytest.mark.postgres,
              pytest.mark.e2e]


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A worker consuming one fresh queue for syncs and incoming webhooks; this process sends to that queue."""
    queue = f"test-console-{uuid.uuid4().hex[:12]}"
    settings.SYNC_TASK_QUEUE = settings.WEBHOOK_INCOMING_QUEUE = queue
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
           "PYTHONUNBUFFERED": "1", "SYNC_TASK_QUEUE": queue, "WEBHOOK_INCOMING_QUEUE": queue,
           "OUTBOUND_URL_ALLOWLIST": "127.0.0.1", "LOG_LEVEL": "INFO"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log_path = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", queue,
               "--hostname", f"{queue}@%h", "--concurrency", "1", "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(f"_kombu.binding.{queue}", queue)


def _until(condition, what: str, log_path: Path, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.3)
    return value


def test_an_operator_syncs_opens_an_order_retries_a_webhook_and_a_viewer_cannot_sync(
    worker, live_server, browser, login, output_dir, org
):
    with SandboxServer(port=0, seed=21, orders=ORDERS, products=10, rate_limit=1_000_000,
                       leak_rate=1_000_000.0) as sandbox:
        shop = IntegrationFactory(
            organization=org, name="Sandbox shop", code="sandbox-flow", provider="sandbox", api_endpoint=sandbox.url,
            api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET, webhook_secret=SECRET,
            access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None},
        )
        operator = MembershipFactory(organization=org, role="operator").user
        page = login(operator)

        # The dashboard: the sandbox shop, healthy.
        row = page.locator("tr.integration-row[data-code='sandbox-flow']")
        assert row.get_attribute("data-health") == "ok"
        page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)

        # Sync now, and watch the job page count until the worker completes it.
        row.locator("a", has_text="Sandbox shop").click()
        page.select_option("#sync-job-type", "sync_orders")
        page.screenshot(path=str(output_dir / "integration.png"), full_page=True)
        page.click("#sync-now")
        page.wait_for_url("**/admin/syncjobs/syncjob/*/change/")
        page.wait_for_selector("#sync-progress[data-status='completed']", timeout=120_000)
        assert page.locator("[data-field='records_processed']").inner_text() == str(ORDERS)
        assert int(page.locator("[data-field='pages_processed']").inner_text()) >= 2
        page.screenshot(path=str(output_dir / "sync-job-completed.png"), full_page=True)
        job = SyncJob.objects.get(integration=shop)
        assert job.status == JobStatus.COMPLETED and job.records_created == ORDERS

        # An order the sync created, opened from the orders list.
        order = Order.objects.filter(integration=shop).order_by("external_number").first()
        page.goto(f"{live_server.url}/admin/commerce/order/?q={quote(order.external_number)}")
        page.locator("#result_list a", has_text=str(order)).first.click()
        page.wait_for_url(f"**/admin/commerce/order/{order.pk}/change/**")
        assert order.external_number in page.locator("#content").inner_text()

        # A failed incoming webhook (its retries ran out while the shop was down), retried from the admin.
        body, headers = shopify_delivery(raw_order(id=880_000_001, name="#WEBHOOK-1", order_number=990001),
                                         topic="orders/create")
        failed = IncomingWebhook.objects.create(
            integration=shop, organization=org, source="sandbox", event_type="orders/create",
            external_id=headers["X-Shopify-Webhook-Id"], body=body, headers=json.loads(json.dumps(headers)),
            status=IncomingStatus.FAILED, retry_count=5, error_message="PROVIDER_ERROR: the shop was down",
            signature_verified=True,
        )
        page.goto(f"{live_server.url}/admin/webhooks/incomingwebhook/?status=failed")
        page.check(f"input[name='_selected_action'][value='{failed.pk}']")
        page.select_option("select[name='action']", "retry")
        page.click("button[name='index']")
        assert "1 webhook(s) retried" in page.locator(".messagelist").inner_text()
        change = f"{live_server.url}/admin/webhooks/incomingwebhook/{failed.pk}/change/"

        def completed_on_page() -> bool:
            page.goto(change)
            return "Completed" in page.locator(".field-status").inner_text()

        _until(completed_on_page, "the retried webhook to complete", worker)
        assert Order.objects.filter(integration=shop, external_id="880000001").exists()

    actions = set(AuditEvent.objects.filter(actor=operator).values_list("action", flat=True))
    assert actions == {"sync.started", "webhook.retried"}

    # A viewer of the same organization: the page, no Sync button.
    browser.clear_cookies()
    viewer = MembershipFactory(organization=org, role="viewer").user
    page = login(viewer)
    page.goto(f"{live_server.url}/admin/integrations/integration/{shop.pk}/change/")
    page.wait_for_selector("#integration-console")
    assert page.locator("#sync-now").count() == 0
