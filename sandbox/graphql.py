"""The sandbox shop's GraphQL Admin API: the product operations Switchyard's connector sends, and bulk exports.

Not a GraphQL engine: an operation is recognized by its name (`query ProductsPage`,
`query ProductVariants`, `query VariantsBySku`, `mutation BulkProducts`, `query BulkOperation`),
its variables are read, and the answer has the shape Shopify gives for those fields (the
connector's queries in connectors/shopify/graphql.py). Anything else answers Shopify's
`errors` list, so a connector asking for something new fails loudly here too.

Products are the REST products of sandbox/data.py turned into GraphQL nodes (gids plus
`legacyResourceId`, MediaImage nodes for images, `selectedOptions`). A bulk export is
CREATED, RUNNING on the first poll and COMPLETED on the second, with a JSONL file served
at `/_sandbox/bulk/<n>.jsonl` (each nested node its own line naming `__parentId`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any

from .state import ShopError, ShopState

_OPERATION = re.compile(r"\b(query|mutation)\s+([A-Za-z_]\w*)")
_UPDATED_SINCE = re.compile(r"updated_at:>='([^']+)'")
_SKU = re.compile(r'sku:"((?:[^"\\]|\\.)*)"')
MAX_FIRST = 250


def gid(kind: str, value: int | str) -> str:
    return f"gid://shopify/{kind}/{value}"


def product_node(product: dict[str, Any]) -> dict[str, Any]:
    """A REST product as the GraphQL Product node the connector reads (variants and media as lists)."""
    names = {o["position"]: o["name"] for o in product.get("options") or []}
    return {
        "id": gid("Product", product["id"]), "legacyResourceId": str(product["id"]), "title": product["title"],
        "status": str(product["status"]).upper(), "updatedAt": product["updated_at"], "vendor": product["vendor"],
        "productType": product["product_type"], "tags": [t.strip() for t in product["tags"].split(",") if t.strip()],
        "category": {"fullName": f"Home & Garden > {product['product_type']}"},
        "media": [{"id": gid("MediaImage", image["id"]), "alt": image["alt"], "image": {"url": image["src"]}}
                  for image in product.get("images") or []],
        "variants": [variant_node(v, names) for v in product["variants"]],
    }


def variant_node(variant: dict[str, Any], option_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", variant["id"]), "legacyResourceId": str(variant["id"]), "sku": variant["sku"],
        "barcode": variant["barcode"], "price": variant["price"], "title": variant["title"],
        "updatedAt": variant["updated_at"], "inventoryQuantity": variant["inventory_quantity"],
        "inventoryItem": {"id": gid("InventoryItem", variant["inventory_item_id"]),
                          "legacyResourceId": str(variant["inventory_item_id"])},
        "selectedOptions": [{"name": option_names.get(1, "Title"), "value": variant["option1"]}],
    }


class GraphQLApi:
    """One shop's GraphQL endpoint and its bulk operations (their state lives here, per server)."""

    def __init__(self, state: ShopState, base_url: str):
        self.state = state
        self.base_url = base_url
        self.bulk: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        query, variables = str(body.get("query") or ""), body.get("variables") or {}
        match = _OPERATION.search(query)
        name = match.group(2) if match else ""
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            return {"errors": [{"message": f"Field or operation '{name or '?'}' is not supported by the sandbox",
                                "extensions": {"code": "undefinedField"}}]}
        return {"data": handler(variables), "extensions": {"cost": {
            "requestedQueryCost": 10, "actualQueryCost": 10,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0}}}}

    # ------------------------------------------------------------------ products
    def _op_ProductsPage(self, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 (the operation's name)
        first = _first(variables.get("first"))
        filters = {}
        since = _UPDATED_SINCE.search(str(variables.get("query") or ""))
        if since:
            filters["updated_at_min"] = since.group(1)
        start = _cursor(variables.get("after")) + 1
        with self.state.lock:
            listing = self.state.products_listing(filters)
            indices = [j for _, j in zip(range(first + 1), listing.forward(start), strict=False)]
            more = len(indices) > first
            nodes = [product_node(listing.render(j)) for j in indices[:first]]
        per_product = _first(variables.get("variants"))
        media = _first(variables.get("media"))
        for node in nodes:
            variants = node["variants"]
            node["variants"] = _connection(variants[:per_product], len(variants) > per_product, per_product - 1)
            node["media"] = {"nodes": node["media"][:media]}
        return {"products": {"nodes": nodes, "pageInfo": {
            "hasNextPage": more, "endCursor": _encode(indices[first - 1] if more else (indices[-1] if indices else -1)),
        }}}

    def _op_ProductVariants(self, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.state.data.product_index(int(str(variables.get("id", "")).rsplit("/", 1)[-1] or 0))
        if index is None:
            return {"product": None}
        with self.state.lock:
            variants = product_node(self.state.product(index))["variants"]
        first, start = _first(variables.get("first")), _cursor(variables.get("after")) + 1
        chunk = variants[start:start + first]
        return {"product": {"variants": _connection(chunk, start + first < len(variants), start + len(chunk) - 1)}}

    def _op_VariantsBySku(self, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        wanted = {json.loads(f'"{sku}"') for sku in _SKU.findall(str(variables.get("query") or ""))}
        found = []
        with self.state.lock:
            for i in range(self.state.data.product_count):
                for variant in self.state.product(i)["variants"]:
                    if variant["sku"] in wanted:
                        found.append({"sku": variant["sku"],
                                      "inventoryItem": {"legacyResourceId": str(variant["inventory_item_id"])}})
        return {"productVariants": {"nodes": found[:_first(variables.get("first"))]}}

    # ------------------------------------------------------------------ bulk operations
    def _op_BulkProducts(self, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        bulk_query = str(variables.get("query") or "")
        if "products" not in bulk_query:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": "The sandbox exports products only", "code": "INVALID"}]}}
        with self.lock:
            number = len(self.bulk) + 1
            self.bulk[number] = {"polls": 0, "query": bulk_query}
        return {"bulkOperationRunQuery": {"bulkOperation": {"id": gid("BulkOperation", number), "status": "CREATED"},
                                          "userErrors": []}}

    def _op_BulkOperation(self, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        number = _int(str(variables.get("id", "")).rsplit("/", 1)[-1])
        with self.lock:
            operation = self.bulk.get(number)
            if operation is None:
                return {"node": None}
            operation["polls"] += 1
            done = operation["polls"] >= 2
        node = {"id": gid("BulkOperation", number), "status": "COMPLETED" if done else "RUNNING", "errorCode": None,
                "objectCount": "0", "url": None, "partialDataUrl": None}
        if done:
            node["objectCount"] = str(self.state.data.product_count)
            node["url"] = f"{self.base_url}/_sandbox/bulk/{number}.jsonl"
        return {"node": node}

    def bulk_file(self, number: int) -> str:
        """The JSONL of a finished export: each product, then its media and variants naming it as parent."""
        if number not in self.bulk:
            raise ShopError(404, "Not Found")
        lines = []
        with self.state.lock:
            for i in range(self.state.data.product_count):
                node = product_node(self.state.product(i))
                media, variants = node.pop("media"), node.pop("variants")
                lines.append(node)
                lines.extend({**m, "__parentId": node["id"]} for m in media)
                lines.extend({**v, "__parentId": node["id"]} for v in variants)
        return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


def _connection(nodes: list[dict[str, Any]], more: bool, last_index: int) -> dict[str, Any]:
    return {"nodes": nodes, "pageInfo": {"hasNextPage": more, "endCursor": _encode(last_index)}}


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last": index}).encode()).decode()


def _cursor(value: Any) -> int:
    if not value:
        return -1
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(value).encode()))["last"])
    except (ValueError, KeyError, TypeError):
        raise ShopError(400, "Invalid cursor") from None


def _first(value: Any) -> int:
    number = _int(value)
    if not 1 <= number <= MAX_FIRST:
        raise ShopError(400, f"first must be between 1 and {MAX_FIRST}")
    return number


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
