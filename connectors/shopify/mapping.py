"""Shopify records (REST; GraphQL for products) → the normalized dicts commerce.services upserts.

The ERP's words (DESIGN.md): an order's number, normalized status, currency,
Decimal totals, lines with sku/quantity/price, and aware UTC datetimes. Money
arrives as strings and stays exact (Decimal, never float). The sandbox shop
speaks the same REST shapes and maps through this module too.

Status: Shopify splits an order's state over `cancelled_at`, `financial_status`
and `fulfillment_status`; the ERP has one, decided in this order:
1. `cancelled_at` set → cancelled (a cancellation that also refunded is still a cancellation);
2. `FINANCIAL_STATUSES[financial_status]` when it is final (voided → cancelled, refunded → refunded);
3. `FULFILLMENT_STATUSES[fulfillment_status]` (fulfilled, partial) when the order shipped;
4. else the financial status's word (paid / partially refunded → paid; pending, authorized,
   partially paid → pending). `restocked` and no fulfillment status ship nothing.
A financial status no table knows is not guessed at: MappingError names it, and
the sync counts the order as failed (the way commerce/statuses.py treats words).

What can go wrong: a missing or malformed required field raises `MappingError`
naming the field and the record, so the sync counts the record as failed
instead of writing half of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required, utc_time

from .graphql import legacy_id

DEFAULT_VARIANT_TITLE = "Default Title"  # the one variant of a product without options

ORDER_STATUSES = ("pending", "paid", "partially_fulfilled", "fulfilled", "cancelled", "refunded")

# Shopify's financial_status → ours. None (a draft-like order without payment yet) is pending.
FINANCIAL_STATUSES: dict[str | None, str] = {
    None: "pending",
    "pending": "pending",
    "authorized": "pending",
    "partially_paid": "pending",
    "paid": "paid",
    "partially_refunded": "paid",
    "refunded": "refunded",
    "voided": "cancelled",
}
FINAL_FINANCIAL = frozenset({"refunded", "cancelled"})
# Shopify's fulfillment_status → ours; absent words (None, "restocked") ship nothing.
FULFILLMENT_STATUSES: dict[str, str] = {"fulfilled": "fulfilled", "partial": "partially_fulfilled"}
# Every raw status word of an order (financial, fulfillment, cancelled) → ours, for a handler passing one through.
RAW_STATUSES: dict[str, str] = {**{k: v for k, v in FINANCIAL_STATUSES.items() if k}, "cancelled": "cancelled",
                                **FULFILLMENT_STATUSES}


def order_status(order: dict[str, Any]) -> str:
    if order.get("cancelled_at"):
        return "cancelled"
    financial = order.get("financial_status") or None
    if financial not in FINANCIAL_STATUSES:
        raise MappingError(f"order {order.get('id')} has an unknown financial_status {financial!r}.")
    status = FINANCIAL_STATUSES[financial]
    if status in FINAL_FINANCIAL:
        return status
    return FULFILLMENT_STATUSES.get(order.get("fulfillment_status") or "", status)


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    external_id = required(order, "id", "order")
    where = f"order {external_id}"
    shipping = (order.get("total_shipping_price_set") or {}).get("shop_money", {}).get("amount")
    if shipping is None:
        shipping = sum((_money(line, "price", where) for line in order.get("shipping_lines") or []), Decimal(0))
    customer = order.get("customer") or {}
    return {
        "external_id": str(external_id),
        "number": str(order.get("order_number") or order.get("name") or external_id),
        "name": order.get("name") or "",
        "status": order_status(order),
        "financial_status": order.get("financial_status") or "",
        "fulfillment_status": order.get("fulfillment_status") or "",
        "currency": required(order, "currency", where),
        "subtotal": _money(order, "subtotal_price", where),
        "total_discounts": _money(order, "total_discounts", where, default="0"),
        "total_tax": _money(order, "total_tax", where, default="0"),
        "total_shipping": Decimal(str(shipping)),
        "total": _money(order, "total_price", where),
        "customer": {
            "external_id": str(customer["id"]) if customer.get("id") else "",
            "email": customer.get("email") or order.get("email") or "",
            "name": " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p),
            "accepts_marketing": marketing_consent(order),
        },
        "shipping_address": normalize_address(order.get("shipping_address")),
        "billing_address": normalize_address(order.get("billing_address")),
        "placed_at": utc_time(order.get("processed_at") or order.get("created_at"), "created_at", where),
        "updated_at": utc_time(order.get("updated_at"), "updated_at", where),
        "cancelled_at": utc_time(order["cancelled_at"], "cancelled_at", where) if order.get("cancelled_at") else None,
        "lines": [normalize_line(line, where) for line in order.get("line_items") or []],
    }


def marketing_consent(order: dict[str, Any]) -> bool | None:
    """The buyer's email marketing consent: the customer's `email_marketing_consent.state` (`subscribed` is
    consent; `not_subscribed`, `unsubscribed`, `redacted`, `invalid` are not; `pending` — double opt-in not yet
    confirmed — is not yet), else the order's older `buyer_accepts_marketing` flag; None when neither is sent."""
    consent = (order.get("customer") or {}).get("email_marketing_consent")
    if isinstance(consent, dict) and consent.get("state"):
        return consent["state"] == "subscribed"
    flag = order.get("buyer_accepts_marketing")
    return flag if isinstance(flag, bool) else None


