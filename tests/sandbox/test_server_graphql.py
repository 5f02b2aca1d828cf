"""The simulator's GraphQL endpoint: the product operations the connector sends, bulk exports, product images."""

from __future__ import annotations

import json

import requests

from connectors.shopify import graphql as queries


def ask(shop, document: str, **variables):
    answer = shop.post("graphql.json", {"query": document, "variables": variables})
    assert answer.status_code == 200
    return answer.json()


def test_products_page_pages_every_product_once(shop, sandbox):
    seen, after = [], None
    while True:
        data = ask(shop, queries.PRODUCTS_PAGE, first=7, after=after, query=None, variants=2, media=1)["data"]
        seen += [node["legacyResourceId"] for node in data["products"]["nodes"]]
        if not data["products"]["pageInfo"]["hasNextPage"]:
            break
        after = data["products"]["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == sandbox.data.product_count


def test_an_operation_it_does_not_know_answers_shopifys_errors(shop):
    body = ask(shop, "query Orders { orders(first: 1) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "undefinedField" and "data" not in body


def test_a_bulk_export_runs_then_serves_jsonl_with_parent_ids(shop, sandbox):
    started = ask(shop, queries.BULK_RUN, query=queries.BULK_PRODUCTS % {"filter": ""})["data"]
    operation = started["bulkOperationRunQuery"]["bulkOperation"]["id"]
    statuses = [ask(shop, queries.BULK_STATUS, id=operation)["data"]["node"] for _ in range(2)]
    assert [s["status"] for s in statuses] == ["RUNNING", "COMPLETED"] and statuses[0]["url"] is None
    lines = [json.loads(line) for line in requests.get(statuses[1]["url"], timeout=5).text.splitlines()]
    products = [line for line in lines if "__parentId" not in line]
    assert len(products) == sandbox.data.product_count
    parents = {line["__parentId"] for line in lines if "__parentId" in line}
    assert parents <= {p["id"] for p in products}


def test_product_images_are_served(shop, sandbox):
    url = sandbox.data.product(0)["images"][0]["src"]
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg")
