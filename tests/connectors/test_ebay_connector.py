"""The eBay connector against recorded answers (tests/fixtures/ebay/), one test per fixture.

A fixture is `{"status", "headers", "body"}` (notifications: `{"headers", "body"}`). Hosts are eBay's real
ones: `connectors.outbound.resolve` is patched to a public address so the outbound check passes, and
`responses` answers before any socket is opened.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import cache
from responses import matchers

from config.errors import ValidationError
from connectors import http, registry
from connectors.ebay.connector import EbayConnector
from connectors.errors import ProviderError, ProviderUnavailable, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.ebay_support import API, IDENTITY_USER, fixture, replay
from tests.connectors.ebay_support import TOKEN_URL as TOKEN
from tests.connectors.support import sent_query
from tests.factories import IntegrationFactory

ORDERS = f"{API}/sell/fulfillment/v1/order"
INVENTORY = f"{API}/sell/inventory/v1/inventory_item"
SINCE = datetime(2024, 3, 1, tzinfo=UTC)
FILTER = "lastmodifieddate:[2024-03-01T00:00:00.000Z..]"


def sent_form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.fixture
def integration(db, public_dns, sleeps):
    cache.clear()
    yield IntegrationFactory(provider="ebay", status=IntegrationStatus.ACTIVE, access_token="v^1.1#i^1#OLD-ACCESS-0001",
                             refresh_token="v^1.1#i^1#REFRESH-TOKEN-0001", api_key="Acme-Switchy-PRD-1234",
                             api_secret="PRD-cert-secret-5678", config={"marketplace_id": "EBAY_US"},
                             scope=["https://api.ebay.com/oauth/api_scope/sell.fulfillment"])
    close_sessions()


# ---------------------------------------------------------------------- declaration, hosts, headers
def test_the_registry_knows_ebay_and_what_it_can_do():
    described = registry.get("ebay").describe()
    assert described["capabilities"] == ["fulfillments", "inventory", "orders", "products"]
    assert (described["auth_kind"], described["webhook_scheme"]) == ("oauth2", "ebay")
    assert "https://api.ebay.com/oauth/api_scope/sell.fulfillment" in described["oauth"]["scopes"]


def test_test_mode_picks_the_sandbox_hosts_and_api_endpoint_wins(db):
    assert EbayConnector(IntegrationFactory(provider="ebay")).resolved_base_url() == API
    sandbox = EbayConnector(IntegrationFactory(provider="ebay", is_test_mode=True))
    assert sandbox.resolved_base_url() == "https://api.sandbox.ebay.com"
    assert sandbox.oauth_meta().authorize_url == "https://auth.sandbox.ebay.com/oauth2/authorize"
    assert sandbox.oauth_meta().token_url == "https://api.sandbox.ebay.com/identity/v1/oauth2/token"
    proxy = EbayConnector(IntegrationFactory(provider="ebay", api_endpoint="https://ebay-proxy.example.com/"))
    assert proxy.resolved_base_url() == "https://ebay-proxy.example.com"


def test_the_consent_url_sends_the_runame_as_redirect_uri(connector, integration, provider_settings):
    provider_settings("ebay", RU_NAME="Acme_Inc-AcmeSwit-Switch-abcdefg")
    url = connector.authorize_url(state="s7ate", redirect_uri="https://hub.example.com/cb", scopes=["a", "b"])
    query = dict(parse_qs(urlsplit(url).query))
    assert url.startswith("https://auth.ebay.com/oauth2/authorize?")
    assert query == {"response_type": ["code"], "client_id": ["Acme-Switchy-PRD-1234"],
                     "redirect_uri": ["Acme_Inc-AcmeSwit-Switch-abcdefg"], "state": ["s7ate"], "scope": ["a b"]}
    provider_settings("ebay", RU_NAME="")
    with pytest.raises(ValidationError, match="RuName"):
        connector.authorize_url(state="s", redirect_uri="https://hub.example.com/cb", scopes=[])


# ---------------------------------------------------------------------- the must-show pull
@responses.activate
def test_orders__page1_and_page2_last_an_incremental_pull_over_two_pages(connector, integration):
    from commerce.services import upsert_orders

    replay("GET", ORDERS, "orders__page1", match=[matchers.query_param_matcher({"offset": "0"}, strict_match=False)])
    replay("GET", ORDERS, "orders__page2_last",
           match=[matchers.query_param_matcher({"offset": "2"}, strict_match=False)])

    pages = list(connector.iter_orders(since=SINCE))
    orders = [connector.normalize_order(o) for page in pages for o in page.items]

    assert [sent_query(c) for c in responses.calls] == [
        {"limit": "200", "offset": "0", "filter": FILTER}, {"limit": "200", "offset": "2", "filter": FILTER}]
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer v^1.1#i^1#OLD-ACCESS-0001"
    assert request.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_US"
    assert json.loads(pages[0].next_cursor) == {"offset": 2, "filter": FILTER} and pages[1].next_cursor is None
    assert [(o["external_id"], o["status"], o["total"]) for o in orders] == [
        ("12-10001-00001", "paid", Decimal("61.47")), ("12-10002-00002", "fulfilled", Decimal("19.99")),
        ("12-10003-00003", "partially_fulfilled", Decimal("46.99"))]
    assert orders[0] == {
        "external_id": "12-10001-00001", "number": "110551234567-2001001", "name": "12-10001-00001",
        "status": "paid", "financial_status": "PAID", "fulfillment_status": "NOT_STARTED", "currency": "USD",
        "subtotal": Decimal("52.48"), "total_discounts": Decimal("0"), "total_tax": Decimal("3.00"),
        "total_shipping": Decimal("5.99"), "total": Decimal("61.47"),
        "customer": {"external_id": "buyer_one", "email": "buyer@members.ebay.com", "name": "Jane Doe"},
        "shipping_address": {"name": "Jane Doe", "company": "", "address1": "1 Main St", "address2": "",
                             "city": "San Jose", "province_code": "CA", "zip": "95125", "country_code": "US",
                             "phone": "+1 555 0100"},
        "billing_address": {},
        "placed_at": datetime(2024, 3, 1, 8, tzinfo=UTC), "updated_at": datetime(2024, 3, 1, 8, 5, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [
            {"external_id": "10001001", "sku": "TS-M-RED", "title": "T-shirt red M", "quantity": 2,
             "price": Decimal("19.99"), "total": Decimal("39.98"), "fulfilled_quantity": 0,
             "variant_external_id": "TS-M-RED", "product_external_id": "110551234567"},
            {"external_id": "10001002", "sku": "MUG-01", "title": "Mug", "quantity": 1,
             "price": Decimal("12.50"), "total": Decimal("12.50"), "fulfilled_quantity": 0,
             "variant_external_id": "MUG-01", "product_external_id": "110551234567"},
        ],
    }
    partial = orders[2]
    assert partial["total_discounts"] == Decimal("2.00")
    assert [(li["sku"], li["quantity"], li["fulfilled_quantity"], li["price"]) for li in partial["lines"]] == [
        ("TS-M-RED", 1, 1, Decimal("19.99")), ("MUG-01", 2, 0, Decimal("12.50"))]

    result = upsert_orders(integration=integration, orders=orders)
    assert (result.created, result.failed) == (3, [])


@responses.activate
def test_a_resumed_pull_starts_from_its_checkpoint(connector):
    replay("GET", ORDERS, "orders__page2_last")
    [page] = list(connector.iter_orders(cursor=json.dumps({"offset": 2, "filter": FILTER})))
    assert sent_query(responses.calls[0]) == {"limit": "200", "offset": "2", "filter": FILTER}
    assert page.next_cursor is None and page.items[0]["orderId"] == "12-10003-00003"
    with pytest.raises(ValidationError, match="cursor is unreadable"):
        next(connector.iter_orders(cursor="page-2"))


@responses.activate
def test_orders__cancelled(connector):
    replay("GET", ORDERS, "orders__cancelled")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert "filter" not in sent_query(responses.calls[0])  # no since: eBay's last 90 days
    assert (order["status"], order["financial_status"]) == ("cancelled", "FULLY_REFUNDED")
    assert order["cancelled_at"] == datetime(2024, 3, 4, 10, 59, tzinfo=UTC)
    assert order["total"] == Decimal("12.50") and order["lines"][0]["fulfilled_quantity"] == 0


@responses.activate
def test_orders__refunded(connector):
    replay("GET", ORDERS, "orders__refunded")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert (order["status"], order["cancelled_at"]) == ("refunded", None)
    assert order["total"] == Decimal("24.99") and order["total_shipping"] == Decimal("5.00")
    assert order["lines"][0]["fulfilled_quantity"] == 1


@responses.activate
def test_orders__get_a_notifications_bare_order_id_is_fetched(connector):
    replay("GET", f"{ORDERS}/12-10001-00001", "orders__get")
    order = connector.normalize_order({"orderId": "12-10001-00001"})
    assert (order["external_id"], order["status"], len(order["lines"])) == ("12-10001-00001", "paid", 2)


def test_an_unknown_payment_status_is_a_mapping_error_not_a_guess():
    from connectors.ebay import mapping

    order = fixture("orders__get")["body"]
    with pytest.raises(mapping.MappingError, match="orderPaymentStatus 'AUTHORIZED'"):
        mapping.normalize_order({**order, "orderPaymentStatus": "AUTHORIZED"})


# ---------------------------------------------------------------------- products, stock
@responses.activate
def test_inventory_items__multi_variant(connector):
    replay("GET", INVENTORY, "inventory_items__multi_variant")
    replay("GET", INVENTORY, "inventory_items__multi_variant")
    [page] = list(connector.iter_products(since=SINCE))
    assert sent_query(responses.calls[0]) == {"limit": "200", "offset": "0"}
    shirt, mug = [connector.normalize_product(p) for p in page.items]
    assert shirt == {
        "external_id": "TSHIRT-RED", "title": "T-shirt red", "status": "active", "updated_at": None,
        "variants": [
            {"external_id": "TS-M-RED", "sku": "TS-M-RED", "name": "T-shirt red — Red / M", "price": None,
             "barcode": "0885909950805", "inventory_item_id": "TS-M-RED", "on_hand": 14,
             "images": [{"url": "https://i.ebayimg.com/images/TS-M-RED.jpg"},
                        {"url": "https://i.ebayimg.com/images/TS-M-RED-back.jpg"}],
             "attributes": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Red"},
                            {"name": "Brand", "value": "Acme"}]},
            {"external_id": "TS-L-RED", "sku": "TS-L-RED", "name": "T-shirt red — Red / L", "price": None,
             "barcode": "", "inventory_item_id": "TS-L-RED", "on_hand": 0,
             "images": [{"url": "https://i.ebayimg.com/images/TS-L-RED.jpg"}],
             "attributes": [{"name": "Size", "value": "L"}, {"name": "Color", "value": "Red"},
                            {"name": "Brand", "value": "Acme"}]},
        ],
    }
    assert mug["external_id"] == "MUG-01" and [v["sku"] for v in mug["variants"]] == ["MUG-01"]
    levels = [connector.normalize_inventory_level(i) for i in next(connector.iter_inventory()).items]
    assert [(lv["inventory_item_id"], lv["location_id"], lv["available"]) for lv in levels] == [
        ("TS-M-RED", "ebay", 14), ("TS-L-RED", "ebay", 0), ("MUG-01", "ebay", 30)]


@responses.activate
def test_bulk_update_price_quantity__partial(connector):
    replay("POST", f"{API}/sell/inventory/v1/bulk_update_price_quantity", "bulk_update_price_quantity__partial")
    result = connector.push_inventory([{"sku": "TS-M-RED", "inventory_item_id": "TS-M-RED", "available": 9},
                                       {"sku": "GONE-01", "inventory_item_id": None, "available": -2}])
    request = responses.calls[0].request
    assert json.loads(request.body) == {"requests": [
        {"sku": "TS-M-RED", "shipToLocationAvailability": {"quantity": 9}},
        {"sku": "GONE-01", "shipToLocationAvailability": {"quantity": 0}}]}
    assert request.headers["Content-Language"] == "en-US"
    assert result == {"updated": 1, "failed": [{"sku": "GONE-01", "status_code": 400,
                                                "message": "SKU GONE-01 is not available in the system"}]}


# ---------------------------------------------------------------------- the must-show push
@responses.activate
def test_shipping_fulfillment__create(connector):
    replay("POST", f"{ORDERS}/12-10001-00001/shipping_fulfillment", "shipping_fulfillment__create")
    result = connector.push_fulfillment({
        "order_id": "12-10001-00001", "lines": [{"line_item_id": "10001001", "sku": "TS-M-RED", "quantity": 2}],
        "tracking_number": "9405509699937003472311", "carrier": "USPS", "carrier_code": "USPS",
        "shipped_at": datetime(2024, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)})
    assert json.loads(responses.calls[0].request.body) == {
        "lineItems": [{"lineItemId": "10001001", "quantity": 2}], "shippedDate": "2024-03-02T09:30:15.123Z",
        "shippingCarrierCode": "USPS", "trackingNumber": "9405509699937003472311"}
    assert result == {"external_id": "9405509699937003472311", "status": "shipped",
                      "tracking_number": "9405509699937003472311", "carrier": "USPS",
                      "line_items": [{"lineItemId": "10001001", "quantity": 2}]}


@responses.activate
def test_a_fulfillment_without_lines_ships_what_the_order_has_not_shipped(connector):
    replay("GET", f"{ORDERS}/12-10001-00001", "orders__get")
    replay("POST", f"{ORDERS}/12-10001-00001/shipping_fulfillment", "shipping_fulfillment__create")
    connector.push_fulfillment({"order_id": "12-10001-00001", "tracking_number": "1Z999", "carrier": "UPS",
                                "shipped_at": "2024-03-02T09:30:00.000Z"})
    assert json.loads(responses.calls[1].request.body)["lineItems"] == [
        {"lineItemId": "10001001", "quantity": 2}, {"lineItemId": "10001002", "quantity": 1}]
    with pytest.raises(ValidationError, match="carrier code and a tracking number"):
        connector.push_fulfillment({"order_id": "12-10001-00001"})


# ---------------------------------------------------------------------- tokens
@responses.activate
def test_oauth__refresh_after_a_401_keeps_the_refresh_token(connector, integration):
    replay("GET", ORDERS, "errors__401")
    replay("POST", TOKEN, "oauth__refresh")
    replay("GET", ORDERS, "orders__page2_last")

    [page] = list(connector.iter_orders())

    assert page.items[0]["orderId"] == "12-10003-00003"
    token_call = responses.calls[1].request
    assert token_call.headers["Authorization"] == "Basic " + base64.b64encode(
        b"Acme-Switchy-PRD-1234:PRD-cert-secret-5678").decode()
    assert sent_form(responses.calls[1]) == {
        "grant_type": "refresh_token", "refresh_token": "v^1.1#i^1#REFRESH-TOKEN-0001",
        "scope": "https://api.ebay.com/oauth/api_scope/sell.fulfillment"}
    assert responses.calls[2].request.headers["Authorization"] == "Bearer v^1.1#i^1#NEW-ACCESS-TOKEN-0002"
    integration.refresh_from_db()
    assert integration.access_token == "v^1.1#i^1#NEW-ACCESS-TOKEN-0002"
    assert integration.refresh_token == "v^1.1#i^1#REFRESH-TOKEN-0001"  # eBay sends no new one: the old stays
    assert integration.expires_at is not None


@responses.activate
def test_oauth__token_exchanges_the_code_with_the_runame(connector, provider_settings):
    provider_settings("ebay", RU_NAME="Acme_Inc-AcmeSwit-Switch-abcdefg")
    replay("POST", TOKEN, "oauth__token")
    tokens = connector.exchange_code("v^1.1#i^1#AUTH-CODE", redirect_uri="https://hub.example.com/callback")
    assert sent_form(responses.calls[0]) == {"grant_type": "authorization_code", "code": "v^1.1#i^1#AUTH-CODE",
                                             "redirect_uri": "Acme_Inc-AcmeSwit-Switch-abcdefg"}
    assert (tokens.access_token, tokens.refresh_token) == ("v^1.1#i^1#FIRST-ACCESS-TOKEN-0001",
                                                           "v^1.1#i^1#REFRESH-TOKEN-0001")


@responses.activate
def test_errors__401_and_a_refused_refresh_sends_the_integration_to_reconnect(connector, integration):
    replay("GET", ORDERS, "errors__401")
    replay("POST", TOKEN, "errors__refresh_invalid_grant")
    with pytest.raises(RefreshFailed) as caught:
        list(connector.iter_orders())
    assert not caught.value.transient
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert integration.last_error.startswith(f"Refreshing the access token of {integration.code} failed: eBay "
                                             "answered HTTP 400: the provided authorization refresh token is invalid")


def test_errors__refresh_invalid_grant_is_the_fixture_the_test_above_replays():
    assert fixture("errors__refresh_invalid_grant")["body"]["error"] == "invalid_grant"


# ---------------------------------------------------------------------- errors, one per fixture
@responses.activate
def test_errors__404(connector):
    replay("POST", f"{ORDERS}/12-99999-00000/shipping_fulfillment", "errors__404")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "12-99999-00000", "lines": [{"line_item_id": "1", "quantity": 1}],
                                    "tracking_number": "1Z", "carrier": "UPS"})
    assert (caught.value.status_code, caught.value.provider_message) == (404, "Invalid Order Id")


@responses.activate
def test_errors__422(connector):
    """eBay's unprocessable-input answer (32300) is an HTTP 400: permanent, with eBay's words."""
    replay("POST", f"{ORDERS}/12-10001-00001/shipping_fulfillment", "errors__422")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "12-10001-00001", "lines": [{"line_item_id": "1", "quantity": 1}],
                                    "tracking_number": "XX", "carrier": "NOPE"})
    assert caught.value.status_code == 400 and not caught.value.transient
    assert caught.value.provider_message == "Invalid shipment tracking number or carrier."


@responses.activate
def test_errors__429_is_retried_after_a_backoff(connector, sleeps, monkeypatch):
    """eBay's 429 (errorId 2001) carries no Retry-After: the client backs off (jitter pinned) and tries again."""
    monkeypatch.setattr(http, "jitter", lambda low, high: high)
    replay("GET", ORDERS, "errors__429")
    replay("GET", ORDERS, "errors__429")
    replay("GET", ORDERS, "orders__page2_last")
    [page] = list(connector.iter_orders())
    assert sleeps == [0.5, 1.0] and page.items[0]["orderId"] == "12-10003-00003"


