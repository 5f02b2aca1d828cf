"""Retries: 429 honouring Retry-After, backoff with full jitter on 5xx, none on other 4xx, connection errors."""

from __future__ import annotations

import pytest
import requests
import responses

from config.errors import exception_handler
from connectors import http
from connectors.errors import ProviderError, ProviderUnavailable, RateLimited, is_transient
from integrations.models import IntegrationLog
from tests.connectors.http_fakes import BASE, FakeShopConnector, fake_public_dns, make_integration, registered

URL = f"{BASE}/admin/orders.json"


@pytest.fixture
def client(db, monkeypatch, settings):
    settings.PROVIDER_MAX_RETRIES = 4
    fake_public_dns(monkeypatch)
    with registered(FakeShopConnector):
        yield FakeShopConnector(make_integration()).http


@responses.activate
def test_429_is_retried_after_the_wait_the_provider_asked_for(client, sleeps):
    responses.get(URL, status=429, headers={"Retry-After": "7"}, json={"errors": "slow down"})
    responses.get(URL, json={"orders": []})

    response = client.get("/admin/orders.json", action="list_orders")

    assert response.json() == {"orders": []}
    assert sleeps == [7.0]
    rows = list(IntegrationLog.objects.order_by("id").values("status_code", "metadata"))
    assert [r["status_code"] for r in rows] == [429, 200]
    assert [r["metadata"]["outcome"] for r in rows] == ["retry", "ok"]
    assert rows[0]["metadata"]["retry_in"] == 7.0
    assert len({r["metadata"]["call_id"] for r in rows}) == 1


@responses.activate
def test_provider_specific_rate_limit_header_is_honoured(db, monkeypatch, sleeps):
    class MillisecondShop(FakeShopConnector):
        key = "fake-ms-shop"

        def retry_after_seconds(self, response):
            wait = response.headers.get("X-Retry-After-Ms")
            return int(wait) / 1000 if wait else None

    fake_public_dns(monkeypatch)
    responses.get(URL, status=429, headers={"X-Retry-After-Ms": "1500"})
    responses.get(URL, json={})
    with registered(MillisecondShop):
        MillisecondShop(make_integration(MillisecondShop)).http.get(URL, action="list_orders")
    assert sleeps == [1.5]


@responses.activate
def test_5xx_backs_off_exponentially_up_to_the_cap(client, sleeps, settings, monkeypatch):
    settings.PROVIDER_MAX_RETRIES = 7
    monkeypatch.setattr(http, "jitter", lambda low, high: high)  # the top of each jitter window
    responses.get(URL, status=503, json={"message": "maintenance"})

    with pytest.raises(ProviderUnavailable) as caught:
        client.get("/admin/orders.json", action="list_orders")

    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert len(responses.calls) == 8
    assert caught.value.transient and caught.value.status_code == 503
    assert caught.value.code == "PROVIDER_ERROR" and caught.value.http_status == 503
    assert "maintenance" in caught.value.message
    assert IntegrationLog.objects.count() == 8


@responses.activate
def test_backoff_is_jittered_within_growing_windows(client, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 6
    responses.get(URL, status=500)

    with pytest.raises(ProviderUnavailable):
        client.get("/admin/orders.json", action="list_orders")

    windows = [0.5, 1, 2, 4, 8, 16]
    assert len(sleeps) == 6
    assert all(0 <= s <= w for s, w in zip(sleeps, windows, strict=True))
    assert sleeps != windows  # full jitter, not the window's top


@responses.activate
@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_4xx_is_not_retried_and_is_permanent(client, sleeps, status):
    responses.get(URL, status=status, json={"errors": {"id": ["is unknown"]}})

    with pytest.raises(ProviderError) as caught:
        client.get("/admin/orders.json", action="list_orders")

    assert len(responses.calls) == 1 and sleeps == []
    error = caught.value
    assert type(error) is ProviderError and not error.transient and not is_transient(error)
    assert error.code == "PROVIDER_ERROR" and error.http_status == 502 and error.status_code == status
    assert "is unknown" in error.provider_message
    assert error.details["status_code"] == status and error.details["provider"] == "fake-shop"


@responses.activate
def test_connection_errors_and_timeouts_are_retried(client, sleeps):
    responses.get(URL, body=requests.ConnectionError("connection refused"))
    responses.get(URL, body=requests.ReadTimeout("read timed out"))
    responses.get(URL, json={"ok": True})

    assert client.get("/admin/orders.json", action="list_orders").json() == {"ok": True}
    assert len(sleeps) == 2
    rows = list(IntegrationLog.objects.order_by("id").values("status_code", "error_message"))
    assert [r["status_code"] for r in rows] == [None, None, 200]
    assert "retrying" in rows[0]["error_message"]


@responses.activate
def test_connection_errors_that_outlast_the_retries_are_transient(client, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 2
    responses.get(URL, body=requests.ConnectTimeout("connect timed out"))

    with pytest.raises(ProviderUnavailable) as caught:
        client.get("/admin/orders.json", action="list_orders")

    assert len(responses.calls) == 3 and len(sleeps) == 2
    assert caught.value.transient and caught.value.status_code is None
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no raw URL chained in


@responses.activate
def test_persistent_429_raises_rate_limited_with_retry_after(client, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    responses.get(URL, status=429, headers={"Retry-After": "3"})

    with pytest.raises(RateLimited) as caught:
        client.get("/admin/orders.json", action="list_orders")

    assert sleeps == [3.0]
    error = caught.value
    assert error.code == "RATE_LIMITED" and error.http_status == 429 and error.transient
    assert error.details["retry_after"] == 3
    rendered = exception_handler(error, {})
    assert rendered.status_code == 429 and rendered["Retry-After"] == "3"
    assert rendered.data["error"]["code"] == "RATE_LIMITED"


@responses.activate
def test_a_wait_longer_than_the_cap_is_handed_to_the_caller_not_slept(client, sleeps):
    responses.get(URL, status=429, headers={"Retry-After": "600"})

    with pytest.raises(RateLimited) as caught:
        client.get("/admin/orders.json", action="list_orders")

    assert sleeps == [] and len(responses.calls) == 1
    assert caught.value.retry_after == 600 and caught.value.details["retry_after"] == 600


@responses.activate
def test_post_is_not_replayed_after_a_5xx(client, sleeps):
    responses.post(URL, status=502)

    with pytest.raises(ProviderUnavailable) as caught:
        client.post("/admin/orders.json", action="create_order", json={"sku": "A-1"})

    assert len(responses.calls) == 1 and sleeps == [] and caught.value.transient


@responses.activate
def test_post_with_an_idempotency_key_is_replayed_after_a_5xx(client, sleeps):
    responses.post(URL, status=502)
    responses.post(URL, status=201, json={"id": 1})

    response = client.post(
        "/admin/orders.json", action="create_order", json={"sku": "A-1"}, headers={"Idempotency-Key": "k-1"}
    )
    assert response.status_code == 201 and len(sleeps) == 1


@responses.activate
def test_post_is_retried_after_429(client, sleeps):
    responses.post(URL, status=429, headers={"Retry-After": "1"})
    responses.post(URL, status=201, json={"id": 1})

    assert client.post("/admin/orders.json", action="create_order", json={}).status_code == 201
    assert sleeps == [1.0]
