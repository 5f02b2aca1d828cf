"""The client's plumbing: base URL and api_endpoint, outbound checks, redirects, sessions, timeouts, the log row."""

from __future__ import annotations

import ipaddress

import pytest
import responses

from config.errors import UnsafeURL
from connectors import http, outbound
from connectors.sessions import POOL_MAXSIZE, close_sessions, session_for
from integrations.models import IntegrationLog
from tests.connectors.http_fakes import BASE, FakeShopConnector, fake_public_dns, make_integration, registered


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)


@pytest.fixture
def shop(db, monkeypatch):
    fake_public_dns(monkeypatch)
    with registered(FakeShopConnector):
        yield


@responses.activate
def test_paths_join_the_provider_base_url_and_absolute_urls_are_used_as_is(shop):
    responses.get(f"{BASE}/admin/orders.json", json={"orders": []})
    responses.get("https://cdn.example.org/file.csv", body="a,b")
    client = FakeShopConnector(make_integration()).http

    client.get("/admin/orders.json", action="list_orders", params={"limit": 50})
    client.get("https://cdn.example.org/file.csv", action="download", authenticate=False)

    assert responses.calls[0].request.url == f"{BASE}/admin/orders.json?limit=50"
    assert responses.calls[0].request.headers["Authorization"] == "Bearer access-token-AAAA1111"
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_an_api_endpoint_replaces_the_base_url(shop):
    responses.get("https://staging.example.net/v2/admin/orders.json", json={})
    integration = make_integration(api_endpoint="https://staging.example.net/v2/")

    FakeShopConnector(integration).http.get("/admin/orders.json", action="list_orders")

    assert responses.calls[0].request.url == "https://staging.example.net/v2/admin/orders.json"


@responses.activate
def test_loopback_is_refused_unless_allowlisted(shop, settings):
    settings.OUTBOUND_URL_ALLOWLIST = []
    responses.get("http://127.0.0.1:8765/admin/shop.json", json={})
    client = FakeShopConnector(make_integration(api_endpoint="http://127.0.0.1:8765")).http

    with pytest.raises(UnsafeURL):
        client.get("/admin/shop.json", action="get_shop")
    assert len(responses.calls) == 0
    row = IntegrationLog.objects.get()
    assert row.status_code is None and "loopback" in row.error_message

    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    assert client.get("/admin/shop.json", action="get_shop").status_code == 200


@responses.activate
def test_a_host_that_resolves_to_a_private_address_is_refused_at_call_time(shop, monkeypatch):
    client = FakeShopConnector(make_integration()).http
    monkeypatch.setattr(outbound, "resolve", lambda host: [ipaddress.ip_address("10.1.2.3")])

    with pytest.raises(UnsafeURL):
        client.get("/admin/shop.json", action="get_shop")
    assert len(responses.calls) == 0


@responses.activate
def test_redirects_are_followed_within_the_origin_only(shop):
    responses.get(f"{BASE}/old", status=301, headers={"Location": "/new"})
    responses.get(f"{BASE}/new", json={"moved": True})
    responses.get(f"{BASE}/away", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    client = FakeShopConnector(make_integration()).http

    assert client.get("/old", action="probe").json() == {"moved": True}
    away = client.get("/away", action="probe")

    assert away.status_code == 302  # handed back, not followed (and not an error)
    assert [c.request.url for c in responses.calls] == [f"{BASE}/old", f"{BASE}/new", f"{BASE}/away"]


@responses.activate
def test_timeouts_come_from_settings_unless_given(shop, settings):
    settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT = 3.0, 12.0
    responses.get(f"{BASE}/a", json={})
    client = FakeShopConnector(make_integration()).http

    client.get("/a", action="probe")
    client.get("/a", action="probe", timeout=90)

    assert responses.calls[0].request.req_kwargs["timeout"] == (3.0, 12.0)
    assert responses.calls[1].request.req_kwargs["timeout"] == 90


def test_one_pooled_session_per_integration(shop):
    first, second = make_integration(), make_integration()
    try:
        assert session_for(first.pk) is session_for(first.pk)
        assert FakeShopConnector(first).http and session_for(first.pk) is not session_for(second.pk)
        adapter = session_for(first.pk).get_adapter("https://x.example")
        assert adapter._pool_maxsize == POOL_MAXSIZE and adapter.max_retries.total == 0
    finally:
        close_sessions()


@responses.activate
def test_each_attempt_leaves_one_log_row_with_method_endpoint_status_duration(shop, settings):
    settings.INTEGRATION_LOG_BODY_LIMIT = 64
    responses.get(f"{BASE}/admin/orders.json", status=502)
    responses.get(f"{BASE}/admin/orders.json", json={"orders": [{"id": n, "name": f"#{n}"} for n in range(50)]})
    integration = make_integration()

    FakeShopConnector(integration).http.get("/admin/orders.json", action="list_orders", params={"limit": 50})

    first, second = IntegrationLog.objects.order_by("id")
    for row in (first, second):
        assert (row.integration_id, row.organization_id) == (integration.pk, integration.organization_id)
        assert row.action == "list_orders" and row.method == "GET" and row.direction == "outbound"
        assert row.endpoint == f"{BASE}/admin/orders.json?limit=50"
        assert row.duration_ms is not None and row.duration_ms >= 0
    assert (first.status_code, second.status_code) == (502, 200)
    assert (first.metadata["attempt"], second.metadata["attempt"]) == (1, 2)
    assert second.response["json"]["truncated"] is True and len(second.response["json"]["head"]) == 64
    assert not first.is_error or first.error_message.startswith("HTTP 502; retrying")


@responses.activate
def test_binary_answers_are_described_not_stored(shop):
    responses.get(f"{BASE}/label.pdf", body=b"%PDF-1.7\x00\x01", content_type="application/pdf")

    FakeShopConnector(make_integration()).http.get("/label.pdf", action="get_label")

    assert IntegrationLog.objects.get().response["text"] == "<10 bytes of application/pdf>"
