"""The WooCommerce connector against recorded REST v3 answers (tests/fixtures/woocommerce/), one test per fixture.

A fixture is `{"status", "headers", "body"}` as the store answers; webhook fixtures are
`{"secret", "headers", "body"}` with the raw body. The store is `https://shop.example.com`:
`connectors.outbound.resolve` is patched to a public address so the outbound check passes,
and `responses` answers before any socket is opened.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import responses

from commerce.models import Product
from config.errors import ValidationError
from connectors import registry
from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable
from connectors.woocommerce import mapping
from connectors.woocommerce.connector import WooCommerceConnector
from integrations.models import IntegrationStatus
from integrations.selectors import integration_receive_url
from syncjobs.resources import ImportSource, resource_import
from tests.connectors import woocommerce_support
from tests.connectors.support import sent_json, sent_query
from tests.connectors.woocommerce_support import API, STORE, fixture, replay
from tests.factories import IntegrationFactory

integration = woocommerce_support.integration  # the shared fixture, re-bound (nothing shadows an import)


# ---------------------------------------------------------------------- declaration and auth
def test_the_registry_knows_woocommerce_and_what_it_can_do():
    cls = registry.get("woocommerce")
    assert cls is WooCommerceConnector
    assert {c.value for c in cls.capabilities} == {"products", "orders", "inventory", "fulfillments"}
    assert cls.describe()["auth_kind"] == "basic" and cls.webhook_scheme.name == "woocommerce"


def test_plain_http_is_refused_unless_an_allowlisted_loopback(db, settings):
    connector = WooCommerceConnector(IntegrationFactory(provider="woocommerce", api_endpoint="http://shop.example.com"))
    with pytest.raises(ValidationError, match="https"):
        connector.resolved_base_url()
    local = WooCommerceConnector(IntegrationFactory(provider="woocommerce", api_endpoint="http://127.0.0.1:8080/"))
    with pytest.raises(ValidationError):
        local.resolved_base_url()
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    assert local.resolved_base_url() == "http://127.0.0.1:8080"


def test_a_store_without_url_is_a_clear_error(db):
    connector = WooCommerceConnector(IntegrationFactory(provider="woocommerce", api_endpoint=""))
    result = connector.test_connection()
    assert not result.ok and "store's URL in api_endpoint" in result.detail


# ---------------------------------------------------------------------- one test per fixture
@responses.activate
def test_system_status__get(connector):
    replay("GET", f"{API}/system_status", "system_status__get")
    result = connector.test_connection()
    assert result.ok and result.detail == "Connected to https://shop.example.com (WooCommerce 8.5.2)."
    assert responses.calls[0].request.headers["Authorization"] == "Basic Y2tfbGl2ZV8xMTExYWFhYTpjc19saXZlXzIyMjJiYmJi"


@responses.activate
def test_orders__page1(connector):
    replay("GET", f"{API}/orders", "orders__page1")
    page = next(connector.iter_orders())
    assert [o["id"] for o in page.items] == [1001, 1002]
    assert json.loads(page.next_cursor) == {"page": 2, "modified_after": None}
    assert sent_query(responses.calls[0]) == {"status": "any", "orderby": "date", "order": "asc", "page": "1",
                                              "per_page": "100"}


@responses.activate
def test_orders__page2_last(connector):
    replay("GET", f"{API}/orders", "orders__page2_last")
    cursor = json.dumps({"page": 2, "modified_after": "2024-03-01T00:00:00"})
    pages = list(connector.iter_orders(cursor=cursor))
    assert len(pages) == 1 and pages[0].next_cursor is None and [o["id"] for o in pages[0].items] == [1003, 1004]
    assert sent_query(responses.calls[0])["page"] == "2"
    assert sent_query(responses.calls[0])["modified_after"] == "2024-03-01T00:00:00"


@responses.activate
def test_orders__cancelled(connector):
    replay("GET", f"{API}/orders", "orders__cancelled")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert order["status"] == "cancelled" and order["fulfillment_status"] == "cancelled"
    assert order["cancelled_at"] == datetime(2024, 3, 4, 11, 30, tzinfo=UTC)
    assert order["total"] == Decimal("134.70") and order["lines"][0]["fulfilled_quantity"] == 0


@responses.activate
def test_orders__refunded(connector):
    replay("GET", f"{API}/orders", "orders__refunded")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert order["status"] == "refunded" and order["cancelled_at"] is None
    assert order["total"] == Decimal("113.00") and order["updated_at"] == datetime(2024, 3, 6, 9, 45, 10, tzinfo=UTC)


@responses.activate
def test_products__page1(connector):
    replay("GET", f"{API}/products", "products__page1")
    replay("GET", f"{API}/products/40/variations", "products__variations_multi")
    products = [connector.normalize_product(p) for p in next(connector.iter_products()).items]
    simple, _, draft = products
    assert simple == {
        "external_id": "50", "title": "Cana ceramica", "status": "active",
        "updated_at": datetime(2024, 2, 20, 10, tzinfo=UTC),
        "category": "Bucatarie, Cani",
        "images": [{"url": "https://shop.example.ro/wp-content/uploads/2024/02/cana-1.jpg",
                    "alt": "Cana ceramica alba"},
                   {"url": "https://shop.example.ro/wp-content/uploads/2024/02/cana-2.jpg", "alt": ""}],
        "attributes": [{"name": "Material", "value": "Ceramica"}, {"name": "Capacitate", "value": "350 ml"}],
        "variants": [{"external_id": "50", "sku": "MUG-01", "name": "Cana ceramica", "price": Decimal("39.90"),
                      "barcode": "5940000000501", "inventory_item_id": "50", "on_hand": 25}],
    }
    assert draft["status"] == "inactive"


@responses.activate
def test_products__variations_multi(connector):
    replay("GET", f"{API}/products", "products__page1")
    replay("GET", f"{API}/products/40/variations", "products__variations_multi")
    variable = connector.normalize_product(next(connector.iter_products()).items[1])
    assert variable["external_id"] == "40" and variable["title"] == "Tricou bumbac"
    assert variable["variants"] == [
        {"external_id": "43", "sku": "TSHIRT-M-BLUE", "name": "Tricou bumbac — M / Albastru", "price": Decimal("55.00"),
         "barcode": "5940000000431", "inventory_item_id": "40:43", "on_hand": 12,
         "images": [{"url": "https://shop.example.ro/wp-content/uploads/2024/02/tricou-albastru.jpg",
                     "alt": "Tricou albastru"}],
         "attributes": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Albastru"}]},
        {"external_id": "44", "sku": "TSHIRT-L-BLACK", "name": "Tricou bumbac — L / Negru", "price": Decimal("59.00"),
         "barcode": "", "inventory_item_id": "40:44", "on_hand": 0, "images": [],
         "attributes": [{"name": "Size", "value": "L"}, {"name": "Color", "value": "Negru"}]},
    ]
    assert variable["category"] == "Tricouri"
    assert variable["attributes"] == [{"name": "Material", "value": "Bumbac 100%"}]


@responses.activate
def test_products__variations_multi_catalogue_lands_per_variant(connector):
    """A variation's own image comes first, then the product's gallery; its axes join the product's attributes."""
    replay("GET", f"{API}/products", "products__page1")
    replay("GET", f"{API}/products/40/variations", "products__variations_multi")
    page = next(connector.iter_products())
    resource_import(connector.integration, "products", page.items, source=ImportSource.SYNC, connector=connector)
    blue, black = Product.objects.get(sku="TSHIRT-M-BLUE"), Product.objects.get(sku="TSHIRT-L-BLACK")
    assert list(blue.images.values_list("url", "position")) == [
        ("https://shop.example.ro/wp-content/uploads/2024/02/tricou-albastru.jpg", 1),
        ("https://shop.example.ro/wp-content/uploads/2024/02/tricou.jpg", 2)]
    assert list(black.images.values_list("url", "position")) == [
        ("https://shop.example.ro/wp-content/uploads/2024/02/tricou.jpg", 1)]
    assert dict(black.attributes.values_list("name", "value")) == {"Material": "Bumbac 100%", "Size": "L",
                                                                   "Color": "Negru"}
    assert blue.category == "Tricouri" and Product.objects.get(sku="MUG-01").category == "Bucatarie, Cani"


