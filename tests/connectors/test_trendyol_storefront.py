"""Trendyol's storefront: the `storeFrontCode` header its v3 API wants from international sellers (RO, GR, AE…).

developers.trendyol.com (v3.0) lists `storeFrontCode` as a required header of getShipmentPackages and the
product filters; the connector sends the integration's `config["storefront_code"]` on every call, and refuses
(before any call) a seller whose currency says it sells abroad but has no code, so a Romanian seller's order
pull never fails at Trendyol with an unexplained 400.
"""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from commerce.models import Product, ProductAttribute, ProductImage
from config.errors import ValidationError
from connectors import registry
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

BASE = "https://apigw.trendyol.com"
ORDERS = f"{BASE}/integration/order/sellers/123456/orders"
PRODUCTS = f"{BASE}/integration/product/sellers/123456/products/approved"
PACKAGES = f"{BASE}/integration/order/sellers/123456/shipment-packages"
STOCK = f"{BASE}/integration/inventory/sellers/123456/products/price-and-inventory"

replay = Recorded("trendyol").replay


def seller(config):
    return IntegrationFactory(provider="trendyol", status=IntegrationStatus.ACTIVE, api_key="tyKEY1111",
                              api_secret="tySECRET2222", config={"seller_id": "123456", **config})


@pytest.fixture
def romanian(db, public_dns, sleeps):
    yield seller({"storefront_code": "ro", "currency": "RON"})
    close_sessions()


@responses.activate
def test_every_call_of_a_romanian_seller_carries_its_storefront(romanian):
    connector = registry.connector_for(romanian)
    replay("GET", PRODUCTS, "products__multi_variant")
    replay("GET", ORDERS, "orders__page1_last", match=[matchers.query_param_matcher({"page": "0"},
                                                                                    strict_match=False)])
    for number in ("10001", "10003"):
        replay("GET", ORDERS, f"orders__by_number_{number}",
               match=[matchers.query_param_matcher({"orderNumber": number}, strict_match=False)])
    replay("PUT", f"{PACKAGES}/3003", "shipment_packages__update")
    replay("PUT", f"{PACKAGES}/3003/tracking-details", "tracking_details__update")
    replay("POST", STOCK, "inventory__update")

    assert connector.test_connection().ok
    list(connector.iter_products())
    next(connector.iter_orders())
    connector.push_fulfillment({"order_id": "10001", "tracking_number": "SP1", "carrier_code": "FANCOURIER"})
    connector.push_inventory([{"inventory_item_id": "8680000000011", "available": 3}])

    paths = {call.request.path_url.split("?")[0] for call in responses.calls}
    assert {"/integration/product/sellers/123456/products/approved", "/integration/order/sellers/123456/orders",
            "/integration/order/sellers/123456/shipment-packages/3003/tracking-details",
            "/integration/inventory/sellers/123456/products/price-and-inventory"} <= paths
    assert [call.request.headers.get("storeFrontCode") for call in responses.calls] == ["RO"] * len(responses.calls)


@responses.activate
def test_a_turkish_seller_sends_no_storefront(db, public_dns, sleeps):
    replay("GET", PRODUCTS, "products__multi_variant")
    assert registry.connector_for(seller({"currency": "TRY"})).test_connection().ok
    assert "storeFrontCode" not in responses.calls[0].request.headers


@responses.activate
def test_a_romanian_seller_without_a_storefront_fails_its_connection_test_and_calls_nothing(db, public_dns):
    result = registry.connector_for(seller({"currency": "RON"})).test_connection()
    assert not result.ok
    assert "config['storefront_code']" in result.detail and "RO for Romania" in result.detail
    assert len(responses.calls) == 0


def test_an_unknown_storefront_is_refused_with_the_known_ones(db):
    with pytest.raises(ValidationError, match="no storefront 'XX'.*RO"):
        registry.connector_for(seller({"storefront_code": "xx"})).auth_headers()


@responses.activate
def test_products__multi_variant_catalogue_is_imported_and_a_reimport_replaces_it(romanian):
    """Trendyol (Product v2) gives the content its images, category, brand and shared attributes, each barcode
    its own attributes (Beden)."""
    connector = registry.connector_for(romanian)
    replay("GET", PRODUCTS, "products__multi_variant")
    [page] = list(connector.iter_products())
    resource_import(romanian, "products", page.items, source=ImportSource.SYNC, connector=connector)
    shirt = Product.objects.get(sku="TS-M-RED")
    assert shirt.category == "Tişört"
    assert list(ProductImage.objects.filter(product=shirt).values_list("url", "position")) == [
        ("https://cdn.example.com/TS-RED-1.jpg", 1), ("https://cdn.example.com/TS-RED-2.jpg", 2)]
    assert dict(ProductAttribute.objects.filter(product=shirt).values_list("name", "value")) == {
        "Brand": "Moda", "Beden": "M", "Renk": "Kırmızı"}

    changed = [dict(content) for content in page.items]
    changed[0] = {**changed[0], "lastModifiedDate": changed[0]["lastModifiedDate"] + 60_000, "images": [
        {"url": "https://cdn.example.com/TS-RED-3.jpg"}, {"url": "https://cdn.example.com/TS-RED-1.jpg"}],
        "attributes": []}
    resource_import(romanian, "products", changed, source=ImportSource.SYNC, connector=connector)
    assert list(ProductImage.objects.filter(product=shirt).values_list("url", "position")) == [
        ("https://cdn.example.com/TS-RED-3.jpg", 1), ("https://cdn.example.com/TS-RED-1.jpg", 2)]
    assert dict(ProductAttribute.objects.filter(product=shirt).values_list("name", "value")) == {
        "Brand": "Moda", "Beden": "M"}
    assert ProductImage.objects.count() == 5  # TS-M-RED 2, TS-L-RED 2, MUG-01 1: nothing doubled
