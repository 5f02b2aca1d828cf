"""The Trendyol connector against recorded answers (tests/fixtures/trendyol/), one test per fixture.

A fixture is `{"status", "headers", "body"}`; the webhook fixture is `{"secret", "headers", "body"}` with the raw
body. Hosts are Trendyol's real ones: `connectors.outbound.resolve` is patched to a public address so the outbound
check passes, and `responses` answers before any socket is opened.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from responses import matchers

from config.errors import ValidationError
from connectors import http, registry
from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable
from connectors.mapping import MappingError
from connectors.sessions import close_sessions
from connectors.trendyol.connector import TrendyolConnector
from integrations.models import Integration, IntegrationStatus
from integrations.selectors import integration_receive_url
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

BASE = "https://apigw.trendyol.com"
ORDERS = f"{BASE}/integration/order/sellers/123456/orders"
PRODUCTS = f"{BASE}/integration/product/sellers/123456/products/approved"
PACKAGES = f"{BASE}/integration/order/sellers/123456/shipment-packages"
MS = 1709280000000


fixture = Recorded("trendyol")
replay = fixture.replay


def by_number(number: str, name: str | None = None) -> responses.BaseResponse:
    return replay("GET", ORDERS, name or f"orders__by_number_{number}",
                  match=[matchers.query_param_matcher({"orderNumber": number, "size": "200"})])


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="trendyol", status=IntegrationStatus.ACTIVE, api_key="tyKEY1111",
                             api_secret="tySECRET2222", config={"seller_id": "123456"})
    close_sessions()


# ---------------------------------------------------------------------- declaration, hosts, headers
def test_the_registry_knows_trendyol_and_what_it_can_do():
    cls = registry.get("trendyol")
    assert cls is TrendyolConnector
    assert {c.value for c in cls.capabilities} == {"products", "orders", "inventory", "fulfillments", "labels",
                                                   "returns"}
    assert cls.describe()["auth_kind"] == "basic"


def test_test_mode_picks_the_stage_host_and_api_endpoint_wins(db):
    assert TrendyolConnector(IntegrationFactory(provider="trendyol")).resolved_base_url() == BASE
    stage = TrendyolConnector(IntegrationFactory(provider="trendyol", is_test_mode=True))
    assert stage.resolved_base_url() == "https://stageapigw.trendyol.com"
    proxy = TrendyolConnector(IntegrationFactory(provider="trendyol", api_endpoint="https://ty-proxy.example.com/"))
    assert proxy.resolved_base_url() == "https://ty-proxy.example.com"


def test_headers_are_basic_auth_and_the_seller_user_agent(connector, integration):
    headers = connector.auth_headers()
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"tyKEY1111:tySECRET2222").decode(),
                       "User-Agent": "123456 - SelfIntegration"}
    integration.config = {"seller_id": "123456", "integrator_name": "Switchyard"}
    assert connector.auth_headers()["User-Agent"] == "123456 - Switchyard"
    integration.config = {"seller_id": "123456", "integrator_name": "A very long integrator name indeed"}
    with pytest.raises(ValidationError, match="30 characters"):
        connector.auth_headers()


def test_a_missing_seller_id_is_a_readable_connection_failure(db):
    result = TrendyolConnector(IntegrationFactory(provider="trendyol", config={})).test_connection()
    assert not result.ok and "seller id in config['seller_id']" in result.detail


# ---------------------------------------------------------------------- one test per fixture
@responses.activate
def test_products__multi_variant(connector):
    """Product v2: one content per listing, its barcodes as variants (the v1 filter stopped on 2026-08-10)."""
    replay("GET", PRODUCTS, "products__multi_variant")
    [page] = list(connector.iter_products(since=datetime(2024, 3, 1, tzinfo=UTC)))
    assert sent_query(responses.calls[0]) == {"startDate": str(MS - 8 * 3600 * 1000), "page": "0", "size": "100",
                                              "dateQueryType": "CONTENT_MODIFIED_DATE"}
    shirt, mug = [connector.normalize_product(p) for p in page.items]
    images = [{"url": "https://cdn.example.com/TS-RED-1.jpg"}, {"url": "https://cdn.example.com/TS-RED-2.jpg"}]
    assert shirt == {
        "external_id": "TS-RED", "title": "Tişört Kırmızı", "status": "active",
        "updated_at": datetime(2024, 3, 1, 8, 0, 1, tzinfo=UTC),  # the L barcode changed last
        "category": "Tişört", "attributes": [{"name": "Brand", "value": "Moda"}],
        "variants": [
            {"external_id": "8680000000011", "sku": "TS-M-RED", "name": "Tişört Kırmızı — M",
             "price": Decimal("249.9"), "barcode": "8680000000011", "inventory_item_id": "8680000000011",
             "on_hand": 14, "images": images,
             "attributes": [{"name": "Renk", "value": "Kırmızı"}, {"name": "Beden", "value": "M"}]},
            {"external_id": "8680000000035", "sku": "TS-L-RED", "name": "Tişört Kırmızı — L",
             "price": Decimal("249.9"), "barcode": "8680000000035", "inventory_item_id": "8680000000035",
             "on_hand": 0, "images": images,
             "attributes": [{"name": "Renk", "value": "Kırmızı"}, {"name": "Beden", "value": "L"}]},
        ],
    }
    assert mug["status"] == "inactive" and len(mug["variants"]) == 1  # its one barcode is not on sale
    assert page.next_cursor is None


def test_a_barcode_without_price_or_quantity_leaves_them_as_they_are(connector):
    content = fixture("products__multi_variant")["body"]["content"][0]
    bare = {**content["variants"][0], "price": None, "stock": {"lastModifiedDate": None}, "blacklisted": True}
    product = connector.normalize_product({**content, "variants": [bare]})
    assert product["variants"][0]["price"] is None and product["variants"][0]["on_hand"] is None
    assert product["status"] == "inactive"
    level = connector.normalize_inventory_level({**bare, "productMainId": "TS-RED"})
    assert level["available"] is None and level["updated_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_a_content_without_barcodes_is_a_mapping_error(connector):
    content = fixture("products__multi_variant")["body"]["content"][0]
    with pytest.raises(MappingError, match="no variants"):
        connector.normalize_product({**content, "variants": []})


@responses.activate
def test_paging_goes_by_number_then_by_next_page_token_past_the_ten_thousand_window(connector, monkeypatch):
    """page × size may not pass 10,000: the 100th page on is asked for with the token of the page before."""
    body = fixture("products__multi_variant")["body"]
    for page in (98, 99):
        responses.get(PRODUCTS, json={**body, "totalPages": 150, "nextPageToken": f"tok-{page}"},
                      match=[matchers.query_param_matcher({"page": str(page), "size": "100"})])
    responses.get(PRODUCTS, json={**body, "totalPages": 150, "nextPageToken": "tok-100"},
                  match=[matchers.query_param_matcher({"nextPageToken": "tok-99", "size": "100"})])
    responses.get(PRODUCTS, json={**body, "totalPages": 150, "nextPageToken": None},
                  match=[matchers.query_param_matcher({"nextPageToken": "tok-100", "size": "100"})])
    pages = list(connector.iter_products(cursor=json.dumps({"page": 98, "start": None})))
    assert len(pages) == 4 and pages[-1].next_cursor is None
    assert json.loads(pages[1].next_cursor)["token"] == "tok-99"  # a resumed sync goes on with the token
    assert [dict(parse_qsl(urlsplit(c.request.url).query)).get("nextPageToken") for c in responses.calls] == [
        None, None, "tok-99", "tok-100"]


@responses.activate
def test_inventory_levels_are_the_barcodes_quantities(connector):
    replay("GET", PRODUCTS, "products__multi_variant")
    levels = [connector.normalize_inventory_level(i) for i in next(connector.iter_inventory()).items]
    assert "dateQueryType" not in sent_query(responses.calls[0])
    assert [(lv["inventory_item_id"], lv["location_id"], lv["available"]) for lv in levels] == [
        ("8680000000011", "trendyol", 14), ("8680000000035", "trendyol", 0), ("8680000000028", "trendyol", 30)]


@responses.activate
def test_orders__page0(connector, monkeypatch):
    monkeypatch.setattr("connectors.trendyol.connector.timezone.now", lambda: datetime(2024, 3, 8, tzinfo=UTC))
    replay("GET", ORDERS, "orders__page0", match=[matchers.query_param_matcher({"page": "0"}, strict_match=False)])
    by_number("10001")
    by_number("10002")
    page = next(connector.iter_orders(since=datetime(2024, 3, 1, tzinfo=UTC)))
    query = sent_query(responses.calls[0])
    assert query["startDate"] == str(MS - 8 * 3600 * 1000) and query["endDate"] == "1709856000000"
    assert query["orderByField"] == "PackageLastModifiedDate"
    assert (query["orderByDirection"], query["page"], query["size"]) == ("ASC", "0", "200")
    assert [o["orderNumber"] for o in page.items] == ["10001", "10002"]
    assert sorted(p["id"] for p in page.items[0]["packages"]) == [3001, 3003]  # the sibling fetched
    assert json.loads(page.next_cursor)["page"] == 1


@responses.activate
def test_orders__page1_last(connector):
    replay("GET", ORDERS, "orders__page1_last", match=[matchers.query_param_matcher({"page": "1"},
                                                                                    strict_match=False)])
    by_number("10001")
    by_number("10003")
    cursor = json.dumps({"page": 1, "start": 1709251200000, "end": 1709856000000})
    [page] = list(connector.iter_orders(cursor=cursor))
    assert page.next_cursor is None and [o["orderNumber"] for o in page.items] == ["10001", "10003"]
    assert (sent_query(responses.calls[0])["startDate"], sent_query(responses.calls[0])["endDate"]) == (
        "1709251200000", "1709856000000")


@responses.activate
def test_orders__cancelled(connector):
    replay("GET", ORDERS, "orders__cancelled", match=[matchers.query_param_matcher({"page": "0"},
                                                                                   strict_match=False)])
    by_number("10010", "orders__cancelled")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert order["status"] == "cancelled" and order["fulfillment_status"] == "Cancelled"
    assert order["cancelled_at"] == datetime(2024, 3, 2, 8, tzinfo=UTC)
    assert order["total"] == Decimal("89.5") and [li["quantity"] for li in order["lines"]] == [1]


@responses.activate
def test_orders__refunded(connector):
    replay("GET", ORDERS, "orders__refunded", match=[matchers.query_param_matcher({"page": "0"},
                                                                                  strict_match=False)])
    by_number("10020", "orders__refunded")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert order["status"] == "refunded" and order["cancelled_at"] is None
    assert order["lines"][0]["fulfilled_quantity"] == 2 and order["total"] == Decimal("258.0")


@responses.activate
def test_orders__split(connector, integration):
    """The old package (UnPacked) and the two it was split into are one order, each line once."""
    from commerce.services import upsert_orders

    replay("GET", ORDERS, "orders__split", match=[matchers.query_param_matcher({"page": "0"}, strict_match=False)])
    by_number("10030", "orders__split")
    [page] = list(connector.iter_orders())
    assert len(page.items) == 1
    order = connector.normalize_order(page.items[0])
    assert order["external_id"] == "10030" and order["status"] == "paid"
    assert [(li["external_id"], li["quantity"]) for li in order["lines"]] == [("701", 2), ("702", 1)]
    assert order["total"] == Decimal("589.3") and order["fulfillment_status"] == "Created,Picking"

    result = upsert_orders(integration=integration, orders=[order])
    assert (result.created, result.failed) == (1, [])
    stored = integration.orders.get()
    assert sorted((li.external_id, li.quantity) for li in stored.lines.all()) == [("701", 2), ("702", 1)]


@responses.activate
def test_orders__by_number_10001(connector):
    """A bare package (a webhook's) is merged with its order's other packages, fetched by orderNumber."""
    by_number("10001")
    package = fixture("orders__page0")["body"]["content"][0]
    order = connector.normalize_order(package)
    assert order["status"] == "partially_fulfilled"
    assert [(li["external_id"], li["quantity"], li["fulfilled_quantity"]) for li in order["lines"]] == [
        ("501", 1, 1), ("502", 2, 0)]


@responses.activate
def test_orders__by_number_10002_and_10003(connector):
    by_number("10002")
    by_number("10003")
    paid = connector.normalize_order(fixture("orders__by_number_10002")["body"]["content"][0])
    delivered = connector.normalize_order(fixture("orders__by_number_10003")["body"]["content"][0])
    assert (paid["status"], paid["total_discounts"], paid["total"]) == ("paid", Decimal("20.0"), Decimal("179.0"))
    assert delivered["status"] == "delivered"  # its one package says Delivered


@responses.activate
def test_inventory__update(connector):
    replay("POST", f"{BASE}/integration/inventory/sellers/123456/products/price-and-inventory", "inventory__update")
    result = connector.push_inventory([{"sku": "TS-M-RED", "inventory_item_id": "8680000000011", "available": 9},
                                       {"inventory_item_id": "8680000000028", "available": 25000}])
    assert sent_json(responses.calls[0]) == {"items": [{"barcode": "8680000000011", "quantity": 9},
                                                       {"barcode": "8680000000028", "quantity": 20000}]}
    assert result == {"updated": 2, "batch_request_ids": ["fa75dfd5-6ce6-4730-a09e-97563500000-1529854840"],
                      "capped": ["8680000000028"]}


@responses.activate
def test_shipment_packages__update(connector):
    """The must-show push: the open package moves to Picking, then Invoiced, then gets the seller's tracking."""
    by_number("10001")
    replay("PUT", f"{PACKAGES}/3003", "shipment_packages__update")
    replay("PUT", f"{PACKAGES}/3003", "shipment_packages__update")
    replay("PUT", f"{PACKAGES}/3003/tracking-details", "tracking_details__update")

    result = connector.push_fulfillment({"order_id": "10001", "lines": [{"line_item_id": "502", "quantity": 2}],
                                         "tracking_number": "SP123456789", "carrier": "Sürat", "carrier_code": "SURAT",
                                         "invoice_number": "EFA2024000000123"})

    assert [(c.request.method, urlsplit(c.request.url).path) for c in responses.calls[1:]] == [
        ("PUT", "/integration/order/sellers/123456/shipment-packages/3003"),
        ("PUT", "/integration/order/sellers/123456/shipment-packages/3003"),
        ("PUT", "/integration/order/sellers/123456/shipment-packages/3003/tracking-details"),
    ]
    assert sent_json(responses.calls[1]) == {"lines": [{"lineId": 502, "quantity": 2}], "params": {},
                                             "status": "Picking"}
    assert sent_json(responses.calls[2]) == {"lines": [{"lineId": 502, "quantity": 2}],
                                             "params": {"invoiceNumber": "EFA2024000000123"}, "status": "Invoiced"}
    assert sent_json(responses.calls[3]) == {"cargoSenderNumber": "SP123456789", "providerCode": "SURAT"}
    assert result == {"external_id": "3003", "status": "Invoiced", "tracking_number": "SP123456789",
                      "carrier": "SURAT"}


@responses.activate
def test_tracking_details__update(connector):
    """A Trendyol-paid carrier: Picking only, no tracking sent; the package's own tracking number comes back."""
    by_number("10001")
    replay("PUT", f"{PACKAGES}/3003", "shipment_packages__update")
    replay("PUT", f"{PACKAGES}/3003/tracking-details", "tracking_details__update")
    result = connector.push_fulfillment({"order_id": "10001"})
    assert [urlsplit(c.request.url).path.rsplit("/", 1)[-1] for c in responses.calls[1:]] == ["3003"]
    assert result == {"external_id": "3003", "status": "Picking", "tracking_number": "7330000000001",
                      "carrier": "Trendyol Express Marketplace"}


@responses.activate
def test_a_fulfillment_of_an_unknown_line_changes_nothing(connector):
    by_number("10001")
    with pytest.raises(ValidationError, match="no open line 501"):  # 501 is in the shipped package
        connector.push_fulfillment({"order_id": "10001", "lines": [{"line_item_id": "501", "quantity": 1}]})
    assert len(responses.calls) == 1


@responses.activate
def test_brands__page0(connector, integration):
    replay("GET", f"{BASE}/integration/product/brands", "brands__page0")
    assert connector.brands() == [{"id": 201, "name": "Moda"}, {"id": 202, "name": "Kupa Evi"}]
    assert registry.connector_for(integration).brands() == connector.brands()  # cached: still one call
    assert len(responses.calls) == 1 and sent_query(responses.calls[0]) == {"page": "0", "size": "1000"}


@responses.activate
def test_categories__list(connector, integration):
    replay("GET", f"{BASE}/integration/product/product-categories", "categories__list")
    assert connector.categories()[0]["subCategories"][0]["name"] == "Tişört"
    assert registry.connector_for(integration).categories()[0]["id"] == 403
    assert len(responses.calls) == 1
    other = IntegrationFactory(provider="trendyol", api_key="k", api_secret="s", config={"seller_id": "999"})
    replay("GET", f"{BASE}/integration/product/product-categories", "categories__list")
    registry.connector_for(other).categories()  # another integration has its own cache entry
    assert len(responses.calls) == 2


@responses.activate
def test_webhooks__create(connector, integration, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    replay("POST", f"{BASE}/integration/webhook/sellers/123456/webhooks", "webhooks__create")
    assert len(connector.register_webhooks(integration_receive_url(integration))) == 13
    integration.refresh_from_db()
    assert sent_json(responses.calls[0]) == {
        "url": f"https://hub.example.com/api/webhooks/receive/{integration.route_key}/",
        "authenticationType": "API_KEY",
        "subscribedStatuses": ["CREATED", "PICKING", "INVOICED", "SHIPPED", "CANCELLED", "DELIVERED", "UNDELIVERED",
                               "RETURNED", "UNSUPPLIED", "AWAITING", "UNPACKED", "AT_COLLECTION_POINT", "VERIFIED"],
        "apiKey": integration.webhook_secret}
    assert integration.metadata["trendyol_webhook_id"] == "bb8f4a1e-6a1b-4bd5-9f4c-5c3b2f1d0e9a"
    assert connector.register_webhooks(integration_receive_url(integration)) == []
    responses.add("DELETE", f"{BASE}/integration/webhook/sellers/123456/webhooks/"
                            "bb8f4a1e-6a1b-4bd5-9f4c-5c3b2f1d0e9a", status=200)
    assert connector.unregister_webhooks(integration_receive_url(integration)) == 1


@responses.activate
def test_webhook_registration_leaves_metadata_saved_meanwhile(connector, integration, settings):
    """The connector's instance was read before a token refresh saved its key: registering and removing write
    their key alone."""
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    meanwhile = {**(integration.metadata or {}), "refresh": {"at": "now"}}
    Integration.objects.filter(pk=integration.pk).update(metadata=meanwhile)
    replay("POST", f"{BASE}/integration/webhook/sellers/123456/webhooks", "webhooks__create")
    connector.register_webhooks(integration_receive_url(integration))
    stored = Integration.objects.get(pk=integration.pk).metadata
    assert stored["refresh"] == {"at": "now"} and stored["trendyol_webhook_id"]
    Integration.objects.filter(pk=integration.pk).update(metadata={**stored, "health": "ok"})
    responses.add("DELETE", f"{BASE}/integration/webhook/sellers/123456/webhooks/"
                            "bb8f4a1e-6a1b-4bd5-9f4c-5c3b2f1d0e9a", status=200)
    assert connector.unregister_webhooks(integration_receive_url(integration)) == 1
    stored = Integration.objects.get(pk=integration.pk).metadata
    assert stored["refresh"] == {"at": "now"} and stored["health"] == "ok"
    assert "trendyol_webhook_id" not in stored


@responses.activate
def test_basic_webhook_registration_sends_a_generated_username_and_password(connector, integration):
    integration.config = {"seller_id": "123456", "webhook_auth": "BASIC_AUTHENTICATION"}
    replay("POST", f"{BASE}/integration/webhook/sellers/123456/webhooks", "webhooks__create")
    connector.register_webhooks(integration_receive_url(integration))
    body = sent_json(responses.calls[0])
    assert body["authenticationType"] == "BASIC_AUTHENTICATION" and "apiKey" not in body
    assert body["username"] == f"switchyard-{integration.code}" and body["password"] == integration.webhook_secret


# ---------------------------------------------------------------------- errors, one per fixture
@responses.activate
def test_errors__unauthorized(connector, integration):
    replay("GET", ORDERS, "errors__unauthorized")
    with pytest.raises(AuthExpired) as caught:
        list(connector.iter_orders())
    assert caught.value.status_code == 401 and not caught.value.transient
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert integration.last_error == ("Trendyol refused the API key and secret (Kimlik doğrulama başarısız: API "
                                      "anahtarı veya şifresi hatalı.); check them and the seller id, and save them "
                                      "again.")


@responses.activate
def test_errors__not_found(connector):
    by_number("10001")
    replay("PUT", f"{PACKAGES}/3003", "errors__not_found")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "10001"})
    assert caught.value.status_code == 404 and caught.value.provider_message == "Sipariş paketi bulunamadı."


