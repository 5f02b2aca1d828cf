"""TikTok Shop orders and products → the normalized dicts commerce.services upserts.

Status: `ORDER_STATUSES[status]`, one word per TikTok order status (webhooks may say CANCEL for
CANCELLED: both map). AWAITING_COLLECTION counts as fulfilled: the seller has shipped (a package with its
tracking number exists) and only the carrier's pick-up is pending; after that TikTok reports the carrier's
progress itself: IN_TRANSIT is in transit, DELIVERED and COMPLETED (delivered, return window over) are
delivered (commerce stamps and announces them once, as a courier's tracking would). TikTok's forward order never says
"refunded" — a refund after delivery lives on a return (reverse) order — so the connector attaches the
order's returns (`returns`, from the Return & Refund API) and an order whose every line item is in a
completed return or refund is `refunded`. An unknown status raises MappingError naming it.

Lines: a TikTok line item is one unit (202309 has no quantity; one is honoured if present). A line counts
as shipped when its own `display_status` (else the order's) is a shipped status.

Money arrives as strings and stays Decimal; times are Unix seconds, read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required

ORDER_STATUSES: dict[str, str] = {
    "UNPAID": "pending",
    "ON_HOLD": "paid",  # paid, inside the buyer's cancellation window; not yet to be shipped
    "AWAITING_SHIPMENT": "paid",
    "PARTIALLY_SHIPPING": "partially_fulfilled",
    "AWAITING_COLLECTION": "fulfilled",
    "IN_TRANSIT": "in_transit",
    "DELIVERED": "delivered",
    "COMPLETED": "delivered",
    "CANCELLED": "cancelled",
    "CANCEL": "cancelled",
}
SHIPPED_LINE_STATUSES = frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"})
RETURN_DONE = frozenset({"RETURN_OR_REFUND_REQUEST_COMPLETE", "REFUND_COMPLETED"})


def refunded_line_ids(order: dict[str, Any]) -> set[str]:
    done: set[str] = set()
    for reverse in order.get("returns") or []:
        if str(reverse.get("return_status") or "") in RETURN_DONE:
            done.update(str(li.get("order_line_item_id")) for li in reverse.get("return_line_items") or [])
    return done


def order_status(order: dict[str, Any]) -> str:
    word = str(order.get("status") or order.get("order_status") or "")
    if word not in ORDER_STATUSES:
        raise MappingError(f"order {order.get('id')} has the status {word!r}, which no table maps.")
    status = ORDER_STATUSES[word]
    line_ids = {str(li.get("id")) for li in order.get("line_items") or []}
    if status != "cancelled" and line_ids and line_ids <= refunded_line_ids(order):
        return "refunded"
    return status


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    external_id = str(required(order, "id", "order"))
    where = f"order {external_id}"
    payment = order.get("payment") or {}
    status = order_status(order)
    discounts = _money(payment, "seller_discount", where, "0") + _money(payment, "platform_discount", where, "0")
    return {
        "external_id": external_id,
        "number": external_id,
        "name": external_id,
        "status": status,
        "financial_status": "paid" if order.get("paid_time") else "",
        "fulfillment_status": str(order.get("status") or ""),
        "currency": str(required(payment, "currency", where)),
        "subtotal": _money(payment, "sub_total", where),
        "total_discounts": discounts,
        "total_tax": _money(payment, "tax", where, "0"),
        "total_shipping": _money(payment, "shipping_fee", where, "0"),
        "total": _money(payment, "total_amount", where),
        "customer": {
            "external_id": str(order.get("user_id") or ""),
            "email": str(order.get("buyer_email") or ""),
            "name": str((order.get("recipient_address") or {}).get("name") or ""),
        },
        "shipping_address": normalize_address(order.get("recipient_address")),
        "billing_address": {},
        "placed_at": _time(order.get("create_time"), "create_time", where),
        "updated_at": _time(order.get("update_time") or order.get("create_time"), "update_time", where),
        "cancelled_at": _time(order.get("cancel_time") or order.get("update_time"), "update_time", where)
        if status == "cancelled" else None,
        "lines": [normalize_line(line, where, order) for line in order.get("line_items") or []],
    }


def normalize_line(line: dict[str, Any], where: str, order: dict[str, Any]) -> dict[str, Any]:
    quantity = int(line.get("quantity") or 1)
    price = _money(line, "sale_price", where)
    shipped = str(line.get("display_status") or order.get("status") or "") in SHIPPED_LINE_STATUSES
    return {
        "external_id": str(required(line, "id", where)),
        "sku": str(line.get("seller_sku") or ""),
        "title": " — ".join(p for p in (line.get("product_name"), line.get("sku_name")) if p),
        "quantity": quantity,
        "price": price,
        "total": price * quantity,
        "fulfilled_quantity": quantity if shipped else 0,
        "variant_external_id": str(line.get("sku_id") or ""),
        "product_external_id": str(line.get("product_id") or ""),
    }


def normalize_address(address: dict[str, Any] | None) -> dict[str, str]:
    if not address:
        return {}
    districts = {d.get("address_level_name"): d.get("address_name") for d in address.get("district_info") or []}
    return {
        "name": str(address.get("name") or ""),
        "company": "",
        "address1": str(address.get("address_line1") or address.get("full_address") or ""),
        "address2": str(address.get("address_line2") or ""),
        "city": str(districts.get("City") or districts.get("city") or ""),
        "province_code": str(districts.get("State") or districts.get("state") or ""),
        "zip": str(address.get("postal_code") or ""),
        "country_code": str(address.get("region_code") or ""),
        "phone": str(address.get("phone_number") or ""),
    }


def normalize_product(product: dict[str, Any]) -> dict[str, Any]:
    external_id = str(required(product, "id", "product"))
    where = f"product {external_id}"
    return {
        "external_id": external_id,
        "title": str(product.get("title") or ""),
        "status": "active" if product.get("status") == "ACTIVATE" else "inactive",
        "updated_at": _time(product.get("update_time"), "update_time", where) if product.get("update_time") else None,
        "variants": [
            {
                "external_id": str(required(sku, "id", where)),
                "sku": str(sku.get("seller_sku") or ""),
                "name": " — ".join(p for p in (product.get("title"), _attributes(sku)) if p),
                "price": _money(sku.get("price") or {}, "sale_price", where),
                "barcode": "",
                "inventory_item_id": inventory_item_id(external_id, str(sku["id"])),
                "on_hand": sum(int(i.get("quantity") or 0) for i in sku.get("inventory") or []),
            }
            for sku in product.get("skus") or []
        ],
    }


def inventory_item_id(product_id: str, sku_id: str) -> str:
    """How the ERP names a TikTok SKU's stock: the inventory update call needs both ids."""
    return f"{product_id}:{sku_id}"


