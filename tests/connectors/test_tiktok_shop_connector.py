"""The TikTok Shop connector against recorded answers (tests/fixtures/tiktok_shop/), one test per fixture.

A fixture is `{"status", "headers", "body"}` (webhooks: `{"headers", "body"}`). Hosts are TikTok's real ones:
`connectors.outbound.resolve` is patched to a public address, and `responses` answers before any socket opens.
The clock is pinned so every signature is reproducible.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses
from responses import matchers

from config.errors import ValidationError
from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable, RateLimited, RefreshFailed
from connectors.sessions import close_sessions
from connectors.tiktok_shop import client as tts_client
from connectors.tiktok_shop import signing
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

API = "https://open-api.tiktokglobalshop.com"
AUTH = "https://auth.tiktok-shops.com"
ORDERS_SEARCH = f"{API}/order/202309/orders/search"
ORDERS = f"{API}/order/202309/orders"
RETURNS = f"{API}/return_refund/202309/returns/search"
PRODUCTS = f"{API}/product/202309/products/search"
APP_KEY, APP_SECRET = "6abcdefghijk1", "tts-app-secret-0123456789abcdef"
CIPHER = "ROW_Mfxq0QAAAADY9jhQTMr4JXq4U19IpM5-"
NOW = 1709300000


fixture = Recorded("tiktok_shop")
replay = fixture.replay


@pytest.fixture
def integration(db, monkeypatch, public_dns, sleeps):
    monkeypatch.setattr(tts_client, "clock", lambda: NOW)
    yield IntegrationFactory(provider="tiktok_shop", status=IntegrationStatus.ACTIVE, api_key=APP_KEY,
                             api_secret=APP_SECRET, access_token="ROW_AccessToken_0000",
                             refresh_token="ROW_RefreshToken_0001",
                             config={"shop_id": "7495609155379300001", "shop_cipher": CIPHER})
    close_sessions()


def no_returns() -> None:
    replay("POST", RETURNS, "returns__none")


# ---------------------------------------------------------------------- signing: a worked example
def test_the_signature_matches_a_worked_example_computed_by_hand():
    """TikTok's recipe, spelled out: secret + path + sorted k+v (no sign, no access_token) + body + secret."""
    params = {"timestamp": "1709300000", "app_key": APP_KEY, "shop_cipher": CIPHER, "page_size": "50",
              "sign": "ignored", "access_token": "ignored"}
    body = b'{"update_time_ge":1709251200}'
    message = (b"tts-app-secret-0123456789abcdef" b"/order/202309/orders/search"
               b"app_key6abcdefghijk1" b"page_size50" b"shop_cipherROW_Mfxq0QAAAADY9jhQTMr4JXq4U19IpM5-"
               b"timestamp1709300000" b'{"update_time_ge":1709251200}' b"tts-app-secret-0123456789abcdef")
    expected = hmac.new(b"tts-app-secret-0123456789abcdef", message, hashlib.sha256).hexdigest()
    assert signing.sign(APP_SECRET, "/order/202309/orders/search", params, body) == expected


@responses.activate
def test_every_call_is_signed_over_what_is_sent(connector):
    replay("POST", ORDERS_SEARCH, "orders__page2_last")
    no_returns()
    list(connector.iter_orders(since=datetime(2024, 3, 1, tzinfo=UTC)))
    request = responses.calls[0].request
    query = sent_query(responses.calls[0])
    assert request.body == b'{"update_time_ge":1709251200}'
    assert request.headers["x-tts-access-token"] == "ROW_AccessToken_0000" and "Authorization" not in request.headers
    assert {k: v for k, v in query.items() if k != "sign"} == {
        "page_size": "50", "sort_field": "update_time", "sort_order": "ASC", "app_key": APP_KEY,
        "timestamp": str(NOW), "shop_cipher": CIPHER}
    assert query["sign"] == signing.sign(APP_SECRET, "/order/202309/orders/search", query, request.body)