@responses.activate
def test_a_429_with_retry_after_is_honoured(connector, sleeps):
    recorded = fixture("errors__429")
    responses.add("GET", ORDERS, json=recorded["body"], status=429, headers={"Retry-After": "7"})
    replay("GET", ORDERS, "orders__page2_last")
    list(connector.iter_orders())
    assert sleeps == [7.0]


@responses.activate
def test_errors__500(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    replay("GET", ORDERS, "errors__500")
    replay("GET", ORDERS, "errors__500")
    with pytest.raises(ProviderUnavailable) as caught:
        list(connector.iter_orders())
    assert caught.value.transient and len(sleeps) == 1 and caught.value.provider_message == "Internal error"


@responses.activate
def test_test_connection_says_where_it_connected(connector):
    replay("GET", ORDERS, "orders__page1")
    result = connector.test_connection()
    assert result.ok and result.detail == "Connected to eBay (EBAY_US, production): 3 orders in the last 90 days."
    assert sent_query(responses.calls[0]) == {"limit": "1", "offset": "0"}


# ---------------------------------------------------------------------- the seller's identity
@responses.activate
def test_identity_user__get_names_the_seller_and_records_who_they_are(connector, integration):
    replay("GET", IDENTITY_USER, "identity_user__get")

    assert connector.account_display_name() == "acme_outlet"

    assert responses.calls[0].request.headers["Authorization"] == "Bearer v^1.1#i^1#OLD-ACCESS-0001"
    assert connector.integration.config == {"marketplace_id": "EBAY_US", "ebay_user_id": "nY9vBqKRvms",
                                            "ebay_username": "acme_outlet"}  # in memory: the connect saves it
    assert connector.seller_accounts() == {"nY9vBqKRvms", "acme_outlet"}


@responses.activate
def test_identity_user__get_in_the_sandbox_asks_the_sandbox_apiz_host(integration):
    integration.is_test_mode = True
    replay("GET", "https://apiz.sandbox.ebay.com/commerce/identity/v1/user/", "identity_user__get")
    assert registry.connector_for(integration).account_display_name() == "acme_outlet"


@responses.activate
def test_identity_user__403_insufficient_scope_raises_and_records_nothing(connector, integration):
    """A grant made before the identity scope was asked for: eBay refuses (1100), a permanent error."""
    replay("GET", IDENTITY_USER, "identity_user__403_insufficient_scope")
    with pytest.raises(ProviderError) as caught:
        connector.account_display_name()
    assert caught.value.status_code == 403 and not caught.value.transient
    assert connector.integration.config == {"marketplace_id": "EBAY_US"}
    identity_scope = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
    assert identity_scope in registry.get("ebay").oauth.default_scopes  # new connects ask for it
