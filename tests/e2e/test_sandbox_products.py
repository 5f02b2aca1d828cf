"""End to end: the sandbox shop's products through the GraphQL Admin API, as `make run` imports them.

A real simulator, the real connector and the real import: a full import is one bulk operation
(started, polled to COMPLETED, its JSONL downloaded), an incremental one pages GraphQL, every
product arrives once with its images and attributes, and a stock push by SKU finds its inventory
item through GraphQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commerce.models import Product, ProductAttribute, ProductImage
from connectors import registry
from integrations.models import IntegrationLog
from sandbox.data import PRODUCT_ID_BASE
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from syncjobs.resources import ImportSource, resource_import
from tests.factories import IntegrationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]
PRODUCTS = 30


@pytest.fixture
def shop(settings, org, monkeypatch):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    monkeypatch.setattr("connectors.http.sleep", lambda seconds: None)  # the bulk export's polls
    with SandboxServer(port=0, seed=21, orders=10, products=PRODUCTS, rate_limit=1000, leak_rate=1000) as sandbox:
        integration = IntegrationFactory(organization=org, provider="sandbox", api_endpoint=sandbox.url,
                                         api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
                                         access_token=sandbox.issue_tokens()["access_token"],
                                         config={"rate_limit": None})
        yield sandbox, integration


def test_a_full_import_is_one_bulk_export_with_every_product_and_its_catalogue(shop):
    sandbox, integration = shop
    connector = registry.connector_for(integration)
    pages = list(connector.iter_products())
    actions = list(IntegrationLog.objects.filter(integration=integration).order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["bulk_operation_run_query", "bulk_operation_status", "bulk_operation_status",
                       "bulk_operation_download"]
    products = [p for page in pages for p in page.items]
    assert sorted(int(p["legacyResourceId"]) for p in products) == list(range(PRODUCT_ID_BASE,
                                                                              PRODUCT_ID_BASE + PRODUCTS))
    for page in pages:
        resource_import(integration, "products", page.items, source=ImportSource.SYNC, connector=connector)
    expected = sum(sandbox.data.variant_count(i) for i in range(PRODUCTS))
    assert Product.objects.count() == expected
    first = sandbox.data.product(0)
    sku = first["variants"][0]["sku"]
    assert list(ProductImage.objects.filter(product__sku=sku).values_list("url", flat=True)) == [
        image["src"] for image in first["images"]]
    assert ProductAttribute.objects.filter(product__sku=sku, name="Vendor").get().value == first["vendor"]
    assert Product.objects.get(sku=sku).category == f"Home & Garden > {first['product_type']}"


def test_an_incremental_import_pages_graphql_and_a_push_by_sku_finds_its_item(shop):
    sandbox, integration = shop
    connector = registry.connector_for(integration)
    pages = list(connector.iter_products(since=datetime(2000, 1, 1, tzinfo=UTC)))
    assert len(pages) == 3 and pages[-1].next_cursor is None  # 10 products a page
    assert sum(len(page.items) for page in pages) == PRODUCTS
    sku = sandbox.data.variant_sku(4, 0)
    result = connector.push_inventory([{"sku": sku, "location_id": sandbox.data.locations[0].id, "available": 7}])
    assert result["levels"][0]["available"] == 7
    assert sandbox.stock_write_log[-1][2] == 7