# ---------------------------------------------------------------------- the must-show pull
@responses.activate
def test_orders__page1_and_page2_last_an_incremental_pull_over_two_pages(connector, integration):
    from commerce.services import upsert_orders

    replay("POST", ORDERS_SEARCH, "orders__page1",
           match=[matchers.query_param_matcher({"page_size": "50"}, strict_match=False)])
    no_returns()
    replay("POST", ORDERS_SEARCH, "orders__page2_last", match=[matchers.query_param_matcher(
        {"page_token": "aDU2dUNOekxkQXBBRkh0UkE5b01Ec2lNVFlPRTBicEQ="}, strict_match=False)])
    no_returns()

    pages = list(connector.iter_orders(since=datetime(2024, 3, 1, tzinfo=UTC)))
    orders = [connector.normalize_order(o) for page in pages for o in page.items]

    assert json.loads(pages[0].next_cursor) == {"page_token": "aDU2dUNOekxkQXBBRkh0UkE5b01Ec2lNVFlPRTBicEQ=",
                                                "filters": {"update_time_ge": 1709251200}}
    assert pages[1].next_cursor is None
    assert sent_json(responses.calls[1]) == {"order_ids": ["576461413038785001", "576461413038785002"]}
    assert "page_token" not in sent_query(responses.calls[0])
    assert sent_json(responses.calls[2]) == {"update_time_ge": 1709251200}
    assert [(o["external_id"], o["status"], o["total"]) for o in orders] == [
        ("576461413038785001", "paid", Decimal("61.47")), ("576461413038785002", "delivered", Decimal("19.99")),
        ("576461413038785003", "partially_fulfilled", Decimal("34.49"))]
    assert orders[0] == {
        "external_id": "576461413038785001", "number": "576461413038785001", "name": "576461413038785001",
        "status": "paid", "financial_status": "paid", "fulfillment_status": "AWAITING_SHIPMENT", "currency": "USD",
        "subtotal": Decimal("52.48"), "total_discounts": Decimal("0.00"), "total_tax": Decimal("3.00"),
        "total_shipping": Decimal("5.99"), "total": Decimal("61.47"),
        "customer": {"external_id": "7494000000000000001", "email": "v8a1b2c3@scs.tiktokw.us", "name": "Jane Doe"},
        "shipping_address": {"name": "Jane Doe", "company": "", "address1": "1 Main St", "address2": "",
                             "city": "San Jose", "province_code": "CA", "zip": "95125", "country_code": "US",
                             "phone": "(+1)555***0100"},
        "billing_address": {},
        "placed_at": datetime(2024, 3, 1, 8, tzinfo=UTC), "updated_at": datetime(2024, 3, 1, 8, 5, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [
            {"external_id": "577086512123755001", "sku": "TS-M-RED", "title": "T-shirt — Red, M", "quantity": 1,
             "price": Decimal("19.99"), "total": Decimal("19.99"), "fulfilled_quantity": 0,
             "variant_external_id": "1729500000000000011", "product_external_id": "1729500000000000001"},
            {"external_id": "577086512123755002", "sku": "TS-M-RED", "title": "T-shirt — Red, M", "quantity": 1,
             "price": Decimal("19.99"), "total": Decimal("19.99"), "fulfilled_quantity": 0,
             "variant_external_id": "1729500000000000011", "product_external_id": "1729500000000000001"},
            {"external_id": "577086512123755003", "sku": "MUG-01", "title": "Mug", "quantity": 1,
             "price": Decimal("12.50"), "total": Decimal("12.50"), "fulfilled_quantity": 0,
             "variant_external_id": "1729500000000000021", "product_external_id": "1729500000000000001"},
        ],
    }
    assert orders[2]["total_discounts"] == Decimal("2.00")
    assert [(li["sku"], li["fulfilled_quantity"]) for li in orders[2]["lines"]] == [("TS-M-RED", 1), ("MUG-01", 0)]
    result = upsert_orders(integration=integration, orders=orders)
    assert (result.created, result.failed) == (3, [])


@responses.activate
def test_orders__cancelled(connector):
    replay("POST", ORDERS_SEARCH, "orders__cancelled")
    no_returns()
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert sent_json(responses.calls[0]) == {}
    assert (order["status"], order["cancelled_at"]) == ("cancelled", datetime(2024, 3, 3, 18, 20, tzinfo=UTC))


@responses.activate
def test_orders__refunded_by_its_completed_return(connector):
    replay("POST", ORDERS_SEARCH, "orders__refunded")
    replay("POST", RETURNS, "returns__refunded")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert (order["status"], order["fulfillment_status"]) == ("refunded", "COMPLETED")
    assert order["lines"][0]["fulfilled_quantity"] == 1 and order["total"] == Decimal("24.99")


def test_returns__refunded_and_returns__none_decide_refunded_against_completed():
    from connectors.tiktok_shop import mapping

    order = fixture("orders__refunded")["body"]["data"]["orders"][0]
    returns = fixture("returns__refunded")["body"]["data"]["return_orders"]
    assert mapping.order_status({**order, "returns": returns}) == "refunded"
    assert mapping.order_status({**order, "returns": fixture("returns__none")["body"]["data"]["return_orders"]}) == (
        "delivered")
    with pytest.raises(mapping.MappingError, match="'LOST'"):
        mapping.order_status({**order, "status": "LOST"})


@responses.activate
def test_orders__get_a_webhooks_order_is_fetched_with_its_returns(connector):
    replay("GET", ORDERS, "orders__get", match=[matchers.query_param_matcher({"ids": "576461413038785001"},
                                                                            strict_match=False)])
    no_returns()
    order = connector.normalize_order({"id": "576461413038785001", "status": "AWAITING_SHIPMENT"})
    assert (order["status"], len(order["lines"])) == ("paid", 3)


# ---------------------------------------------------------------------- products, stock, shops
@responses.activate
def test_products__multi_variant(connector):
    replay("POST", PRODUCTS, "products__multi_variant")
    replay("POST", PRODUCTS, "products__multi_variant")
    [page] = list(connector.iter_products(since=datetime(2024, 3, 1, tzinfo=UTC)))
    shirt, mug = [connector.normalize_product(p) for p in page.items]
    assert shirt == {
        "external_id": "1729500000000000001", "title": "T-shirt", "status": "active",
        "updated_at": datetime(2024, 3, 1, 8, 16, 40, tzinfo=UTC),
        "variants": [
            {"external_id": "1729500000000000011", "sku": "TS-M-RED", "name": "T-shirt — Red / M",
             "price": Decimal("19.99"), "barcode": "", "inventory_item_id": "1729500000000000001:1729500000000000011",
             "on_hand": 14},
            {"external_id": "1729500000000000012", "sku": "TS-L-RED", "name": "T-shirt — Red / L",
             "price": Decimal("19.99"), "barcode": "", "inventory_item_id": "1729500000000000001:1729500000000000012",
             "on_hand": 3},
        ],
    }
    assert mug["status"] == "inactive"
    levels = [connector.normalize_inventory_level(r) for r in next(connector.iter_inventory()).items]
    assert [(lv["inventory_item_id"].split(":")[1], lv["location_id"], lv["available"]) for lv in levels] == [
        ("1729500000000000011", "7068517275539719942", 14), ("1729500000000000012", "7068517275539719942", 0),
        ("1729500000000000012", "7068517275539719943", 3), ("1729500000000000021", "7068517275539719942", 30)]


@responses.activate
def test_shops__list_finds_and_keeps_the_shop_cipher(connector, integration):
    integration.config = {"shop_id": "7495609155379300001"}
    replay("GET", f"{API}/authorization/202309/shops", "shops__list")
    assert connector.shop_cipher() == CIPHER
    assert "shop_cipher" not in sent_query(responses.calls[0])
    integration.refresh_from_db()
    assert integration.config["shop_cipher"] == CIPHER
    result = connector.test_connection()
    assert result.ok and result.detail == "Connected to TikTok Shop: Acme US (US)."


@responses.activate
def test_warehouses__list_and_inventory__update_send_stock_per_product(connector):
    replay("GET", f"{API}/logistics/202309/warehouses", "warehouses__list")
    replay("POST", f"{API}/product/202309/products/1729500000000000001/inventory/update", "inventory__update")
    result = connector.push_inventory([
        {"sku": "TS-M-RED", "inventory_item_id": "1729500000000000001:1729500000000000011", "available": 9},
        {"sku": "TS-L-RED", "inventory_item_id": "1729500000000000001:1729500000000000012", "available": -1}])
    assert sent_json(responses.calls[1]) == {"skus": [
        {"id": "1729500000000000011", "inventory": [{"warehouse_id": "7068517275539719942", "quantity": 9}]},
        {"id": "1729500000000000012", "inventory": [{"warehouse_id": "7068517275539719942", "quantity": 0}]}]}
    assert result == {"updated": 2, "products": ["1729500000000000001"]}
    with pytest.raises(ValidationError, match="product:sku"):
        connector.push_inventory([{"sku": "TS-M-RED", "inventory_item_id": None, "available": 1}])


# ---------------------------------------------------------------------- the must-show push
@responses.activate
def test_packages__create(connector):
    replay("GET", ORDERS, "orders__get")
    replay("POST", f"{API}/fulfillment/202309/orders/576461413038785001/packages", "packages__create")
    result = connector.push_fulfillment({
        "order_id": "576461413038785001", "lines": [{"sku": "TS-M-RED", "quantity": 2}],
        "tracking_number": "9400111899223197428490", "carrier": "USPS", "carrier_code": "6617675021119438849"})
    assert sent_json(responses.calls[1]) == {
        "tracking_number": "9400111899223197428490", "shipping_provider_id": "6617675021119438849",
        "order_line_item_ids": ["577086512123755001", "577086512123755002"]}
    query = sent_query(responses.calls[1])
    assert query["sign"] == signing.sign(APP_SECRET, "/fulfillment/202309/orders/576461413038785001/packages",
                                         query, responses.calls[1].request.body)
    assert result == {"external_id": "1154528977690660010", "status": "shipped",
                      "tracking_number": "9400111899223197428490", "carrier": "USPS",
                      "line_items": ["577086512123755001", "577086512123755002"]}


# ---------------------------------------------------------------------- tokens
@responses.activate
def test_oauth__token_from_the_callbacks_code_with_unix_expiry(connector):
    assert connector.callback_code({"auth_code": "TTP_abc", "state": "s"}) == "TTP_abc"
    assert connector.callback_code({"code": "TTP_def", "state": "s"}) == "TTP_def"
    replay("GET", f"{AUTH}/api/v2/token/get", "oauth__token")
    tokens = connector.exchange_code("TTP_abc")
    assert sent_query(responses.calls[0]) == {"app_key": APP_KEY, "app_secret": APP_SECRET, "auth_code": "TTP_abc",
                                              "grant_type": "authorized_code"}
    assert tokens.expires_at == datetime(2024, 3, 8, 8, tzinfo=UTC)  # a Unix time, not a duration
    assert (tokens.access_token, tokens.refresh_token) == ("ROW_AccessToken_0001", "ROW_RefreshToken_0001")


def test_the_authorization_page_takes_the_service_id(connector, provider_settings):
    provider_settings("tiktok_shop", SERVICE_ID="7310000000000000001")
    assert connector.authorize_url(state="s7ate", redirect_uri="https://x", scopes=[]) == (
        "https://services.tiktokshop.com/open/authorize?service_id=7310000000000000001&state=s7ate")


@responses.activate
def test_oauth__refresh_after_an_expired_token_envelope(connector, integration):
    replay("POST", ORDERS_SEARCH, "errors__401")
    replay("GET", f"{AUTH}/api/v2/token/refresh", "oauth__refresh")
    replay("POST", ORDERS_SEARCH, "orders__cancelled")
    no_returns()
    [page] = list(connector.iter_orders())
    assert page.items[0]["id"] == "576461413038785004"
    assert sent_query(responses.calls[1]) == {"app_key": APP_KEY, "app_secret": APP_SECRET,
                                              "refresh_token": "ROW_RefreshToken_0001", "grant_type": "refresh_token"}
    assert responses.calls[2].request.headers["x-tts-access-token"] == "ROW_AccessToken_0002"
    integration.refresh_from_db()
    assert integration.access_token == "ROW_AccessToken_0002"
    assert integration.expires_at == datetime(2024, 3, 9, 8, tzinfo=UTC)


@responses.activate
def test_oauth__refresh_refused_sends_the_integration_to_reconnect(connector, integration):
    replay("POST", ORDERS_SEARCH, "errors__401")
    replay("GET", f"{AUTH}/api/v2/token/refresh", "oauth__refresh_refused")
    with pytest.raises(RefreshFailed):
        list(connector.iter_orders())
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "code 36004001: rt has expired (the refresh token is no longer valid" in integration.last_error
    assert APP_SECRET not in integration.last_error


@responses.activate
def test_errors__401_without_a_refresh_token_is_token_expired(connector, integration):
    integration.refresh_token = ""
    replay("POST", ORDERS_SEARCH, "errors__401")
    with pytest.raises((AuthExpired, RefreshFailed)):
        list(connector.iter_orders())


# ---------------------------------------------------------------------- errors, one per fixture
@responses.activate
def test_errors__404(connector):
    replay("GET", ORDERS, "errors__404")
    with pytest.raises(ProviderError) as caught:
        connector.normalize_order({"id": "1"})
    assert caught.value.status_code == 404 and caught.value.provider_message == "order not exist"


@responses.activate
def test_errors__422_an_envelope_error_is_permanent_with_tiktoks_words(connector):
    replay("POST", f"{API}/fulfillment/202309/orders/576461413038785001/packages", "errors__422")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "576461413038785001", "tracking_number": "X", "carrier_code": "1",
                                    "lines": [{"line_item_id": "577086512123755001", "quantity": 1}]})
    assert not caught.value.transient and caught.value.details["code"] == 21017004
    assert caught.value.message == "TikTok Shop answered code 21017004: Invalid tracking number."