def normalize_line(line: dict[str, Any], where: str) -> dict[str, Any]:
    quantity = required(line, "quantity", where)
    price = _money(line, "price", where)
    fulfillable = line.get("fulfillable_quantity")
    return {
        "external_id": str(required(line, "id", where)),
        "sku": line.get("sku") or "",
        "title": line.get("name") or line.get("title") or "",
        "quantity": int(quantity),
        "price": price,
        "total": price * int(quantity) - _money(line, "total_discount", where, default="0"),
        "fulfilled_quantity": int(quantity) - int(fulfillable) if fulfillable is not None else 0,
        "variant_external_id": str(line["variant_id"]) if line.get("variant_id") else "",
        "product_external_id": str(line["product_id"]) if line.get("product_id") else "",
    }


def normalize_address(address: dict[str, Any] | None) -> dict[str, str]:
    if not address:
        return {}
    keys = ("name", "company", "address1", "address2", "city", "province_code", "zip", "country_code", "phone")
    normalized = {key: str(address.get(key) or "") for key in keys}
    if not normalized["name"]:
        normalized["name"] = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p)
    return normalized


def normalize_product(product: dict[str, Any]) -> dict[str, Any]:
    """A product and its variants; each variant is one ERP Product row (the SKU is what is unique).

    Two shapes arrive: the GraphQL node the sync reads (graphql.py; ids are gids, the numeric
    `legacyResourceId` is what the ERP keeps, so REST orders and inventory levels still match) and the
    REST representation a `products/update` webhook carries. Both give the same normalized product:
    images in the shop's order, Vendor and Tags as attributes, each variant's options (Size: M) as its
    attributes. Category: the standard taxonomy's full name, else the product type; the webhook's REST
    body has no taxonomy, so it leaves the category the last sync set.
    """
    if str(product.get("id", "")).startswith("gid://"):
        return _normalize_graphql_product(product)
    external_id = required(product, "id", "product")
    where = f"product {external_id}"
    option_names = {int(o.get("position") or i + 1): o.get("name") or ""
                    for i, o in enumerate(product.get("options") or []) if isinstance(o, dict)}
    images = sorted((i for i in product.get("images") or [] if isinstance(i, dict)),
                    key=lambda i: int(i.get("position") or 0))
    return {
        "external_id": str(external_id),
        "title": product.get("title") or "",
        "status": "active" if product.get("status") == "active" else "inactive",
        "updated_at": utc_time(product.get("updated_at"), "updated_at", where),
        "images": [{"url": i.get("src") or "", "alt": i.get("alt") or ""} for i in images],
        "attributes": _listing_attributes(product.get("vendor"), product.get("tags")),
        "variants": [
            {
                "external_id": str(required(variant, "id", where)),
                "sku": variant.get("sku") or "",
                "name": _variant_name(product.get("title"), variant.get("title")),
                "price": _money(variant, "price", where),
                "barcode": variant.get("barcode") or "",
                "inventory_item_id": str(variant.get("inventory_item_id") or ""),
                "on_hand": variant.get("inventory_quantity"),
                "attributes": _options([(option_names.get(n, f"Option {n}"), variant.get(f"option{n}"))
                                        for n in (1, 2, 3)]),
            }
            for variant in product.get("variants") or []
        ],
    }


