"""Shopify products through the GraphQL Admin API (tests/fixtures/shopify/graphql_*, bulk_*), one test per fixture.

The fixtures follow shopify.dev's GraphQL Admin reference for the version pinned in client.py: a
`products` connection whose nodes carry `variants`/`media` connections with `pageInfo`, the
`product(id:) { variants }` follow-up for a product with more variants than a page holds, the
`bulkOperationRunQuery` mutation, the BulkOperation node polled through `node(id:)`, and the JSONL
file whose nested lines name their parent in `__parentId`. A product of 150 variants comes in whole.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from commerce.models import ExternalRef, Product, ProductAttribute, ProductImage
from connectors.errors import ProviderError, RateLimited
from connectors.shopify import graphql, mapping
from syncjobs.resources import ImportSource, resource_import
from tests.connectors import shopify_support
from tests.connectors.shopify_support import API, fixture, replay
from tests.connectors.support import FIXTURES, sent_json

integration = shopify_support.integration  # the shared shop; `connector` (conftest) has no client-side bucket

GRAPHQL = f"{API}/graphql.json"
BULK_URL = fixture("bulk_operation__completed")["body"]["data"]["node"]["url"]
JSONL = (Path(FIXTURES) / "shopify" / "bulk_products.jsonl").read_text()
TRICOU_IMAGES = [
    ("https://cdn.shopify.com/s/files/1/0600/1234/5678/files/tricou-fata.jpg?v=1731900000", 1, "Tricou albastru, fata"),
    ("https://cdn.shopify.com/s/files/1/0600/1234/5678/files/tricou-spate.jpg?v=1731900000", 2, ""),
]


def operation(call) -> str:
    """The operation name of a GraphQL call (`query ProductsPage(…)` → ProductsPage)."""
    return re.search(r"\b(?:query|mutation)\s+(\w+)", sent_json(call)["query"]).group(1)


def _catalogue(sku: str):
    product = Product.objects.get(sku=sku)
    images = list(ProductImage.objects.filter(product=product).values_list("url", "position", "alt"))
    attributes = dict(ProductAttribute.objects.filter(product=product).values_list("name", "value"))
    return product.category, images, attributes


# ---------------------------------------------------------------------- paged GraphQL
@responses.activate
def test_graphql_products__page1_pages_a_150_variant_product_whole(connector):
    replay("POST", GRAPHQL, "graphql_products__page1")
    replay("POST", GRAPHQL, "graphql_product_variants__hanorac_page2")
    replay("POST", GRAPHQL, "graphql_product_variants__hanorac_page3_last")
    page = next(connector.iter_products(since=datetime(2026, 11, 1, tzinfo=UTC)))

    assert [operation(c) for c in responses.calls] == ["ProductsPage", "ProductVariants", "ProductVariants"]
    first, second, third = (sent_json(c)["variables"] for c in responses.calls)
    assert first["query"] == "updated_at:>='2026-11-01T00:00:00Z'" and first["after"] is None
    page1 = fixture("graphql_products__page1")["body"]["data"]["products"]["nodes"][1]["variants"]["pageInfo"]
    assert second == {"id": "gid://shopify/Product/8100000002", "first": 50, "after": page1["endCursor"]}
    page2 = fixture("graphql_product_variants__hanorac_page2")["body"]["data"]["product"]["variants"]["pageInfo"]
    assert third["after"] == page2["endCursor"]
    assert json.loads(page.next_cursor)["after"] == fixture("graphql_products__page1")["body"]["data"]["products"][
        "pageInfo"]["endCursor"]

    hanorac = connector.normalize_product(page.items[1])
    assert len(hanorac["variants"]) == 150
    assert len({v["sku"] for v in hanorac["variants"]}) == 150
    assert (hanorac["variants"][0]["sku"], hanorac["variants"][-1]["sku"]) == ("HAN-NEGRU-XXS", "HAN-PORTOCALIU-5XL")
    assert hanorac["variants"][-1]["external_id"] == "46200000150"
    assert hanorac["variants"][-1]["inventory_item_id"] == "48200000150"

    result = resource_import(connector.integration, "products", page.items, source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (2, [])
    assert Product.objects.filter(sku__startswith="HAN-").count() == 150
    assert ExternalRef.objects.filter(resource_type="variant").count() == 153


@responses.activate
def test_graphql_products__page2_last_resumes_from_its_cursor(connector):
    replay("POST", GRAPHQL, "graphql_products__page2_last")
    cursor = json.dumps({"mode": "paged", "after": "eyJsYXN0X2lkIjo4MTAwMDAwMDAyfQ==",
                         "query": "updated_at:>='2026-11-01T00:00:00Z'"})
    page = next(connector.iter_products(cursor=cursor))
    assert sent_json(responses.calls[0])["variables"]["after"] == "eyJsYXN0X2lkIjo4MTAwMDAwMDAyfQ=="
    assert sent_json(responses.calls[0])["variables"]["query"] == "updated_at:>='2026-11-01T00:00:00Z'"
    assert page.next_cursor is None
    cap = connector.normalize_product(page.items[0])
    assert cap["status"] == "inactive" and cap["variants"][0]["name"] == "Sapca"
    assert cap["variants"][0]["attributes"] == [] and cap["images"] == [] and cap["category"] == ""


def test_graphql_product_node_maps_its_catalogue_exactly():
    node = fixture("graphql_products__page1")["body"]["data"]["products"]["nodes"][0]
    product = mapping.normalize_product({**node, "media": node["media"]["nodes"],
                                         "variants": node["variants"]["nodes"]})
    assert product["category"] == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert product["images"] == [{"url": url, "alt": alt} for url, _, alt in TRICOU_IMAGES]  # the video is left out
    assert product["attributes"] == [{"name": "Vendor", "value": "Acme"}, {"name": "Tags", "value": "bumbac, vara"}]
    assert [(v["sku"], v["price"], v["attributes"]) for v in product["variants"]][0] == (
        "TSH-BLU-M", Decimal("79.90"), [{"name": "Culoare", "value": "Albastru"}, {"name": "Marime", "value": "M"}])


def test_rest_webhook_products_keep_the_same_catalogue_but_not_the_category():
    """products/update webhooks carry the REST body: same images and attributes; no taxonomy, so no category key."""
    rest = fixture("products__multi_variant")["body"]["products"][0]
    rest = {**rest, "tags": "bumbac, vara", "images": [
        {"id": 2, "position": 2, "src": TRICOU_IMAGES[1][0], "alt": None},
        {"id": 1, "position": 1, "src": TRICOU_IMAGES[0][0], "alt": TRICOU_IMAGES[0][2]},
    ]}
    product = mapping.normalize_product(rest)
    assert "category" not in product
    assert product["images"] == [{"url": url, "alt": alt} for url, _, alt in TRICOU_IMAGES]
    assert product["variants"][2]["attributes"] == [{"name": "Culoare", "value": "Albastru"},
                                                    {"name": "Marime", "value": "XL"}]


# ---------------------------------------------------------------------- bulk operations
@responses.activate
def test_bulk_operation__completed_imports_every_product_from_the_jsonl(connector, sleeps):
    replay("POST", GRAPHQL, "bulk_operation_run__created")
    replay("POST", GRAPHQL, "bulk_operation__running")
    replay("POST", GRAPHQL, "bulk_operation__completed")
    responses.add("GET", BULK_URL, body=JSONL, content_type="application/jsonl")
    pages = list(connector.iter_products())

    assert [operation(c) for c in responses.calls[:3]] == ["BulkProducts", "BulkOperation", "BulkOperation"]
    bulk_query = sent_json(responses.calls[0])["variables"]["query"]
    assert "products {" in bulk_query and "first:" not in bulk_query  # a bulk query reads whole connections
    assert sent_json(responses.calls[1])["variables"] == {"id": "gid://shopify/BulkOperation/720918"}
    download = responses.calls[3].request
    assert download.url == BULK_URL and "X-Shopify-Access-Token" not in download.headers
    assert sleeps == [5.0]  # one poll interval (BULK_POLL_SECONDS) between RUNNING and COMPLETED

    assert len(pages) == 1 and pages[0].next_cursor is None
    assert [p["legacyResourceId"] for p in pages[0].items] == ["8100000001", "8100000002", "8100000003"]
    assert len(pages[0].items[1]["variants"]) == 150 and len(pages[0].items[0]["media"]) == 2

    result = resource_import(connector.integration, "products", pages[0].items, source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (3, [])
    assert Product.objects.count() == 154
    assert _catalogue("TSH-BLU-L") == ("Apparel & Accessories > Clothing > Shirts & Tops", TRICOU_IMAGES,
                                       {"Vendor": "Acme", "Tags": "bumbac, vara", "Culoare": "Albastru",
                                        "Marime": "L"})
    assert _catalogue("HAN-ROSU-M")[0] == "Imbracaminte"  # no taxonomy category: the product type


@responses.activate
def test_bulk_cursor_resumes_the_same_operation_past_what_was_written(connector):
    replay("POST", GRAPHQL, "bulk_operation__completed")
    responses.add("GET", BULK_URL, body=JSONL)
    cursor = json.dumps({"mode": "bulk", "id": "gid://shopify/BulkOperation/720918", "offset": 2})
    pages = list(connector.iter_products(cursor=cursor))
    assert [operation(c) for c in responses.calls[:1]] == ["BulkOperation"]  # no second export started
    assert [p["legacyResourceId"] for p in pages[0].items] == ["8100000003"]


@responses.activate
def test_bulk_operation_run__in_progress_is_a_transient_refusal(connector):
    replay("POST", GRAPHQL, "bulk_operation_run__in_progress")
    with pytest.raises(ProviderError, match="already in progress") as refused:
        list(connector.iter_products())
    assert refused.value.transient


@responses.activate
def test_bulk_operation__failed_names_its_error_code(connector):
    replay("POST", GRAPHQL, "bulk_operation_run__created")
    replay("POST", GRAPHQL, "bulk_operation__failed")
    with pytest.raises(ProviderError, match="FAILED.*INTERNAL_SERVER_ERROR") as failed:
        list(connector.iter_products())
    assert not failed.value.transient


@responses.activate
def test_bulk_import_can_be_turned_off_for_a_shop(connector):
    connector.integration.config = {**connector.integration.config, "bulk_import": False}
    replay("POST", GRAPHQL, "graphql_products__page2_last")
    next(connector.iter_products())
    assert operation(responses.calls[0]) == "ProductsPage"
    assert sent_json(responses.calls[0])["variables"]["query"] is None


# ---------------------------------------------------------------------- GraphQL errors
@responses.activate
def test_graphql_errors__throttled_waits_for_the_points_and_retries(connector, sleeps):
    replay("POST", GRAPHQL, "graphql_errors__throttled")
    replay("POST", GRAPHQL, "graphql_products__page2_last")
    page = next(connector.iter_products(since=datetime(2026, 11, 1, tzinfo=UTC)))
    assert sleeps == [6.0]  # (702 requested − 102 available) / 100 restored per second
    assert len(page.items) == 1


@responses.activate
def test_graphql_errors__throttled_gives_up_as_rate_limited(connector, sleeps):
    replay("POST", GRAPHQL, "graphql_errors__throttled")
    with pytest.raises(RateLimited):
        next(connector.iter_products(since=datetime(2026, 11, 1, tzinfo=UTC)))
    assert len(sleeps) == 5  # one wait before each of the 5 retries


@responses.activate
def test_graphql_errors__undefined_field_is_permanent_with_shopifys_words(connector):
    replay("POST", GRAPHQL, "graphql_errors__undefined_field")
    with pytest.raises(ProviderError, match="doesn't exist on type 'Product'") as refused:
        next(connector.iter_products(since=datetime(2026, 11, 1, tzinfo=UTC)))
    assert not refused.value.transient


def test_every_operation_is_valid_graphql():
    parser = pytest.importorskip("graphql")  # graphql-core (a schemathesis dependency) parses the documents
    for document in (graphql.PRODUCTS_PAGE, graphql.PRODUCT_VARIANTS, graphql.VARIANTS_BY_SKU, graphql.BULK_RUN,
                     graphql.BULK_STATUS, graphql.BULK_PRODUCTS % {"filter": ""},
                     graphql.BULK_PRODUCTS % {"filter": '(query: "updated_at:>=\'2026-11-01\'")'}):
        parser.parse(document)
