"""The big lists at 1280 px in a real browser: nothing clipped on the right, measured in the page.

A superuser (every filter shown) opens each list holding rows with the longest values the console meets — long
endpoint URLs and errors, provider event ids, job progress — in a 1280 × 900 window. The document and the
result table's box must not scroll sideways, and every column header must end inside the window.
Screenshots go to test-results/browser/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import Order
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, IntegrationLogFactory, OrganizationFactory, UserFactory
from webhooks.models import IncomingWebhook, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

pytestmark = [pytest.mark.browser]

LONG_URL = ("https://erp-receiver.internal.example.com/hooks/switchyard/orders/with/a/very/long/path/that/goes/on"
            "?token=abcdefghijklmnopqrstuvwxyz0123456789")
LONG_ERROR = ("PROVIDER_ERROR: The shop answered 503 Service Unavailable while re-pulling order 5000000371 "
              "(attempt 5 of 5); giving up after the retries ran out")
LISTS = {
    "call-log": "/admin/integrations/integrationlog/",
    "incoming-webhooks": "/admin/webhooks/incomingwebhook/",
    "deliveries": "/admin/webhooks/webhookdelivery/",
    "sync-jobs": "/admin/syncjobs/syncjob/",
    "endpoints": "/admin/webhooks/webhookendpoint/",
    "orders": "/admin/commerce/order/",
}


def _long_rows():
    org = OrganizationFactory(name="Northwind Trading Company International")
    shop = IntegrationFactory(organization=org, name="Northwind marketplace storefront (production)",
                              code="northwind-marketplace-storefront-production")
    now = timezone.now()
    for n in range(5):
        IntegrationLogFactory(integration=shop, action="list_inventory_levels", status_code=503, duration_ms=15_000,
                              endpoint=f"{LONG_URL}&page_info=eyJyIjoib3JkZXJzIiwicSI6e30sImQiOiJuZXh0In0{n}",
                              error_message=LONG_ERROR)
        IncomingWebhook.objects.create(
            integration=shop, organization=org, source="shopify", event_type="inventory_levels/update",
            external_id=f"b7e6c1d2-9f4a-4c3e-8a1b-{n:012d}-delivery-attempt-xyz", body=b"{}",
            status="failed", retry_count=5, error_message=LONG_ERROR, processed_at=now)
        SyncJob.objects.create(
            integration=shop, organization=org, job_type=[JobType.BACKFILL, JobType.SCHEDULED_SYNC][n % 2],
            trigger=Trigger.SCHEDULE, status=JobStatus.COMPLETED, started_at=now - timedelta(minutes=5),
            completed_at=now, records_processed=1_234_567, records_created=1_000_000, records_updated=234_567,
            records_failed=12_345, pages_processed=4_938)
        Order.objects.create(
            organization=org, integration=shop, external_id=f"gid://shopify/Order/{5_000_000_000 + n}",
            external_number=f"#NW-2024-{100_000 + n}", status="partially_fulfilled", currency="KWD",
            total="123456.789", customer_email="a.very.long.customer.address@northwind-example.com",
            channel_status={"fulfillment_status": "partial"}, placed_at=now)
    endpoint = WebhookEndpoint.objects.create(organization=org, integration=shop, url=LONG_URL, events=["*"],
                                              secret="whsec_layout", failing_since=now - timedelta(hours=3))
    for n in range(5):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, organization=org, event="inventory.low_stock", event_id=f"msg_2cXk9P3aZ0q{n}LmN8rT5vW7",
            payload={}, status="retrying", attempts=7, round_attempts=7, response_status=503, error=LONG_ERROR,
            next_attempt_at=now + timedelta(hours=5), delivered_at=now)
        WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=None, error=LONG_ERROR)


def test_the_big_lists_fit_a_1280_px_window(transactional_db, browser, live_server, output_dir):
    _long_rows()
    admin = UserFactory(username="root", is_superuser=True)
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    clipped = {}
    for name, path in LISTS.items():
        page.goto(live_server.url + path)
        page.wait_for_selector("#result_list tbody tr")
        page.screenshot(path=str(output_dir / f"{name}.png"), full_page=True)
        sizes = page.evaluate("""() => {
            const doc = document.documentElement, box = document.querySelector('#changelist .results');
            const right = Math.max(...[...document.querySelectorAll('#result_list thead th')]
                                   .map(th => th.getBoundingClientRect().right));
            return {doc: [doc.scrollWidth, doc.clientWidth], box: [box.scrollWidth, box.clientWidth],
                    right: right, window: window.innerWidth};
        }""")
        if (sizes["doc"][0] > sizes["doc"][1] or sizes["box"][0] > sizes["box"][1]
                or sizes["right"] > sizes["window"]):
            clipped[name] = sizes
    assert clipped == {}