def _normalize_graphql_product(product: dict[str, Any]) -> dict[str, Any]:
    external_id = legacy_id(product)
    where = f"product {external_id}"
    category = (product.get("category") or {}).get("fullName") or product.get("productType") or ""
    return {
        "external_id": external_id,
        "title": product.get("title") or "",
        "status": "active" if str(product.get("status") or "").upper() == "ACTIVE" else "inactive",
        "updated_at": utc_time(product.get("updatedAt"), "updatedAt", where),
        "category": category,
        "images": [{"url": (m.get("image") or {}).get("url") or "", "alt": m.get("alt") or ""}
                   for m in product.get("media") or [] if isinstance(m, dict) and m.get("image")],
        "attributes": _listing_attributes(product.get("vendor"), product.get("tags")),
        "variants": [
            {
                "external_id": legacy_id(variant),
                "sku": variant.get("sku") or "",
                "name": _variant_name(product.get("title"), variant.get("title")),
                "price": _money(variant, "price", where),
                "barcode": variant.get("barcode") or "",
                "inventory_item_id": legacy_id(variant["inventoryItem"]) if variant.get("inventoryItem") else "",
                "on_hand": variant.get("inventoryQuantity"),
                "attributes": _options([(o.get("name"), o.get("value")) for o in variant.get("selectedOptions") or []]),
            }
            for variant in product.get("variants") or []
        ],
    }


def _variant_name(title: str | None, variant_title: str | None) -> str:
    if variant_title in (None, "", DEFAULT_VARIANT_TITLE):
        return title or ""
    return f"{title or ''} — {variant_title}"


def _listing_attributes(vendor: Any, tags: Any) -> list[dict[str, str]]:
    """Vendor and tags (REST gives tags as "a, b", GraphQL as a list) as attributes, when present."""
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    joined = ", ".join(t for t in tags or [] if t)
    return [{"name": n, "value": str(v)} for n, v in (("Vendor", vendor), ("Tags", joined)) if v]


def _options(pairs: list[tuple[Any, Any]]) -> list[dict[str, str]]:
    """A variant's options as attributes; a single-variant product's `Title: Default Title` is no option."""
    return [{"name": str(name), "value": str(value)} for name, value in pairs
            if name and value not in (None, "") and not (name == "Title" and value == DEFAULT_VARIANT_TITLE)]


def normalize_inventory_level(level: dict[str, Any]) -> dict[str, Any]:
    where = f"inventory level of item {level.get('inventory_item_id')}"
    return {
        "inventory_item_id": str(required(level, "inventory_item_id", where)),
        "location_id": str(required(level, "location_id", where)),
        "available": int(level["available"]) if level.get("available") is not None else None,
        "updated_at": utc_time(level.get("updated_at"), "updated_at", where),
    }


# A refunded line's `restock_type`: only `return` puts units that were shipped back on a location's shelf
# (`cancel` restocks units never shipped, which the order's cancellation already released; `no_restock` keeps
# nothing; the deprecated `legacy_restock` could be either, so it is not guessed at).
RESTOCKED = frozenset({"return"})


def normalize_refund(refund: dict[str, Any]) -> dict[str, Any]:
    """A refund → the shape commerce's `upsert_returns` takes: one line per refunded line item, `received` when
    its units came back (`restock_type` `return`) to `location_id` (the location Shopify restocked)."""
    where = f"refund {refund.get('id')}"
    lines, location = [], ""
    for item in refund.get("refund_line_items") or []:
        received = item.get("restock_type") in RESTOCKED
        if received and not location and item.get("location_id"):
            location = str(item["location_id"])
        line_item = item.get("line_item") or {}
        lines.append({
            "external_id": str(required(item, "id", where)),
            "order_line_external_id": str(item.get("line_item_id") or line_item.get("id") or ""),
            "sku": str(line_item.get("sku") or ""),
            "quantity": int(item.get("quantity") or 0),
            "received": received,
        })
    return {
        "external_id": str(required(refund, "id", where)),
        "order_external_id": str(required(refund, "order_id", where)),
        "reason": str(refund.get("note") or "")[:300],
        "requested_at": utc_time(refund["created_at"], "created_at", where) if refund.get("created_at") else None,
        "location_id": location,
        "lines": lines,
    }


# ---------------------------------------------------------------------- helpers


def _money(record: dict[str, Any], key: str, where: str, default: str | None = None) -> Decimal:
    value = record.get(key, default)
    if value == "":
        # Shopify's mapping has always called a blank amount unreadable, not missing; its messages stay as they were.
        raise MappingError(f"{where} has a {key} that is not an amount: {value!r}.")
    return decimal_amount(value, key, where)
