"""WooCommerce REST v3 records → the normalized dicts commerce.services upserts.

Status: WooCommerce has one order status; `ORDER_STATUSES` maps it to the ERP's
(pending, processing → paid, on-hold → pending, completed → fulfilled,
cancelled, refunded, failed → cancelled, trash → cancelled, checkout-draft →
pending). Plugins add statuses of their own (`shipped`, `partial-shipped`…):
an integration's `config["status_map"]` (`{"shipped": "fulfilled"}`) extends
the table, and a word neither knows raises MappingError naming it, so a new
status shows up in the sync's failures instead of silently becoming "pending".
A partial refund leaves the status alone (the refunds are in `refunds[]`).

Products: a simple product is one variant (itself) — none without a SKU, as
the ERP knows products by SKU; a variable product's variations are separate
records (the product lists their ids), which the connector fetches and attaches
as `variation_records`. Each variant's `inventory_item_id` names where its stock
lives: `"<product id>"` for a simple product, `"<product id>:<variation id>"`
for a variation — what inventory levels and pushes use.

Times: WooCommerce gives `*_gmt` fields without an offset; they are UTC.
Money arrives as strings (line `price` as a number) and becomes Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required, utc_time

NORMALIZED = ("pending", "paid", "partially_fulfilled", "fulfilled", "cancelled", "refunded")
ORDER_STATUSES: dict[str, str] = {
    "pending": "pending",
    "processing": "paid",
    "on-hold": "pending",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "cancelled",
    "trash": "cancelled",
    "checkout-draft": "pending",
}
DEFAULT_LOCATION = "default"  # WooCommerce core has one stock figure per product: one location


def order_status(order: dict[str, Any], extra: Mapping[str, str] | None = None) -> str:
    word = str(order.get("status") or "").strip().lower()
    table = {**ORDER_STATUSES, **{str(k).lower(): str(v) for k, v in (extra or {}).items()}}
    status = table.get(word)
    if status not in NORMALIZED:
        raise MappingError(f"order {order.get('id')} has the status {word!r}, which no table maps; "
                           f"add it to the integration's config['status_map'].")
    return status


def normalize_order(order: dict[str, Any], status_map: Mapping[str, str] | None = None) -> dict[str, Any]:
    external_id = required(order, "id", "order")
    where = f"order {external_id}"
    status = order_status(order, status_map)
    billing = order.get("billing") or {}
    lines = [normalize_line(line, where, fulfilled=status == "fulfilled") for line in order.get("line_items") or []]
    modified = _time(order.get("date_modified_gmt"), "date_modified_gmt", where)
    return {
        "external_id": str(external_id),
        "number": str(order.get("number") or external_id),
        "name": f"#{order.get('number') or external_id}",
        "status": status,
        "financial_status": "",
        "fulfillment_status": str(order.get("status") or ""),
        "currency": required(order, "currency", where),
        "subtotal": sum((_money(line, "subtotal", where) for line in order.get("line_items") or []), Decimal(0)),
        "total_discounts": _money(order, "discount_total", where, default="0"),
        "total_tax": _money(order, "total_tax", where, default="0"),
        "total_shipping": _money(order, "shipping_total", where, default="0"),
        "total": _money(order, "total", where),
        "customer": {
            "external_id": str(order["customer_id"]) if order.get("customer_id") else "",
            "email": billing.get("email") or "",
            "name": " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p),
        },
        "shipping_address": normalize_address(order.get("shipping")),
        "billing_address": normalize_address(billing),
        "placed_at": _time(order.get("date_created_gmt"), "date_created_gmt", where),
        "updated_at": modified,
        "cancelled_at": modified if status == "cancelled" else None,
        "lines": lines,
    }


def normalize_line(line: dict[str, Any], where: str, *, fulfilled: bool) -> dict[str, Any]:
    quantity = int(required(line, "quantity", where))
    return {
        "external_id": str(required(line, "id", where)),
        "sku": line.get("sku") or "",
        "title": line.get("name") or "",
        "quantity": quantity,
        "price": _money(line, "price", where),
        "total": _money(line, "total", where),
        "fulfilled_quantity": quantity if fulfilled else 0,
        "variant_external_id": str(line["variation_id"]) if line.get("variation_id") else "",
        "product_external_id": str(line["product_id"]) if line.get("product_id") else "",
    }


def normalize_address(address: dict[str, Any] | None) -> dict[str, str]:
    if not address or not any(address.values()):
        return {}
    return {
        "name": " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p),
        "company": address.get("company") or "",
        "address1": address.get("address_1") or "",
        "address2": address.get("address_2") or "",
        "city": address.get("city") or "",
        "province_code": address.get("state") or "",
        "zip": address.get("postcode") or "",
        "country_code": address.get("country") or "",
        "phone": address.get("phone") or "",
    }


def inventory_item_id(product_id: Any, variation_id: Any = None) -> str:
    return f"{product_id}:{variation_id}" if variation_id else str(product_id)


def parse_inventory_item_id(value: str) -> tuple[int, int | None]:
    """`"12"` → (12, None); `"12:34"` → (12, 34). ValueError for anything else."""
    product, _, variation = str(value).partition(":")
    return int(product), int(variation) if variation else None


def lists_variation_ids(product: dict[str, Any]) -> bool:
    """Whether a variable product carries its variations as ids only (REST payloads and webhooks do)."""
    return (product.get("type") == "variable" and bool(product.get("variations"))
            and "variation_records" not in product)


def has_importable_variants(product: dict[str, Any]) -> bool:
    """Whether a product record (as WooCommerce sends it, before any fetch) can hold anything to import:
    a variable product that lists variations, or any other product with a SKU."""
    if product.get("type") == "variable":
        return bool(product.get("variations") or product.get("variation_records"))
    return bool(product.get("sku"))


def normalize_product(product: dict[str, Any]) -> dict[str, Any]:
    """A product and its variants: itself when simple (none when it has no SKU), its `variation_records` when
    variable."""
    external_id = required(product, "id", "product")
    where = f"product {external_id}"
    title = product.get("name") or ""
    if product.get("type") == "variable":
        variants = [
            {
                "external_id": str(required(variation, "id", where)),
                "sku": variation.get("sku") or "",
                "name": " — ".join(p for p in (title, _attributes(variation)) if p),
                "price": _money(variation, "price", where, default="0") if variation.get("price") != "" else None,
                "barcode": variation.get("global_unique_id") or "",
                "inventory_item_id": inventory_item_id(external_id, variation["id"]),
                "on_hand": variation.get("stock_quantity"),
                "images": _images([variation.get("image")]),
                "attributes": [{"name": a.get("name"), "value": a.get("option")}
                               for a in variation.get("attributes") or [] if isinstance(a, dict)],
            }
            for variation in product.get("variation_records") or []
        ]
    elif not product.get("sku"):
        variants = []  # nothing the ERP can key a Product by
    else:
        variants = [{
            "external_id": str(external_id),
            "sku": product.get("sku") or "",
            "name": title,
            "price": _money(product, "price", where) if product.get("price") not in (None, "") else None,
            "barcode": product.get("global_unique_id") or "",
            "inventory_item_id": inventory_item_id(external_id),
            "on_hand": product.get("stock_quantity"),
        }]
    return {
        "external_id": str(external_id),
        "title": title,
        "status": "active" if product.get("status") == "publish" else "inactive",
        "updated_at": _time(product.get("date_modified_gmt"), "date_modified_gmt", where),
        # Catalogue: the gallery in WooCommerce's order (the first is the featured image), the categories'
        # names (a product may sit in several; WooCommerce gives no path), and the attributes that are not
        # variation axes (those are each variation's own: Size M).
        "category": ", ".join(c.get("name") or "" for c in product.get("categories") or [] if isinstance(c, dict)),
        "images": _images(product.get("images")),
        "attributes": [{"name": a.get("name"), "value": ", ".join(str(o) for o in a.get("options") or [])}
                       for a in product.get("attributes") or [] if isinstance(a, dict) and not a.get("variation")],
        "variants": variants,
    }


def _images(images: Any) -> list[dict[str, str]]:
    return [{"url": i.get("src") or "", "alt": i.get("alt") or ""} for i in images or [] if isinstance(i, dict)]


def stock_records(product: dict[str, Any]) -> list[dict[str, Any]]:
    """The stock figures a product carries (itself, or each variation), as the inventory pull yields them.

    Only stock WooCommerce manages counts: `manage_stock` false means "in stock" without a number.
    A variation whose `manage_stock` is "parent" shares the product's figure, which the product itself reports.
    """
    records = []
    if product.get("type") == "variable":
        for variation in product.get("variation_records") or []:
            if variation.get("manage_stock") is True:
                records.append({"product_id": product["id"], "variation_id": variation["id"],
                                "stock_quantity": variation.get("stock_quantity"),
                                "date_modified_gmt": variation.get("date_modified_gmt")})
    if product.get("manage_stock") is True:
        records.append({"product_id": product["id"], "variation_id": None,
                        "stock_quantity": product.get("stock_quantity"),
                        "date_modified_gmt": product.get("date_modified_gmt")})
    return records


def normalize_inventory_level(record: dict[str, Any], location_id: str = DEFAULT_LOCATION) -> dict[str, Any]:
    where = f"stock of product {record.get('product_id')}"
    quantity = record.get("stock_quantity")
    return {
        "inventory_item_id": inventory_item_id(required(record, "product_id", where), record.get("variation_id")),
        "location_id": location_id,
        "available": int(quantity) if quantity is not None else None,
        "updated_at": _time(record.get("date_modified_gmt"), "date_modified_gmt", where),
    }


# ---------------------------------------------------------------------- helpers
def _attributes(variation: dict[str, Any]) -> str:
    return " / ".join(str(a.get("option")) for a in variation.get("attributes") or [] if a.get("option"))


def _money(record: dict[str, Any], key: str, where: str, default: str | None = None) -> Decimal:
    return decimal_amount(record.get(key, default), key, where)


def _time(value: Any, key: str, where: str) -> datetime:
    """A `*_gmt` time: ISO 8601 without an offset, in UTC (one with an offset is honoured)."""
    return utc_time(value, key, where, naive_tz=UTC)
