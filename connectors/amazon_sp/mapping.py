"""SP-API records → the normalized dicts commerce.services upserts (upsert_orders/products/inventory_levels).

Orders: an Orders 2026-01-01 record (items inline) is first put in v0's words
(`from_orders_2026`), so both versions map through one function. v0: the
connector hands over an order with its `OrderItems` (fetched per order) and,
when the Finances API reported refunds for it, `Refunds` (the
order's RefundEvents). Money is `{"CurrencyCode", "Amount": "12.34"}` and stays
exact (Decimal). An item's `ItemPrice` is the price of the whole line (unit
price × QuantityOrdered), so the unit price is derived; `ItemTax`,
`ShippingPrice`, `ShippingTax`, `PromotionDiscount` are per line too.

Status: `ORDER_STATUSES` maps Amazon's OrderStatus to ours; a refund that
covers every unit ordered makes the order `refunded` (Orders v0 has no refund
status: refunds are only in the Finances API), a partial one leaves the status
and says `partially_refunded` in financial_status. A status no table knows is
not guessed at: MappingError names it, and the sync counts the order as failed.

Personal data: the buyer's name, email and street address are restricted
(Restricted Data Token); without one the ShippingAddress has only city, region,
postal code and country, which is what gets mapped.

Listings: a variation family (a parent SKU with childSkus, children naming it in
parentSkus) is one product whose variants are the children; a listing outside a
family is a product of one variant. The parent itself is never a variant: Amazon
sells and stocks only the children. Each SKU is its own `inventory_item_id`.
FBA inventory: one level per seller SKU at the location `AFN:<marketplace id>`.

What can go wrong: a missing or malformed required field raises MappingError
naming the field and the record, so the sync counts it as failed instead of
writing half of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required, utc_time

# Amazon's OrderStatus → ours.
ORDER_STATUSES: dict[str, str] = {
    "PendingAvailability": "pending",  # a pre-order: not yet available, not yet charged
    "Pending": "pending",  # placed, payment not yet authorized
    "Unshipped": "paid",  # payment authorized, ready to ship
    "PartiallyShipped": "partially_fulfilled",
    "Shipped": "fulfilled",
    "InvoiceUnconfirmed": "fulfilled",  # all shipped; the seller has not confirmed the invoice (China)
    "Canceled": "cancelled",
    "Unfulfillable": "cancelled",  # Multi-Channel Fulfillment order Amazon cannot fulfil
}
FBA_LOCATION_PREFIX = "AFN:"
MFN_LOCATION = "MFN"  # the merchant-fulfilled quantity (fulfillment_channel_code DEFAULT): what the hub writes
MARKETPLACE_CURRENCIES = {  # the currency of an order that has no OrderTotal yet (Pending)
    "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "A1RKKUPIHCS9HS": "EUR",
    "APJ6JRA9NG5V4": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A28R8C7NBKEWEA": "EUR",
    "A2NODRKZP88ZB9": "SEK", "A1C3SOZRARQ6R3": "PLN", "A33AVAJ2PDY3EV": "TRY", "A2VIGQ35RCS4UG": "AED",
    "A17E79C6D8DWNP": "SAR", "ARBP9OOSHTCHU": "EGP", "A21TJRUUN4KGV": "INR", "AE08WJ6YKNBMC": "ZAR",
    "A1VC38T7YXB528": "JPY", "A39IBJ37TRP1C6": "AUD", "A19VAU5U5O7RUS": "SGD",
}
CENT = Decimal("0.01")


# Orders 2026-01-01's fulfillmentStatus → v0's OrderStatus word (InvoiceUnconfirmed has no successor).
FULFILLMENT_STATUSES_2026: dict[str, str] = {
    "PENDING_AVAILABILITY": "PendingAvailability", "PENDING": "Pending", "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
# An item's proceeds breakdown types (ITEM, SHIPPING, GIFT_WRAP, COD_FEE, OTHER, TAX, DISCOUNT) → v0 money fields.
BREAKDOWN_FIELDS = {"ITEM": "ItemPrice", "TAX": "ItemTax", "SHIPPING": "ShippingPrice", "DISCOUNT": "PromotionDiscount"}


# ---------------------------------------------------------------------- orders 2026-01-01
def from_orders_2026(order: dict[str, Any]) -> dict[str, Any]:
    """An Orders 2026-01-01 order in the v0 words the rest of this module reads (one mapping for both versions).

    `orderId` → AmazonOrderId, `createdTime`/`lastUpdatedTime` → PurchaseDate/LastUpdateDate,
    `fulfillment.fulfillmentStatus` → OrderStatus, `fulfilledBy` AMAZON → AFN, `proceeds.grandTotal` →
    OrderTotal, `recipient.deliveryAddress` → ShippingAddress; each item's `product` (sellerSku, asin, title),
    `quantityOrdered`, `fulfillment.quantityFulfilled` → QuantityShipped, and its proceeds breakdown (ITEM,
    TAX, SHIPPING, DISCOUNT; DISCOUNT taken as a positive amount off) → ItemPrice, ItemTax, ShippingPrice,
    PromotionDiscount. Without an ITEM breakdown the line price is unitPrice × quantity.
    """
    external_id = required(order, "orderId", "order")
    fulfillment = order.get("fulfillment") or {}
    word = fulfillment.get("fulfillmentStatus")
    if word not in FULFILLMENT_STATUSES_2026:
        raise MappingError(f"order {external_id} has an unknown fulfillmentStatus {word!r}.")
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    buyer = order.get("buyer") or {}
    grand_total = (order.get("proceeds") or {}).get("grandTotal") or {}
    return {
        "AmazonOrderId": str(external_id),
        "PurchaseDate": order.get("createdTime"),
        "LastUpdateDate": order.get("lastUpdatedTime"),
        "OrderStatus": FULFILLMENT_STATUSES_2026[word],
        "FulfillmentChannel": "AFN" if fulfillment.get("fulfilledBy") == "AMAZON" else "MFN",
        "MarketplaceId": (order.get("salesChannel") or {}).get("marketplaceId") or "",
        "OrderTotal": _money_v0(grand_total) if grand_total.get("amount") is not None else None,
        "ShippingAddress": {v0: address[key] for key, v0 in (
            ("name", "Name"), ("companyName", "CompanyName"), ("addressLine1", "AddressLine1"),
            ("addressLine2", "AddressLine2"), ("city", "City"), ("stateOrRegion", "StateOrRegion"),
            ("postalCode", "PostalCode"), ("countryCode", "CountryCode"), ("phone", "Phone")) if address.get(key)},
        "BuyerInfo": {k: buyer[src] for src, k in (("buyerEmail", "BuyerEmail"), ("buyerName", "BuyerName"))
                      if buyer.get(src)},
        "OrderItems": [_item_from_2026(item, f"order {external_id}") for item in order.get("orderItems") or []],
    }


def _item_from_2026(item: dict[str, Any], where: str) -> dict[str, Any]:
    product = item.get("product") or {}
    quantity = int(item.get("quantityOrdered") or 0)
    converted: dict[str, Any] = {
        "OrderItemId": str(required(item, "orderItemId", where)),
        "SellerSKU": product.get("sellerSku") or "",
        "ASIN": product.get("asin") or "",
        "Title": product.get("title") or "",
        "QuantityOrdered": quantity,
        "QuantityShipped": int((item.get("fulfillment") or {}).get("quantityFulfilled") or 0),
    }
    for breakdown in (item.get("proceeds") or {}).get("breakdowns") or []:
        field = BREAKDOWN_FIELDS.get(breakdown.get("type"))
        if field and (breakdown.get("subtotal") or {}).get("amount") is not None:
            money = _money_v0(breakdown["subtotal"])
            if field == "PromotionDiscount":
                money["Amount"] = str(abs(decimal_amount(money["Amount"], "DISCOUNT", where)))
            converted[field] = money
    unit = (product.get("price") or {}).get("unitPrice") or {}
    if "ItemPrice" not in converted and unit.get("amount") is not None:
        converted["ItemPrice"] = {"CurrencyCode": unit.get("currencyCode"),
                                  "Amount": str(decimal_amount(unit["amount"], "unitPrice", where) * quantity)}
    return converted


def _money_v0(money: dict[str, Any]) -> dict[str, Any]:
    return {"CurrencyCode": money.get("currencyCode"), "Amount": str(money.get("amount"))}


# ---------------------------------------------------------------------- orders
def order_status(order: dict[str, Any]) -> str:
    word = order.get("OrderStatus")
    if word not in ORDER_STATUSES:
        raise MappingError(f"order {order.get('AmazonOrderId')} has an unknown OrderStatus {word!r}.")
    return ORDER_STATUSES[word]


def refunded_quantities(order: dict[str, Any]) -> dict[str, int]:
    """{OrderItemId or SellerSKU: units refunded} over the order's RefundEvents."""
    refunded: dict[str, int] = {}
    for event in order.get("Refunds") or []:
        for item in event.get("ShipmentItemAdjustmentList") or []:
            key = str(item.get("OrderItemId") or item.get("SellerSKU") or "")
            refunded[key] = refunded.get(key, 0) + abs(int(item.get("QuantityShipped") or 0))
    return refunded


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    if "orderId" in order and "AmazonOrderId" not in order:
        order = from_orders_2026(order)
    external_id = required(order, "AmazonOrderId", "order")
    where = f"order {external_id}"
    if "OrderItems" not in order:
        raise MappingError(f"{where} came without its OrderItems.")
    items = order["OrderItems"] or []
    priced = [i["ItemPrice"]["CurrencyCode"] for i in items if (i.get("ItemPrice") or {}).get("CurrencyCode")]
    currency = ((order.get("OrderTotal") or {}).get("CurrencyCode") or (priced[0] if priced else None)
                or MARKETPLACE_CURRENCIES.get(order.get("MarketplaceId") or ""))
    if not currency:
        raise MappingError(f"{where} has no currency (no OrderTotal, item prices or known marketplace).")
    lines = [normalize_line(item, where) for item in items]
    subtotal = _sum(items, ("ItemPrice",), where)
    discounts = _sum(items, ("PromotionDiscount", "ShippingDiscount"), where)
    tax = _sum(items, ("ItemTax", "ShippingTax"), where)
    shipping = _sum(items, ("ShippingPrice",), where)
    total = _amount(order["OrderTotal"], "OrderTotal", where) if (order.get("OrderTotal") or {}).get("Amount") \
        else subtotal + shipping - discounts
    status = order_status(order)
    refunded = refunded_quantities(order)
    financial = ""
    if refunded:
        ordered = {str(i.get("OrderItemId")): int(i.get("QuantityOrdered") or 0) for i in items}
        by_sku = {str(i.get("SellerSKU")): str(i.get("OrderItemId")) for i in items}
        covered = {by_sku.get(key, key): units for key, units in refunded.items()}
        whole = all(covered.get(item_id, 0) >= quantity for item_id, quantity in ordered.items() if quantity)
        financial = "refunded" if whole and ordered else "partially_refunded"
        if whole and ordered and status != "cancelled":
            status = "refunded"
    address = order.get("ShippingAddress") or {}
    buyer = order.get("BuyerInfo") or {}
    updated_at = utc_time(order.get("LastUpdateDate"), "LastUpdateDate", where)
    return {
        "external_id": str(external_id),
        "number": str(external_id),
        "name": "",
        "status": status,
        "financial_status": financial,
        "fulfillment_status": str(order.get("OrderStatus") or ""),
        "currency": str(currency),
        "subtotal": subtotal,
        "total_discounts": discounts,
        "total_tax": tax,
        "total_shipping": shipping,
        "total": total,
        "customer": {"external_id": "", "email": str(buyer.get("BuyerEmail") or ""),
                     "name": str(buyer.get("BuyerName") or "")},
        "shipping_address": normalize_address(address),
        "billing_address": {},
        "placed_at": utc_time(order.get("PurchaseDate"), "PurchaseDate", where),
        "updated_at": updated_at,
        "cancelled_at": updated_at if status == "cancelled" else None,
        "lines": lines,
    }