@responses.activate
def test_inventory_levels_come_from_managed_stock(connector):
    replay("GET", f"{API}/products", "products__page1")
    replay("GET", f"{API}/products/40/variations", "products__variations_multi")
    levels = [connector.normalize_inventory_level(r) for r in next(connector.iter_inventory()).items]
    assert [(lv["inventory_item_id"], lv["location_id"], lv["available"]) for lv in levels] == [
        ("50", "default", 25), ("40:43", "default", 12), ("40:44", "default", 0)]  # the draft cap is not managed


@responses.activate
def test_products__batch(connector):
    replay("POST", f"{API}/products/batch", "products__batch")
    replay("POST", f"{API}/products/40/variations/batch", "products__variations_batch")
    result = connector.push_inventory([{"sku": "MUG-01", "inventory_item_id": "50", "available": 7},
                                       {"sku": "TSHIRT-M-BLUE", "inventory_item_id": "40:43", "available": 3}])
    assert result == {"updated": 2}
    assert sent_json(responses.calls[0]) == {"update": [{"id": 50, "manage_stock": True, "stock_quantity": 7}]}


@responses.activate
def test_products__variations_batch(connector):
    replay("POST", f"{API}/products/40/variations/batch", "products__variations_batch")
    connector.push_inventory([{"inventory_item_id": "40:43", "available": 3}])
    assert responses.calls[0].request.url == f"{API}/products/40/variations/batch"
    assert sent_json(responses.calls[0]) == {"update": [{"id": 43, "manage_stock": True, "stock_quantity": 3}]}


