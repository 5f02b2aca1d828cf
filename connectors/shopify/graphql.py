"""Shopify's GraphQL Admin API for products: the queries, paging and bulk operations, and the JSONL they produce.

Why GraphQL for products: Shopify marked the REST `/products` and `/variants` endpoints
deprecated in 2024-04 and REST returns at most 100 variants of a product, where a product
may have up to 2,048. So products are read here, on the same pinned version as the REST
calls (client.py):

- a page: `products(first:, after:, query: "updated_at:>='…'")`, each product with its first
  VARIANTS_PER_PRODUCT variants; a product with more pages its variants with
  `product(id:) { variants(first: 250, after:) }` until `hasNextPage` is false, so a product
  of 150 (or 2,000) variants comes in whole;
- a full import: a bulk operation (`bulkOperationRunQuery`), polled with `node(id:)` until
  COMPLETED, then its JSONL downloaded from the signed URL it names (no Shopify token goes
  there). Each JSONL line is one node; a nested node names its parent in `__parentId`;
  `assemble` puts products back together in the order they came.

Query cost: Shopify refuses a query estimated above 1,000 points, and the estimate multiplies
the `first:` of nested connections, so the page sizes below keep a page near 700. A THROTTLED
answer (the shop's point bucket is empty) waits for the bucket's restore rate and retries.

What can go wrong: `errors` in a 200 answer (a bad query, an unknown field on this version)
raise ProviderError with Shopify's message; `userErrors` of the bulk mutation (another bulk
query already running) raise a transient ProviderError so the sync retries later; a bulk
operation that FAILED, EXPIRED or was CANCELED raises with its errorCode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from connectors import http as provider_http
from connectors.errors import ProviderError

if TYPE_CHECKING:
    from .client import ShopifyClient

PRODUCTS_PER_PAGE = 10
VARIANTS_PER_PRODUCT = 50
VARIANTS_PER_CALL = 50  # a product's further variants, per call (about 50 points each)
MEDIA_PER_PRODUCT = 20
THROTTLE_RETRIES = 5
BULK_DONE = "COMPLETED"
BULK_FAILED = frozenset({"FAILED", "CANCELED", "CANCELING", "EXPIRED"})

VARIANT_FIELDS = """
fragment VariantFields on ProductVariant {
  id legacyResourceId sku barcode price title updatedAt inventoryQuantity
  inventoryItem { id legacyResourceId }
  selectedOptions { name value }
}
"""
PRODUCT_FIELDS = """
fragment ProductFields on Product {
  id legacyResourceId title status updatedAt vendor productType tags
  category { fullName }
}
"""

PRODUCTS_PAGE = VARIANT_FIELDS + PRODUCT_FIELDS + """
query ProductsPage($first: Int!, $after: String, $query: String, $variants: Int!, $media: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      ...ProductFields
      media(first: $media) { nodes { ... on MediaImage { id alt image { url } } } }
      variants(first: $variants) { nodes { ...VariantFields } pageInfo { hasNextPage endCursor } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PRODUCT_VARIANTS = VARIANT_FIELDS + """
query ProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) { nodes { ...VariantFields } pageInfo { hasNextPage endCursor } }
  }
}
"""

VARIANTS_BY_SKU = """
query VariantsBySku($query: String!, $first: Int!) {
  productVariants(first: $first, query: $query) { nodes { sku inventoryItem { legacyResourceId } } }
}
"""

# The bulk query: no variables and no `first:` (a bulk operation reads every node of every connection).
BULK_PRODUCTS = """
{
  products%(filter)s {
    edges { node {
      id legacyResourceId title status updatedAt vendor productType tags
      category { fullName }
      media { edges { node { ... on MediaImage { id alt image { url } } } } }
      variants { edges { node {
        id legacyResourceId sku barcode price title updatedAt inventoryQuantity
        inventoryItem { id legacyResourceId }
        selectedOptions { name value }
      } } }
    } }
  }
}
"""

BULK_RUN = """
mutation BulkProducts($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}
"""

BULK_STATUS = """
query BulkOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url partialDataUrl } }
}
"""


def gid_type(gid: str) -> str:
    """`gid://shopify/ProductVariant/1` → `ProductVariant`."""
    parts = str(gid or "").split("/")
    return parts[3] if len(parts) > 4 and parts[:3] == ["gid:", "", "shopify"] else ""


def legacy_id(node: dict[str, Any]) -> str:
    """The numeric id REST, webhooks and orders use: `legacyResourceId`, else the tail of the gid."""
    value = node.get("legacyResourceId") or str(node.get("id") or "").rsplit("/", 1)[-1]
    return str(value)


def search_query(updated_at_min: str | None) -> str | None:
    """Shopify's search syntax for products changed since a time (UTC, quoted)."""
    return f"updated_at:>='{updated_at_min}'" if updated_at_min else None


class ProductsGraphQL:
    """The product reads of one shop's client (client.py sends the calls, paces them and logs them)."""

    def __init__(self, client: ShopifyClient):
        self.client = client

    # ------------------------------------------------------------------ paged
    def products_page(self, *, after: str | None, query: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of products, each with all its variants; the next page's cursor or None."""
        data = self.client.graphql(PRODUCTS_PAGE, {"first": PRODUCTS_PER_PAGE, "after": after, "query": query,
                                                   "variants": VARIANTS_PER_PRODUCT, "media": MEDIA_PER_PRODUCT},
                                   action="graphql_products")
        connection = data["products"]
        products = []
        for node in connection["nodes"]:
            variants = node["variants"]
            nodes = list(variants["nodes"])
            if variants["pageInfo"]["hasNextPage"]:
                nodes.extend(self.more_variants(node["id"], variants["pageInfo"]["endCursor"]))
            products.append({**node, "media": _nodes(node.get("media")), "variants": nodes})
        info = connection["pageInfo"]
        return products, (info["endCursor"] if info["hasNextPage"] else None)

    def more_variants(self, product_gid: str, after: str) -> list[dict[str, Any]]:
        """The variants of one product after `after`, every page of them."""
        found: list[dict[str, Any]] = []
        cursor: str | None = after
        while cursor:
            data = self.client.graphql(PRODUCT_VARIANTS, {"id": product_gid, "first": VARIANTS_PER_CALL,
                                                          "after": cursor}, action="graphql_product_variants")
            if not data.get("product"):
                raise ProviderError(f"Shopify no longer has the product {product_gid} whose variants were paging.")
            variants = data["product"]["variants"]
            found.extend(variants["nodes"])
            cursor = variants["pageInfo"]["endCursor"] if variants["pageInfo"]["hasNextPage"] else None
        return found

    def inventory_items_by_sku(self, skus: list[str]) -> dict[str, str]:
        """{sku: inventory item id} for these SKUs (Shopify's search, 50 SKUs per call)."""
        found: dict[str, str] = {}
        for start in range(0, len(skus), 50):
            chunk = skus[start:start + 50]
            query = " OR ".join(f"sku:{json.dumps(sku)}" for sku in chunk)
            data = self.client.graphql(VARIANTS_BY_SKU, {"query": query, "first": VARIANTS_PER_CALL},
                                       action="graphql_variants_by_sku")
            for node in data["productVariants"]["nodes"]:
                if node.get("sku") in chunk and node.get("inventoryItem"):
                    found[node["sku"]] = str(node["inventoryItem"]["legacyResourceId"])
        return found

    # ------------------------------------------------------------------ bulk
    def start_bulk(self, *, query: str | None) -> str:
        """Start a bulk export of the products (all, or those matching `query`); its BulkOperation gid."""
        bulk_query = BULK_PRODUCTS % {"filter": f"(query: {json.dumps(query)})" if query else ""}
        data = self.client.graphql(BULK_RUN, {"query": bulk_query}, action="bulk_operation_run_query")
        outcome = data["bulkOperationRunQuery"]
        errors = outcome.get("userErrors") or []
        if errors or not outcome.get("bulkOperation"):
            message = "; ".join(str(e.get("message") or e) for e in errors) or "no bulk operation was started"
            raise ProviderError(f"Shopify refused the bulk product export: {message}", transient=True,
                                provider_message=message)
        return outcome["bulkOperation"]["id"]

    def wait_bulk(self, operation_id: str, *, poll_seconds: float, timeout_seconds: float) -> dict[str, Any]:
        """Poll the operation until it is COMPLETED; its node (`url` is None when it found no products)."""
        waited = 0.0
        while True:
            data = self.client.graphql(BULK_STATUS, {"id": operation_id}, action="bulk_operation_status")
            node = data.get("node") or {}
            status = node.get("status")
            if status == BULK_DONE:
                return node
            if status in BULK_FAILED or not node:
                raise ProviderError(f"Shopify's bulk product export {operation_id} ended {status or 'missing'}"
                                    f"{' (' + node['errorCode'] + ')' if node.get('errorCode') else ''}.",
                                    transient=status != "FAILED")
            if waited >= timeout_seconds:
                raise ProviderError(f"Shopify's bulk product export {operation_id} was still {status} after "
                                    f"{timeout_seconds:.0f} s; the next sync resumes it.", transient=True)
            provider_http.sleep(poll_seconds)
            waited += poll_seconds

    def download(self, url: str) -> str:
        """The JSONL of a finished operation (a signed storage URL: no Shopify token is sent there)."""
        response = self.client.http.request("GET", url, action="bulk_operation_download", authenticate=False)
        return response.text


def assemble(jsonl: str) -> Iterator[dict[str, Any]]:
    """Products out of a bulk operation's JSONL, each with `variants` and `media` lists, in file order.

    Shopify writes a parent before its children, but a product's children may be spread over the
    file; a product is yielded once the whole file is read.
    """
    products: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(jsonl.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            node = json.loads(line)
        except ValueError:
            raise ProviderError(f"Line {number} of Shopify's bulk export is not JSON.") from None
        kind, parent = gid_type(node.get("id", "")), node.pop("__parentId", None)
        if kind == "Product" and not parent:
            products[node["id"]] = {**node, "variants": [], "media": []}
        elif parent in products and kind == "ProductVariant":
            products[parent]["variants"].append(node)
        elif parent in products and kind == "MediaImage":
            products[parent]["media"].append(node)
    yield from products.values()


def _nodes(connection: Any) -> list[dict[str, Any]]:
    """A connection's nodes (a `nodes` list, or `edges[].node`), dropping empty ones (media that is no image)."""
    if not isinstance(connection, dict):
        return list(connection or [])
    nodes = connection.get("nodes")
    if nodes is None:
        nodes = [edge.get("node") for edge in connection.get("edges") or []]
    return [n for n in nodes if n]