def normalize_line(item: dict[str, Any], where: str) -> dict[str, Any]:
    item_id = required(item, "OrderItemId", where)
    quantity = int(item.get("QuantityOrdered") or 0)
    line_price = _amount(item["ItemPrice"], "ItemPrice", where) if item.get("ItemPrice") else Decimal("0")
    discount = _amount(item["PromotionDiscount"], "PromotionDiscount", where) if item.get("PromotionDiscount") \
        else Decimal("0")
    unit = (line_price / quantity).quantize(CENT) if quantity else line_price
    return {
        "external_id": str(item_id),
        "sku": str(item.get("SellerSKU") or ""),
        "title": str(item.get("Title") or ""),
        "quantity": quantity,
        "price": unit,
        "total": line_price - discount,
        "fulfilled_quantity": int(item.get("QuantityShipped") or 0),
        "variant_external_id": str(item.get("SellerSKU") or ""),
        "product_external_id": str(item.get("ASIN") or ""),
    }


def normalize_address(address: dict[str, Any]) -> dict[str, str]:
    if not address:
        return {}
    return {
        "name": str(address.get("Name") or ""),
        "company": str(address.get("CompanyName") or ""),
        "address1": str(address.get("AddressLine1") or ""),
        "address2": str(address.get("AddressLine2") or ""),
        "city": str(address.get("City") or ""),
        "province_code": str(address.get("StateOrRegion") or ""),
        "zip": str(address.get("PostalCode") or ""),
        "country_code": str(address.get("CountryCode") or ""),
        "phone": str(address.get("Phone") or ""),
    }