@responses.activate
def test_orders__get(connector):
    """A partial shipment: the tracking goes in a note and the order is not completed."""
    replay("GET", f"{API}/orders/1001", "orders__get")
    replay("POST", f"{API}/orders/1001/notes", "orders__note")
    result = connector.push_fulfillment({"order_id": "1001", "lines": [{"line_item_id": "11", "quantity": 1}],
                                         "tracking_number": "2150000123456", "carrier": "FanCourier"})
    assert result["completed"] is False and result["status"] == "processing"
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]


@responses.activate
def test_orders__note(connector):
    replay("GET", f"{API}/orders/1001", "orders__get")
    replay("POST", f"{API}/orders/1001/notes", "orders__note")
    replay("PUT", f"{API}/orders/1001", "orders__update_completed")
    connector.push_fulfillment({"order_id": "1001", "tracking_number": "2150000123456", "carrier": "FanCourier",
                                "notify_customer": True})
    assert sent_json(responses.calls[1]) == {"note": "Shipped with FanCourier, tracking number 2150000123456.",
                                             "customer_note": True}


@responses.activate
def test_shipment_trackings__create(connector, integration, monkeypatch):
    """The must-show push: the extension's tracking first (so the completed email carries it), then completed."""
    integration.config = {"shipment_tracking": True}
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2024, 3, 7, 10, tzinfo=UTC))
    replay("GET", f"{API}/orders/1001", "orders__get")
    replay("POST", f"{STORE}/wp-json/wc-shipment-tracking/v3/orders/1001/shipment-trackings",
           "shipment_trackings__create")
    replay("PUT", f"{API}/orders/1001", "orders__update_completed")

    result = connector.push_fulfillment({"order_id": "1001", "lines": [{"line_item_id": "11", "quantity": 2}],
                                         "tracking_number": "2150000123456", "carrier": "FanCourier"})

    assert [(c.request.method, urlsplit(c.request.url).path) for c in responses.calls] == [
        ("GET", "/wp-json/wc/v3/orders/1001"),
        ("POST", "/wp-json/wc-shipment-tracking/v3/orders/1001/shipment-trackings"),
        ("PUT", "/wp-json/wc/v3/orders/1001"),
    ]
    assert sent_json(responses.calls[1]) == {"tracking_number": "2150000123456", "date_shipped": "2024-03-07",
                                             "tracking_provider": "FanCourier"}
    assert sent_json(responses.calls[2]) == {"status": "completed"}
    assert result == {"external_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "status": "completed",
                      "tracking_number": "2150000123456", "carrier": "FanCourier", "completed": True}


