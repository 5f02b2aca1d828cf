"""Bulk pulls leave one summarised call-log row per page; failures and debug logging keep the bodies."""

from __future__ import annotations

import pytest
import responses

from connectors import http
from connectors.calllog import bulk_pull
from integrations.models import IntegrationLog
from tests.connectors.http_fakes import BASE, FakeShopConnector, fake_public_dns, make_integration, registered

PAGE = {"orders": [{"id": n, "email": f"buyer{n}@example.com", "total_price": "10.00"} for n in range(3)]}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)


@pytest.fixture
def shop(db, monkeypatch):
    fake_public_dns(monkeypatch)
    with registered(FakeShopConnector):
        yield


def pull_page(integration, *, rows_before_flush: int = 0) -> list[dict]:
    """What a sync's page fetch does (syncjobs/prefetch.py): the call inside bulk_pull, the count on flush."""
    with bulk_pull() as log:
        orders = FakeShopConnector(integration).http.get("/admin/orders.json", action="list_orders").json()["orders"]
        assert IntegrationLog.objects.count() == rows_before_flush  # a summarised row waits for the page's count
        log.flush(records=len(orders))
    return orders


@responses.activate
def test_a_page_leaves_one_row_with_its_status_latency_and_count_but_no_body(shop):
    responses.get(f"{BASE}/admin/orders.json", json=PAGE, headers={"X-Request-Id": "r-1"})
    integration = make_integration()

    assert len(pull_page(integration)) == 3

    row = IntegrationLog.objects.get()
    assert (row.action, row.status_code, row.method) == ("list_orders", 200, "GET")
    assert row.duration_ms is not None and row.metadata["outcome"] == "ok"
    assert row.metadata["summary"] is True and row.metadata["records"] == 3
    assert row.response["body_kept"] is False and row.response["body_bytes"] == len(responses.calls[0].response.content)
    assert "json" not in row.response and "buyer0@example.com" not in str(row.response)
    assert "access-token-AAAA1111" not in str(row.request)  # still redacted


@responses.activate
def test_a_failed_attempt_keeps_its_body_and_is_written_at_once(shop):
    responses.get(f"{BASE}/admin/orders.json", json={"errors": "try later"}, status=503)
    responses.get(f"{BASE}/admin/orders.json", json=PAGE)
    integration = make_integration()

    pull_page(integration, rows_before_flush=1)

    failed, ok = IntegrationLog.objects.order_by("pk")
    assert (failed.status_code, failed.metadata["outcome"]) == (503, "retry")
    assert failed.response["json"] == {"errors": "try later"} and "summary" not in failed.metadata
    assert (ok.status_code, ok.metadata["records"], ok.metadata["call_id"]) == (200, 3, failed.metadata["call_id"])


@responses.activate
def test_debug_logging_keeps_every_body(shop):
    responses.get(f"{BASE}/admin/orders.json", json=PAGE)
    integration = make_integration(config={"debug_logging": True})

    pull_page(integration, rows_before_flush=1)

    row = IntegrationLog.objects.get()
    assert row.response["json"]["orders"][0]["id"] == 0 and "summary" not in row.metadata


@responses.activate
def test_outside_a_bulk_pull_every_call_keeps_its_body(shop):
    responses.get(f"{BASE}/admin/orders.json", json=PAGE)
    FakeShopConnector(make_integration()).http.get("/admin/orders.json", action="list_orders")

    assert IntegrationLog.objects.get().response["json"]["orders"][2]["id"] == 2


def test_a_page_that_fails_to_parse_still_leaves_its_rows(shop, monkeypatch):
    """A connector that raises on the body: the held rows are written without a count, nothing is lost."""

    @responses.activate
    def run():
        responses.get(f"{BASE}/admin/orders.json", body="not json", content_type="application/json")
        with pytest.raises(ValueError), bulk_pull() as log:
            try:
                FakeShopConnector(make_integration()).http.get("/admin/orders.json", action="list_orders").json()
            finally:
                log.flush(records=None)

    run()
    row = IntegrationLog.objects.get()
    assert row.status_code == 200 and row.metadata["summary"] is True and "records" not in row.metadata