@responses.activate
def test_errors__unprocessable(connector):
    by_number("10001")
    replay("PUT", f"{PACKAGES}/3003", "errors__unprocessable")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "10001"})
    assert caught.value.status_code == 422 and not caught.value.transient
    assert "Satır miktarı" in caught.value.provider_message


@responses.activate
def test_errors__rate_limited(connector, sleeps, monkeypatch):
    """Trendyol's 429 carries no documented Retry-After: the client backs off (jitter pinned) and tries again."""
    monkeypatch.setattr(http, "jitter", lambda low, high: high)
    replay("GET", PRODUCTS, "errors__rate_limited")
    replay("GET", PRODUCTS, "products__multi_variant")
    assert connector.test_connection().ok
    assert sleeps == [0.5]


@responses.activate
def test_errors__server_error(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    replay("GET", PRODUCTS, "errors__server_error")
    replay("GET", PRODUCTS, "errors__server_error")
    with pytest.raises(ProviderUnavailable) as caught:
        list(connector.iter_products())
    assert caught.value.transient and len(sleeps) == 1
    assert caught.value.provider_message == "Beklenmeyen bir hata oluştu."


# ---------------------------------------------------------------------- the must-show pull
@responses.activate
def test_an_incremental_pull_over_two_pages_gives_one_order_per_order_number(connector, integration):
    from commerce.services import upsert_orders

    replay("GET", ORDERS, "orders__page0", match=[matchers.query_param_matcher({"page": "0"}, strict_match=False)])
    replay("GET", ORDERS, "orders__page1_last", match=[matchers.query_param_matcher({"page": "1"},
                                                                                    strict_match=False)])
    by_number("10001")
    by_number("10002")
    by_number("10003")

    pages = list(connector.iter_orders(since=datetime(2024, 3, 1, tzinfo=UTC)))
    orders = [connector.normalize_order(o) for page in pages for o in page.items]

    assert pages[-1].next_cursor is None
    assert [(o["number"], o["status"], o["total"]) for o in orders] == [
        ("10001", "partially_fulfilled", Decimal("749.7")), ("10002", "paid", Decimal("179.0")),
        ("10001", "partially_fulfilled", Decimal("749.7")), ("10003", "delivered", Decimal("129.0"))]
    assert orders[0] == {
        "external_id": "10001", "number": "10001", "name": "10001", "status": "partially_fulfilled",
        "financial_status": "", "fulfillment_status": "Created,Shipped", "currency": "TRY",
        "subtotal": Decimal("749.7"), "total_discounts": Decimal("0.0"), "total_tax": Decimal("0"),
        "total_shipping": Decimal("0"), "total": Decimal("749.7"),
        "customer": {"external_id": "77", "email": "pf+abc123@trendyolmail.com", "name": "Ayşe Yılmaz"},
        "shipping_address": {"name": "Ayşe Yılmaz", "company": "", "address1": "Atatürk Cad. No:5", "address2": "",
                             "city": "İstanbul", "province_code": "Kadıköy", "zip": "34000", "country_code": "TR",
                             "phone": ""},
        "billing_address": {"name": "Ayşe Yılmaz", "company": "", "address1": "Atatürk Cad. No:5", "address2": "",
                            "city": "İstanbul", "province_code": "Kadıköy", "zip": "34000", "country_code": "TR",
                            "phone": ""},
        "placed_at": datetime(2024, 3, 1, 8, tzinfo=UTC), "updated_at": datetime(2024, 3, 1, 10, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [
            {"external_id": "501", "sku": "TS-M-RED", "title": "Tişört Kırmızı M", "quantity": 1,
             "price": Decimal("249.9"), "total": Decimal("249.9"), "fulfilled_quantity": 1,
             "variant_external_id": "8680000000011", "product_external_id": "1001"},
            {"external_id": "502", "sku": "TS-L-RED", "title": "Tişört Kırmızı L", "quantity": 2,
             "price": Decimal("249.9"), "total": Decimal("499.8"), "fulfilled_quantity": 0,
             "variant_external_id": "8680000000035", "product_external_id": "1002"},
        ],
    }
    result = upsert_orders(integration=integration, orders=orders)
    assert (result.created, result.failed) == (3, []) and integration.orders.count() == 3  # 10001 not doubled