# ---------------------------------------------------------------------- listings
def variation(item: dict[str, Any]) -> dict[str, Any]:
    """The listing's VARIATION relationship (`parentSkus` on a child, `childSkus` on a parent), or {}."""
    for per_marketplace in item.get("relationships") or []:
        for relation in per_marketplace.get("relationships") or []:
            if relation.get("type") == "VARIATION":
                return relation
    return {}


def parent_sku(item: dict[str, Any]) -> str:
    return str((variation(item).get("parentSkus") or [""])[0])


def child_skus(item: dict[str, Any]) -> list[str]:
    return [str(sku) for sku in variation(item).get("childSkus") or []]


def normalize_product(family: dict[str, Any], marketplace_id: str = "") -> dict[str, Any]:
    """A family `{"sku", "items": [listings]}` (connector.py groups them) as one product."""
    sku = required(family, "sku", "listing family")
    where = f"listing {sku}"
    items = family.get("items") or []
    parent = next((i for i in items if i.get("sku") == sku and child_skus(i)), None)
    variants = [i for i in items if i is not parent]
    if not variants:
        raise MappingError(f"{where} is a variation parent none of whose children were found.")
    summaries = {i["sku"]: _summary(i, marketplace_id) for i in items}
    stamps = [utc_time(s["lastUpdatedDate"], "lastUpdatedDate", where) for s in summaries.values()
              if s.get("lastUpdatedDate")]
    title_source = parent or variants[0]
    return {
        "external_id": str(sku),
        "title": str(summaries[title_source["sku"]].get("itemName") or ""),
        "status": "active" if any("BUYABLE" in (summaries[v["sku"]].get("status") or []) for v in variants)
        else "inactive",
        "updated_at": max(stamps) if stamps else None,
        "variants": [
            {
                "external_id": str(v["sku"]),
                "sku": str(v["sku"]),
                "name": str(summaries[v["sku"]].get("itemName") or ""),
                "price": _offer_price(v, marketplace_id, f"listing {v['sku']}"),
                "barcode": "",
                "inventory_item_id": str(v["sku"]),
                "on_hand": _merchant_quantity(v),
                "asin": str(summaries[v["sku"]].get("asin") or ""),
                "product_type": str(summaries[v["sku"]].get("productType") or ""),
            }
            for v in variants
        ],
    }