@responses.activate
def test_errors__429_is_retried_after_the_wait(connector, sleeps):
    recorded = fixture("errors__429")
    responses.add("POST", ORDERS_SEARCH, json=recorded["body"], status=429, headers={"Retry-After": "3"})
    replay("POST", ORDERS_SEARCH, "orders__cancelled")
    no_returns()
    list(connector.iter_orders())
    assert sleeps == [3.0]


@responses.activate
def test_a_throttling_envelope_code_is_rate_limited(connector):
    responses.add("POST", ORDERS_SEARCH, json=fixture("errors__429")["body"], status=200)
    with pytest.raises(RateLimited) as caught:
        list(connector.iter_orders())
    assert caught.value.transient


@responses.activate
def test_errors__500(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    replay("POST", PRODUCTS, "errors__500")
    with pytest.raises(ProviderUnavailable) as caught:
        list(connector.iter_products())
    assert caught.value.transient and caught.value.provider_message == "Internal error, please retry later."


@responses.activate
def test_errors__bad_sign(connector):
    replay("POST", PRODUCTS, "errors__bad_sign")
    with pytest.raises(ProviderError, match="check the app secret") as caught:
        list(connector.iter_products())
    assert not caught.value.transient


@responses.activate
def test_errors__bad_timestamp(connector):
    replay("POST", PRODUCTS, "errors__bad_timestamp")
    with pytest.raises(ProviderError, match="check this server's clock"):
        list(connector.iter_products())


@responses.activate
def test_stock_semantics_warehouses_are_the_locations_and_a_push_goes_to_the_one_named(connector):
    replay("GET", f"{API}/logistics/202309/warehouses", "warehouses__list")
    assert connector.stock_nets_open_orders is True
    assert connector.stock_locations() == [
        {"id": "7068517275539719941", "name": "Returns", "pushable": False},
        {"id": "7068517275539719942", "name": "San Jose", "pushable": True},
        {"id": "7068517275539719943", "name": "Reno", "pushable": True}]
    replay("POST", f"{API}/product/202309/products/1729500000000000001/inventory/update", "inventory__update")
    connector.push_inventory([{"sku": "TS-M-RED", "inventory_item_id": "1729500000000000001:1729500000000000011",
                               "location_id": "7068517275539719943", "available": 4}])
    assert sent_json(responses.calls[-1]) == {"skus": [
        {"id": "1729500000000000011", "inventory": [{"warehouse_id": "7068517275539719943", "quantity": 4}]}]}
