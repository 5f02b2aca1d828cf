"""eBay Fulfillment orders and Inventory items → the normalized dicts commerce.services upserts.

Status: eBay splits an order's state over `cancelStatus.cancelState`,
`orderPaymentStatus` and `orderFulfillmentStatus`; the ERP has one, decided in this order:
1. `cancelStatus.cancelState == "CANCELED"` → cancelled (a cancellation refunds the buyer too: still a
   cancellation, as for Shopify);
2. `PAYMENT_STATUSES[orderPaymentStatus]` when it is final (FULLY_REFUNDED → refunded);
3. `FULFILLMENT_STATUSES[orderFulfillmentStatus]` when the order shipped (FULFILLED, IN_PROGRESS = some
   line items shipped);
4. else the payment status's word (PAID, PARTIALLY_REFUNDED → paid; PENDING, FAILED → pending: nothing to
   ship until eBay has the money).
An unknown word raises MappingError naming it, so the sync counts the order as failed instead of guessing.

Money arrives as `{"value": "12.34", "currency": "USD"}` and stays Decimal. A line's `lineItemCost` is the
unit price times the quantity, before discounts. Times are ISO 8601 UTC (`…Z`).

Products: an inventory item is one SKU. Items of a multi-variation listing name their inventory item
group in `groupIds`; a page's items are grouped by it (else each SKU is its own listing). Prices live on
offers, not on inventory items, so variants carry no price. Stock: `availability.shipToLocationAvailability
.quantity` is the SKU's one figure, at the location `ebay`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required, utc_time

PAYMENT_STATUSES: dict[str, str] = {
    "PENDING": "pending",
    "FAILED": "pending",
    "PAID": "paid",
    "PARTIALLY_REFUNDED": "paid",
    "FULLY_REFUNDED": "refunded",
}
FULFILLMENT_STATUSES: dict[str, str | None] = {
    "NOT_STARTED": None,
    "IN_PROGRESS": "partially_fulfilled",
    "FULFILLED": "fulfilled",
}
CANCELLED_STATES = frozenset({"CANCELED", "CANCELLED"})
LOCATION = "ebay"  # eBay keeps one ship-to-home figure per SKU


def order_status(order: dict[str, Any]) -> str:
    where = f"order {order.get('orderId')}"
    if str((order.get("cancelStatus") or {}).get("cancelState") or "").upper() in CANCELLED_STATES:
        return "cancelled"
    payment = str(order.get("orderPaymentStatus") or "")
    if payment not in PAYMENT_STATUSES:
        raise MappingError(f"{where} has an unknown orderPaymentStatus {payment!r}.")
    status = PAYMENT_STATUSES[payment]
    if status == "refunded":
        return status
    fulfillment = str(order.get("orderFulfillmentStatus") or "NOT_STARTED")
    if fulfillment not in FULFILLMENT_STATUSES:
        raise MappingError(f"{where} has an unknown orderFulfillmentStatus {fulfillment!r}.")
    return FULFILLMENT_STATUSES[fulfillment] or status


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    external_id = str(required(order, "orderId", "order"))
    where = f"order {external_id}"
    pricing = order.get("pricingSummary") or {}
    total = _amount(pricing.get("total"), "pricingSummary.total", where)
    currency = (pricing.get("total") or {}).get("currency") or required({}, "currency", where)
    ship_to = _ship_to(order)
    status = order_status(order)
    return {
        "external_id": external_id,
        "number": str(order.get("legacyOrderId") or external_id),
        "name": external_id,
        "status": status,
        "financial_status": order.get("orderPaymentStatus") or "",
        "fulfillment_status": order.get("orderFulfillmentStatus") or "",
        "currency": currency,
        "subtotal": _amount(pricing.get("priceSubtotal"), "pricingSummary.priceSubtotal", where),
        "total_discounts": abs(_amount(pricing.get("priceDiscount"), "priceDiscount", where, default="0")),
        "total_tax": _amount(pricing.get("tax"), "pricingSummary.tax", where, default="0"),
        "total_shipping": _amount(pricing.get("deliveryCost"), "pricingSummary.deliveryCost", where, default="0"),
        "total": total,
        "customer": {
            "external_id": str((order.get("buyer") or {}).get("username") or ""),
            "email": str((ship_to or {}).get("email") or ""),
            "name": str((ship_to or {}).get("fullName") or ""),
        },
        "shipping_address": normalize_address(ship_to),
        "billing_address": {},
        "placed_at": utc_time(order.get("creationDate"), "creationDate", where),
        "updated_at": utc_time(order.get("lastModifiedDate") or order.get("creationDate"), "lastModifiedDate", where),
        "cancelled_at": _cancelled_at(order, where) if status == "cancelled" else None,
        "lines": [normalize_line(line, where) for line in order.get("lineItems") or []],
    }


def normalize_line(line: dict[str, Any], where: str) -> dict[str, Any]:
    quantity = int(required(line, "quantity", where))
    cost = _amount(line.get("lineItemCost"), "lineItemCost", where)
    return {
        "external_id": str(required(line, "lineItemId", where)),
        "sku": line.get("sku") or "",
        "title": line.get("title") or "",
        "quantity": quantity,
        "price": cost / quantity if quantity else cost,
        "total": cost,
        "fulfilled_quantity": quantity if line.get("lineItemFulfillmentStatus") == "FULFILLED" else 0,
        "variant_external_id": str(line.get("sku") or ""),
        "product_external_id": str(line.get("legacyItemId") or ""),
    }


def normalize_address(ship_to: dict[str, Any] | None) -> dict[str, str]:
    if not ship_to:
        return {}
    address = ship_to.get("contactAddress") or {}
    phone = ship_to.get("primaryPhone") or {}
    return {
        "name": str(ship_to.get("fullName") or ""),
        "company": str(ship_to.get("companyName") or ""),
        "address1": str(address.get("addressLine1") or ""),
        "address2": str(address.get("addressLine2") or ""),
        "city": str(address.get("city") or ""),
        "province_code": str(address.get("stateOrProvince") or ""),
        "zip": str(address.get("postalCode") or ""),
        "country_code": str(address.get("countryCode") or ""),
        "phone": str(phone.get("phoneNumber") or ""),
    }


def group_products(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of inventory items as listings: grouped by their first group id (page order kept), else one each."""
    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        group_ids = item.get("groupIds") or []
        key = str(group_ids[0]) if group_ids else str(item.get("sku"))
        groups.setdefault(key, {"groupId": key, "items": []})["items"].append(item)
    return list(groups.values())