def _summary(item: dict[str, Any], marketplace_id: str) -> dict[str, Any]:
    summaries = item.get("summaries") or []
    return next((s for s in summaries if s.get("marketplaceId") == marketplace_id), summaries[0] if summaries else {})


def _offer_price(item: dict[str, Any], marketplace_id: str, where: str) -> Decimal | None:
    offers = [o for o in item.get("offers") or [] if o.get("offerType", "B2C") == "B2C"]
    offer = next((o for o in offers if o.get("marketplaceId") == marketplace_id), offers[0] if offers else None)
    if not offer or not offer.get("price"):
        return None
    return _decimal(offer["price"].get("amount"), "offers.price.amount", where)


def _merchant_quantity(item: dict[str, Any]) -> int | None:
    for availability in item.get("fulfillmentAvailability") or []:
        if availability.get("fulfillmentChannelCode") == "DEFAULT" and availability.get("quantity") is not None:
            return int(availability["quantity"])
    return None


# ---------------------------------------------------------------------- FBA inventory
def normalize_inventory_level(summary: dict[str, Any], marketplace_id: str) -> dict[str, Any]:
    sku = required(summary, "sellerSku", "inventory summary")
    where = f"inventory summary of {sku}"
    details = summary.get("inventoryDetails") or {}
    fulfillable = details.get("fulfillableQuantity")
    stamp = summary.get("lastUpdatedTime")
    return {
        "inventory_item_id": str(sku),
        "location_id": f"{FBA_LOCATION_PREFIX}{marketplace_id}",
        "available": int(fulfillable) if fulfillable is not None else None,
        "updated_at": utc_time(stamp, "lastUpdatedTime", where) if stamp else None,
    }


# ---------------------------------------------------------------------- helpers


def _amount(money: dict[str, Any], key: str, where: str) -> Decimal:
    return _decimal(money.get("Amount"), key, where)


def _decimal(value: Any, key: str, where: str) -> Decimal:
    if value is None or value == "":
        # Amazon's mapping has always called a blank amount unreadable, not missing; its messages stay as they were.
        raise MappingError(f"{where} has a {key} that is not an amount: {value!r}.")
    return decimal_amount(value, key, where)


def _sum(items: list[dict[str, Any]], keys: tuple[str, ...], where: str) -> Decimal:
    total = Decimal("0")
    for item in items:
        for key in keys:
            if (item.get(key) or {}).get("Amount") is not None:
                total += _amount(item[key], key, where)
    return total