@responses.activate
def test_orders__update_completed(connector, integration):
    """A custom carrier with a link goes as custom_tracking_provider/custom_tracking_link."""
    integration.config = {"shipment_tracking": True}
    replay("GET", f"{API}/orders/1001", "orders__get")
    replay("POST", f"{STORE}/wp-json/wc-shipment-tracking/v3/orders/1001/shipment-trackings",
           "shipment_trackings__create")
    replay("PUT", f"{API}/orders/1001", "orders__update_completed")
    result = connector.push_fulfillment({"order_id": 1001, "tracking_number": "X1", "carrier": "Cargus",
                                         "tracking_url": "https://cargus.example/t/X1"})
    body = sent_json(responses.calls[1])
    assert body["custom_tracking_provider"] == "Cargus" and body["custom_tracking_link"] == "https://cargus.example/t/X1"
    assert "tracking_provider" not in body and result["status"] == "completed"


@responses.activate
def test_webhooks__create(connector, integration, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    replay("POST", f"{API}/webhooks", "webhooks__create")
    added = connector.register_webhooks(integration_receive_url(integration))
    integration.refresh_from_db()
    assert added == ["order.created", "order.updated", "order.deleted", "order.restored", "product.created",
                     "product.updated", "product.deleted", "product.restored"]
    first = sent_json(responses.calls[0])
    assert first == {"name": f"Switchyard {integration.code} order.created", "topic": "order.created",
                     "delivery_url": f"https://hub.example.com/api/webhooks/receive/{integration.route_key}/",
                     "secret": integration.webhook_secret, "status": "active"}
    assert len(integration.webhook_secret) >= 32
    assert connector.register_webhooks(integration_receive_url(integration)) == []  # idempotent: nothing more to add
    responses.add("DELETE", f"{API}/webhooks/142", json={"id": 142})
    assert connector.unregister_webhooks(integration_receive_url(integration)) == 8
    integration.refresh_from_db()
    assert integration.metadata["woocommerce_webhooks"] == {}


# ---------------------------------------------------------------------- errors, one per fixture
@responses.activate
def test_errors__unauthorized(connector, integration):
    """A 401 cannot be refreshed (keys do not expire): AuthExpired, and the active integration goes to error."""
    replay("GET", f"{API}/orders", "errors__unauthorized")
    with pytest.raises(AuthExpired) as caught:
        list(connector.iter_orders())
    assert caught.value.provider_message == "Consumer key is invalid." and caught.value.transient is False
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert integration.last_error == ("WooCommerce refused the consumer key and secret (Consumer key is invalid.); "
                                      "check them and save them again.")
    assert len(responses.calls) == 1


@responses.activate
def test_errors__unauthorized_in_a_connection_test_leaves_the_status(connector, integration):
    replay("GET", f"{API}/system_status", "errors__unauthorized")
    result = connector.test_connection()
    assert not result.ok and "HTTP 401: Consumer key is invalid." in result.detail
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ACTIVE


@responses.activate
def test_errors__not_found(connector):
    replay("GET", f"{API}/orders/999", "errors__not_found")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "999", "tracking_number": "T"})
    assert caught.value.status_code == 404 and not caught.value.transient
    assert caught.value.provider_message == "Invalid ID."


@responses.activate
def test_errors__unprocessable(connector):
    replay("GET", f"{API}/orders", "errors__unprocessable")
    with pytest.raises(ProviderError) as caught:
        list(connector.iter_orders())
    assert caught.value.status_code == 422 and caught.value.provider_message == "Invalid parameter(s): status"


@responses.activate
def test_errors__rate_limited(connector, sleeps):
    """A host's 429 with Retry-After is honoured by the one HTTP client, then the page comes."""
    replay("GET", f"{API}/orders", "errors__rate_limited")
    replay("GET", f"{API}/orders", "orders__page2_last")
    pages = list(connector.iter_orders())
    assert sleeps == [3.0]
    assert [o["id"] for o in pages[0].items] == [1003, 1004]