def stock_records(product: dict[str, Any]) -> list[dict[str, Any]]:
    """A product's stock, one record per SKU and warehouse."""
    return [{"product_id": str(product["id"]), "sku_id": str(sku["id"]), "warehouse_id": str(i.get("warehouse_id")),
             "quantity": i.get("quantity"), "update_time": product.get("update_time")}
            for sku in product.get("skus") or [] for i in sku.get("inventory") or []]


def normalize_inventory_level(record: dict[str, Any]) -> dict[str, Any]:
    where = f"stock of sku {record.get('sku_id')}"
    quantity = record.get("quantity")
    return {
        "inventory_item_id": inventory_item_id(str(required(record, "product_id", where)),
                                               str(required(record, "sku_id", where))),
        "location_id": str(required(record, "warehouse_id", where)),
        "available": int(quantity) if quantity is not None else None,
        "updated_at": _time(record["update_time"], "update_time", where) if record.get("update_time") else None,
    }


# ---------------------------------------------------------------------- helpers
def _attributes(sku: dict[str, Any]) -> str:
    return " / ".join(str(a.get("value_name")) for a in sku.get("sales_attributes") or [] if a.get("value_name"))


def _money(record: dict[str, Any], key: str, where: str, default: str | None = None) -> Decimal:
    value = record.get(key)
    return decimal_amount(default if value in (None, "") else value, key, where)


def _time(value: Any, key: str, where: str) -> datetime:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise MappingError(f"{where} has no {key} in Unix seconds: {value!r}.") from None
    if seconds <= 0:
        raise MappingError(f"{where} has no {key}.")
    return datetime.fromtimestamp(seconds, tz=UTC)
