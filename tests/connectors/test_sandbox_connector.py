"""The sandbox connector against recorded sandbox responses (tests/fixtures/sandbox/), one test per fixture.

A fixture is `{"status", "headers", "body"}` as the sandbox answered it
(`SandboxServer(seed=5, orders=40, products=3)`, host rewritten to
127.0.0.1:8765); webhooks are `{"secret", "headers", "body"}` with the raw body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from config.errors import ValidationError
from connectors import registry
from connectors.errors import RefreshFailed
from connectors.sandbox import mapping
from connectors.sandbox.connector import SandboxConnector
from connectors.sessions import close_sessions
from integrations.models import IntegrationLog
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

BASE = "http://127.0.0.1:8765"
API = f"{BASE}/admin/api/2026-10"


fixture = Recorded("sandbox")
replay = fixture.replay


@pytest.fixture
def connector(db, settings, sleeps):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    integration = IntegrationFactory(
        provider="sandbox", api_endpoint=BASE, api_key="sandbox-client-id", api_secret="sandbox-client-secret",
        access_token="shpat_old_AAAA1111", refresh_token="shprt_old_RRRR2222", config={"rate_limit": None},
    )
    yield registry.connector_for(integration)
    close_sessions()


# ---------------------------------------------------------------------- declaration
def test_the_registry_knows_the_sandbox_and_what_it_can_do():
    cls = registry.get("sandbox")
    assert cls is SandboxConnector
    assert {c.value for c in cls.capabilities} == {"products", "orders", "inventory", "fulfillments", "returns"}
    assert cls.oauth.token_url == "/admin/oauth/access_token" and cls.oauth.scope_separator == ","
    assert cls.describe()["auth_kind"] == "oauth2"


def test_without_api_endpoint_the_sandbox_url_setting_is_the_base(db, provider_settings):
    provider_settings("sandbox", URL="http://127.0.0.1:9999/")
    connector = SandboxConnector(IntegrationFactory(provider="sandbox", api_endpoint=""))
    assert connector.resolved_base_url() == "http://127.0.0.1:9999"
    assert connector.http.url_for(connector.oauth.authorize_url) == "http://127.0.0.1:9999/admin/oauth/authorize"


# ---------------------------------------------------------------------- one test per fixture
@responses.activate
def test_shop__get(connector):
    replay("GET", f"{API}/shop.json", "shop__get")
    result = connector.test_connection()
    assert result.ok and "sandbox-5.myshopify.com" in result.detail
    assert responses.calls[0].request.headers["X-Shopify-Access-Token"] == "shpat_old_AAAA1111"


@responses.activate
def test_orders__page1(connector):
    replay("GET", f"{API}/orders.json", "orders__page1")
    page = next(connector.iter_orders())
    assert [o["id"] for o in page.items] == [5000000001, 5000000002]
    assert page.next_cursor == parse_qs(urlsplit(fixture("orders__page1")["headers"]["Link"][1:].split(">")[0])
                                        .query)["page_info"][0]
    assert sent_query(responses.calls[0]) == {"status": "any", "limit": "250"}


@responses.activate
def test_orders__page2_last(connector):
    replay("GET", f"{API}/orders.json", "orders__page2_last")
    pages = list(connector.iter_orders(cursor="opaque-cursor"))
    assert len(pages) == 1 and pages[0].next_cursor is None and len(pages[0].items) == 2
    # With a cursor only limit goes along: page_info carries the filters and Shopify refuses anything else.
    assert sent_query(responses.calls[0]) == {"page_info": "opaque-cursor", "limit": "250"}


@responses.activate
def test_iter_orders_follows_the_link_and_sends_since_in_utc(connector):
    replay("GET", f"{API}/orders.json", "orders__page1")
    replay("GET", f"{API}/orders.json", "orders__page2_last")
    since = datetime(2024, 3, 1, 9, 30, 15, 999, tzinfo=UTC)
    pages = list(connector.iter_orders(since=since))
    assert [len(p.items) for p in pages] == [2, 2] and pages[-1].next_cursor is None
    assert sent_query(responses.calls[0])["updated_at_min"] == "2024-03-01T09:30:15Z"
    assert sent_query(responses.calls[1])["page_info"] == pages[0].next_cursor
    assert IntegrationLog.objects.filter(action="list_orders").count() == 2


@pytest.mark.parametrize("status", ["pending", "paid", "partially_fulfilled", "fulfilled", "cancelled", "refunded"])
def test_orders__status(status):
    order = fixture(f"orders__{status}")["body"]["orders"][0]
    normalized = mapping.normalize_order(order)
    assert normalized["status"] == status
    assert normalized["number"] == str(order["order_number"]) and normalized["currency"] == "EUR"
    assert normalized["total"] == Decimal(order["total_price"])
    assert normalized["total"] == (normalized["subtotal"] + normalized["total_tax"] + normalized["total_shipping"])
    assert normalized["updated_at"].tzinfo == UTC
    for line, raw in zip(normalized["lines"], order["line_items"], strict=True):
        assert line["sku"] == raw["sku"] and line["quantity"] == raw["quantity"]
        assert line["price"] == Decimal(raw["price"]) and isinstance(line["price"], Decimal)


def test_a_broken_order_is_a_mapping_error_naming_the_field():
    order = fixture("orders__paid")["body"]["orders"][0]
    with pytest.raises(mapping.MappingError, match="total_price"):
        mapping.normalize_order({**order, "total_price": "12,50"})
    with pytest.raises(mapping.MappingError, match="updated_at"):
        mapping.normalize_order({**order, "updated_at": None})


@responses.activate
def test_graphql_products__page1(connector):
    replay("POST", f"{API}/graphql.json", "graphql_products__page1")
    page = next(connector.iter_products(since=datetime(2022, 1, 1, tzinfo=UTC)))
    assert len(page.items) == 2 and page.next_cursor
    product = connector.normalize_product(page.items[0])
    assert product["external_id"] == page.items[0]["legacyResourceId"] == "7000000001"
    assert [v["sku"] for v in product["variants"]] == [v["sku"] for v in page.items[0]["variants"]]
    assert all(isinstance(v["price"], Decimal) for v in product["variants"])
    assert product["category"] == "Home & Garden > Bottle"
    assert product["images"][0] == {"url": "http://127.0.0.1:8765/_sandbox/images/7000000001-1.svg",
                                    "alt": "Recycled Bottle 1 (1)"}


def test_rest_products__page1_still_map(connector):
    """The simulator's REST products (its products/update webhooks carry them) map as Shopify's do."""
    rest = fixture("products__page1")["body"]["products"][0]
    product = connector.normalize_product(rest)
    assert product["external_id"] == str(rest["id"])
    assert [v["sku"] for v in product["variants"]] == [v["sku"] for v in rest["variants"]]


@responses.activate
def test_locations__list(connector):
    replay("GET", f"{API}/locations.json", "locations__list")
    replay("GET", f"{API}/inventory_levels.json", "inventory_levels__page1")
    next(connector.iter_inventory())
    assert sent_query(responses.calls[1])["location_ids"] == "48000001,48000002"


@responses.activate
def test_inventory_levels__page1(connector):
    replay("GET", f"{API}/inventory_levels.json", "inventory_levels__page1")
    page = next(connector.iter_inventory(cursor="resume-here"))  # a cursor skips the locations call
    assert len(responses.calls) == 1 and len(page.items) == 3 and page.next_cursor
    level = connector.normalize_inventory_level(page.items[0])
    assert level["location_id"] == "48000001" and isinstance(level["available"], int)


@responses.activate
def test_inventory_levels__set(connector):
    replay("POST", f"{API}/inventory_levels/set.json", "inventory_levels__set")
    result = connector.push_inventory([{"inventory_item_id": 45000000001, "location_id": 48000001, "available": 42}])
    assert result["updated"] == 1 and result["levels"][0]["available"] == 42
    assert json.loads(responses.calls[0].request.body) == {
        "inventory_item_id": 45000000001, "location_id": 48000001, "available": 42}


def test_push_inventory_refuses_an_item_without_a_quantity(connector):
    with pytest.raises(ValidationError):
        connector.push_inventory([{"inventory_item_id": 1}])


@responses.activate
def test_fulfillment_orders__open(connector):
    recorded = fixture("fulfillment_orders__open")["body"]["fulfillment_orders"][0]
    order_id = recorded["order_id"]
    replay("GET", f"{API}/orders/{order_id}/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "fulfillments__create")
    first = recorded["line_items"][0]
    connector.push_fulfillment({"order_id": order_id, "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
                                "lines": [{"line_item_id": first["line_item_id"], "quantity": 1}]})
    sent = json.loads(responses.calls[1].request.body)["fulfillment"]
    assert sent["line_items_by_fulfillment_order"] == [
        {"fulfillment_order_id": recorded["id"], "fulfillment_order_line_items": [{"id": first["id"], "quantity": 1}]}]
    assert sent["tracking_info"] == {"number": "1Z999AA10123456784", "company": "UPS"}


@responses.activate
def test_fulfillments__create(connector):
    recorded = fixture("fulfillment_orders__open")["body"]["fulfillment_orders"][0]
    replay("GET", f"{API}/orders/{recorded['order_id']}/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "fulfillments__create")
    result = connector.push_fulfillment({"order_id": recorded["order_id"], "tracking_number": "1Z999AA10123456784"})
    assert result["tracking_number"] == "1Z999AA10123456784" and result["status"] == "success"
    sent = json.loads(responses.calls[1].request.body)["fulfillment"]["line_items_by_fulfillment_order"][0]
    assert sent["fulfillment_order_line_items"] == [
        {"id": li["id"], "quantity": li["fulfillable_quantity"]} for li in recorded["line_items"]]


@responses.activate
def test_oauth__token(connector):
    replay("POST", f"{BASE}/admin/oauth/access_token", "oauth__token")
    tokens = connector.exchange_code("the-code")
    body = fixture("oauth__token")["body"]
    assert tokens.access_token == body["access_token"] and tokens.refresh_token == body["refresh_token"]
    assert tokens.scope == ("read_orders", "read_products") and tokens.expires_at > datetime.now(UTC)
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret", "code": "the-code"}
    assert "X-Shopify-Access-Token" not in responses.calls[0].request.headers


@responses.activate
def test_oauth__refresh(connector):
    replay("POST", f"{BASE}/admin/oauth/access_token", "oauth__refresh")
    tokens = connector.refresh_access_token()
    assert tokens.access_token == fixture("oauth__refresh")["body"]["access_token"]
    sent = json.loads(responses.calls[0].request.body)
    assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == "shprt_old_RRRR2222"


@responses.activate
def test_errors__unauthorized(connector):
    """An expired token: 401 → one refresh through the token endpoint → the call is retried with the new token."""
    replay("GET", f"{API}/shop.json", "errors__unauthorized")
    replay("POST", f"{BASE}/admin/oauth/access_token", "oauth__refresh")
    replay("GET", f"{API}/shop.json", "shop__get")
    assert connector.test_connection().ok
    new = fixture("oauth__refresh")["body"]
    assert responses.calls[2].request.headers["X-Shopify-Access-Token"] == new["access_token"]
    connector.integration.refresh_from_db()
    assert connector.integration.refresh_token == new["refresh_token"]  # rotated and stored


@responses.activate
def test_oauth__refresh_reused(connector):
    replay("GET", f"{API}/shop.json", "errors__unauthorized")
    replay("POST", f"{BASE}/admin/oauth/access_token", "oauth__refresh_reused")
    with pytest.raises(RefreshFailed):
        connector.client.shop()
    connector.integration.refresh_from_db()
    assert connector.integration.status == "pending_auth"


@responses.activate
def test_a_refused_refresh_in_a_connection_test_reads_as_refused_credentials(connector):
    """The shop answered and refused the token: the test says so, never that the host could not be reached."""
    replay("GET", f"{API}/shop.json", "errors__unauthorized")
    replay("POST", f"{BASE}/admin/oauth/access_token", "oauth__refresh_reused")
    result = connector.test_connection()
    assert not result.ok
    assert result.detail.startswith("127.0.0.1 refused the credentials: REFRESH_FAILED: ")
    assert "Could not reach" not in result.detail


@responses.activate
def test_errors__rate_limited(connector, sleeps):
    replay("GET", f"{API}/shop.json", "errors__rate_limited")
    replay("GET", f"{API}/shop.json", "shop__get")
    assert connector.test_connection().ok
    assert sleeps == [float(fixture("errors__rate_limited")["headers"]["Retry-After"])]


def test_webhooks__orders_updated(connector):
    recorded = fixture("webhooks__orders_updated")
    body = recorded["body"].encode()
    connector.integration.webhook_secret = recorded["secret"]
    assert connector.verify_webhook(recorded["headers"], body)
    lowered = {k.lower(): v for k, v in recorded["headers"].items()}  # as a framework may hand them over
    assert connector.verify_webhook(lowered, body)
    assert not connector.verify_webhook(recorded["headers"], body + b" ")
    assert not connector.verify_webhook({**recorded["headers"], "X-Shopify-Hmac-Sha256": "bm9wZQ=="}, body)
    assert not connector.verify_webhook({}, body)
    [event] = connector.parse_webhook(recorded["headers"], body)
    assert event.event_type == "orders/updated" and event.resource == "order"
    assert event.external_id == recorded["headers"]["X-Shopify-Webhook-Id"]
    assert event.payload["id"] == json.loads(body)["id"]


def test_a_webhook_is_verified_with_the_client_secret_when_there_is_no_webhook_secret(connector):
    recorded = fixture("webhooks__orders_updated")
    connector.integration.webhook_secret, connector.integration.api_secret = "", recorded["secret"]
    assert connector.verify_webhook(recorded["headers"], recorded["body"].encode())
    connector.integration.api_secret = ""
    assert not connector.verify_webhook(recorded["headers"], recorded["body"].encode())


def test_a_webhook_without_topic_or_json_is_refused(connector):
    with pytest.raises(ValidationError):
        connector.parse_webhook({"X-Shopify-Webhook-Id": "1"}, b"{}")
    with pytest.raises(ValidationError):
        connector.parse_webhook({"X-Shopify-Topic": "orders/updated", "X-Shopify-Webhook-Id": "1"}, b"not json")