@responses.activate
def test_errors__server_error(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 2
    for _ in range(3):
        replay("GET", f"{API}/orders", "errors__server_error")
    with pytest.raises(ProviderUnavailable) as caught:
        list(connector.iter_orders())
    assert caught.value.transient and len(sleeps) == 2
    assert "There has been a critical error on this website." in caught.value.message


# ---------------------------------------------------------------------- the must-show pull
@responses.activate
def test_an_incremental_pull_over_two_pages_gives_the_right_orders(connector):
    replay("GET", f"{API}/orders", "orders__page1")
    replay("GET", f"{API}/orders", "orders__page2_last")

    pages = list(connector.iter_orders(since=datetime(2024, 3, 1, 0, 0, 0, 500, tzinfo=UTC)))
    orders = [connector.normalize_order(o) for page in pages for o in page.items]

    assert [sent_query(c)["page"] for c in responses.calls] == ["1", "2"]
    assert all(sent_query(c)["modified_after"] == "2024-03-01T00:00:00" for c in responses.calls)
    assert all(sent_query(c)["dates_are_gmt"] == "true" for c in responses.calls)
    assert pages[-1].next_cursor is None
    assert [(o["number"], o["status"], o["total"]) for o in orders] == [
        ("1001", "paid", Decimal("145.90")), ("1002", "pending", Decimal("57.73")),
        ("1003", "fulfilled", Decimal("164.80")), ("1004", "pending", Decimal("64.00"))]
    assert orders[0] == {
        "external_id": "1001", "number": "1001", "name": "#1001", "status": "paid", "financial_status": "",
        "fulfillment_status": "processing", "currency": "RON", "subtotal": Decimal("110.00"),
        "total_discounts": Decimal("0.00"), "total_tax": Decimal("20.90"), "total_shipping": Decimal("15.00"),
        "total": Decimal("145.90"),
        "customer": {"external_id": "7", "email": "ana.popescu@example.com", "name": "Ana Popescu"},
        "shipping_address": {"name": "Ana Popescu", "company": "", "address1": "Strada Lunga 5", "address2": "",
                             "city": "Cluj-Napoca", "province_code": "CJ", "zip": "400001", "country_code": "RO",
                             "phone": "+40 721 000 111"},
        "billing_address": {"name": "Ana Popescu", "company": "", "address1": "Strada Lunga 5", "address2": "",
                            "city": "Cluj-Napoca", "province_code": "CJ", "zip": "400001", "country_code": "RO",
                            "phone": "+40 721 000 111"},
        "placed_at": datetime(2024, 3, 1, 8, 15, tzinfo=UTC), "updated_at": datetime(2024, 3, 1, 8, 16, 30, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [{"external_id": "11", "sku": "TSHIRT-M-BLUE", "title": "Tricou bumbac - M / Albastru", "quantity": 2,
                   "price": Decimal("55"), "total": Decimal("110.00"), "fulfilled_quantity": 0,
                   "variant_external_id": "43", "product_external_id": "40"}],
    }
    assert orders[1]["total_discounts"] == Decimal("3.99") and orders[1]["customer"]["external_id"] == ""
    assert [(li["sku"], li["quantity"], li["fulfilled_quantity"]) for li in orders[2]["lines"]] == [
        ("TSHIRT-L-BLACK", 1, 1), ("MUG-01", 2, 2)]


def test_a_plugin_status_maps_through_config_or_fails_by_name(connector, integration):
    order = fixture("orders__page1")["body"][0] | {"status": "shipped"}
    with pytest.raises(mapping.MappingError, match="'shipped'"):
        connector.normalize_order(order)
    integration.config = {"status_map": {"shipped": "fulfilled"}}
    assert connector.normalize_order(order)["status"] == "fulfilled"


@responses.activate
def test_the_pulled_orders_import_through_commerce(connector, integration):
    from commerce.services import upsert_orders

    replay("GET", f"{API}/orders", "orders__page1")
    replay("GET", f"{API}/orders", "orders__page2_last")
    orders = [connector.normalize_order(o) for page in connector.iter_orders() for o in page.items]
    result = upsert_orders(integration=integration, orders=orders)
    assert (result.created, result.failed) == (4, [])