def normalize_product(group: dict[str, Any]) -> dict[str, Any]:
    """A listing: an inventory item group (its SKUs are the variants), or a single inventory item."""
    items = group["items"] if "items" in group else [group]
    external_id = group.get("groupId") or (items[0].get("sku") if items else None)
    if not external_id or not items:
        raise MappingError("inventory item has no sku.")
    where = f"inventory item {external_id}"
    return {
        "external_id": str(external_id),
        "title": str((items[0].get("product") or {}).get("title") or ""),
        "status": "active",
        "updated_at": None,  # inventory items carry no modification time
        "variants": [
            {
                "external_id": str(required(item, "sku", where)),
                "sku": str(item["sku"]),
                "name": " — ".join(p for p in ((item.get("product") or {}).get("title"), _aspects(item)) if p),
                "price": None,
                "barcode": _barcode(item),
                "inventory_item_id": str(item["sku"]),
                "on_hand": _quantity(item),
                # Catalogue: each SKU's picture URLs in eBay's order and its item specifics (aspects); the
                # category lives on the offer, not the inventory item, so none is given.
                "images": [{"url": str(url)} for url in (item.get("product") or {}).get("imageUrls") or []],
                "attributes": [{"name": name, "value": ", ".join(str(v) for v in values or [])}
                               for name, values in ((item.get("product") or {}).get("aspects") or {}).items()],
            }
            for item in items
        ],
    }


def normalize_inventory_level(item: dict[str, Any]) -> dict[str, Any]:
    where = f"inventory item {item.get('sku')}"
    return {
        "inventory_item_id": str(required(item, "sku", where)),
        "location_id": LOCATION,
        "available": _quantity(item),
        "updated_at": None,
    }


# ---------------------------------------------------------------------- helpers
def _ship_to(order: dict[str, Any]) -> dict[str, Any] | None:
    for instruction in order.get("fulfillmentStartInstructions") or []:
        ship_to = (instruction.get("shippingStep") or {}).get("shipTo")
        if ship_to:
            return ship_to
    return None


def _cancelled_at(order: dict[str, Any], where: str) -> datetime:
    requests = (order.get("cancelStatus") or {}).get("cancelRequests") or []
    stamps = [r.get("cancelCompletedDate") or r.get("cancelRequestedDate") for r in requests]
    stamps = [s for s in stamps if s]
    return utc_time(max(stamps) if stamps else order.get("lastModifiedDate"), "cancelCompletedDate", where)


def _aspects(item: dict[str, Any]) -> str:
    aspects = (item.get("product") or {}).get("aspects") or {}
    return " / ".join(str(v[0]) for k, v in sorted(aspects.items()) if isinstance(v, list) and v
                      and k in ("Size", "Color", "Colour"))


def _barcode(item: dict[str, Any]) -> str:
    product = item.get("product") or {}
    for key in ("ean", "upc", "isbn"):
        values = product.get(key) or []
        if values:
            return str(values[0])
    return ""


def _quantity(item: dict[str, Any]) -> int | None:
    quantity = ((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get("quantity")
    return int(quantity) if quantity is not None else None


def _amount(money: Any, key: str, where: str, default: str | None = None) -> Decimal:
    """The `value` of an eBay Amount object (`{value, currency}`), or `default` when it has none."""
    value = money.get("value") if isinstance(money, dict) else None
    return decimal_amount(default if value is None else value, key, where)
