"""Trendyol packages and products → the normalized dicts commerce.services upserts.

Orders are packages. Trendyol ships an order (`orderNumber`) as one or more
shipment packages, each with its own `id`; splitting a package (or a line the
seller cannot supply) creates new package ids and leaves the old package in
status `UnPacked`. The ERP wants one order, so the connector hands
`normalize_order` a merged record `{"orderNumber": …, "packages": [every package
of the order]}` and this module:

- drops `UnPacked` packages (superseded by the packages they were split into);
- drops the lines of cancelled/unsupplied packages while another package of the
  order still stands (they are not coming), keeping them when all are cancelled;
- keys lines by Trendyol's line `id`, adding quantities when a quantity split
  left the same line id in two packages, so a split never doubles a line;
- sums the standing packages' amounts; takes the earliest `orderDate` and the
  latest `lastModifiedDate`.

A bare package (no `packages` key) is treated as an order of that one package.

Status, over the standing packages (`PACKAGE_STATUSES` buckets each word):
all cancelled → cancelled; all cancelled or returned, some returned → refunded;
of the rest, all delivered → delivered (Trendyol's carrier reports it; commerce
stamps and announces it once), all shipped → fulfilled, some shipped → partially_fulfilled, any
in preparation (Created, Picking, Invoiced…) → paid, else (Awaiting: payment
or stock not yet confirmed) → pending. An unknown word raises MappingError.

Times are epoch milliseconds, read as UTC. Money is Decimal from the numbers
(via str, never float arithmetic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.mapping import MappingError, decimal_amount, required

AWAITING, OPEN, SHIPPED, CANCELLED, RETURNED, SUPERSEDED = (
    "awaiting", "open", "shipped", "cancelled", "returned", "superseded")
PACKAGE_STATUSES: dict[str, str] = {
    "awaiting": AWAITING,
    "created": OPEN,
    "picking": OPEN,
    "invoiced": OPEN,
    "repack": OPEN,
    "verified": OPEN,
    "shipped": SHIPPED,
    "atcollectionpoint": SHIPPED,
    "delivered": SHIPPED,
    "undelivered": SHIPPED,
    "cancelled": CANCELLED,
    "unsupplied": CANCELLED,
    "returned": RETURNED,
    "unpacked": SUPERSEDED,
}
DEFAULT_LOCATION = "trendyol"  # Trendyol holds one stock figure per barcode


def package_status(package: dict[str, Any]) -> str:
    return str(package.get("status") or package.get("shipmentPackageStatus") or "")


def bucket(package: dict[str, Any]) -> str:
    word = package_status(package)
    found = PACKAGE_STATUSES.get(word.replace("_", "").lower())
    if found is None:
        raise MappingError(f"package {package.get('id')} has the status {word!r}, which no table maps.")
    return found


def standing_packages(packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packages that count: not superseded by a split, newest version of each id."""
    latest: dict[str, dict[str, Any]] = {}
    for package in packages:
        key = str(package.get("id"))
        if key not in latest or (package.get("lastModifiedDate") or 0) >= (latest[key].get("lastModifiedDate") or 0):
            latest[key] = package
    return [p for p in latest.values() if bucket(p) != SUPERSEDED]


def order_status(buckets: list[str], *, delivered: bool = False) -> str:
    """`delivered`: every standing package that is not cancelled or returned says Delivered."""
    if not buckets:
        return "pending"
    if all(b == CANCELLED for b in buckets):
        return "cancelled"
    if all(b in (CANCELLED, RETURNED) for b in buckets):
        return "refunded"
    live = [b for b in buckets if b not in (CANCELLED, RETURNED)]
    if live and all(b == SHIPPED for b in live):
        return "delivered" if delivered else "fulfilled"
    if any(b == SHIPPED for b in live):
        return "partially_fulfilled"
    if any(b == OPEN for b in live):
        return "paid"
    return "pending"


def normalize_order(record: dict[str, Any]) -> dict[str, Any]:
    packages = record["packages"] if "packages" in record else [record]
    order_number = record.get("orderNumber") or (packages[0].get("orderNumber") if packages else None)
    if not order_number:
        raise MappingError("package has no orderNumber.")
    where = f"order {order_number}"
    standing = standing_packages(packages)
    if not standing:
        raise MappingError(f"{where} has no package that is not superseded by a split.")
    buckets = [bucket(p) for p in standing]
    live_words = [package_status(p).replace("_", "").lower() for p, b in zip(standing, buckets, strict=True)
                  if b not in (CANCELLED, RETURNED)]
    status = order_status(buckets, delivered=bool(live_words) and all(w == "delivered" for w in live_words))
    counted = standing if status == "cancelled" else [p for p, b in zip(standing, buckets, strict=True)
                                                       if b != CANCELLED]
    first = min(standing, key=lambda p: p.get("orderDate") or 0)
    lines: dict[str, dict[str, Any]] = {}
    for package in counted:
        shipped = bucket(package) in (SHIPPED, RETURNED)
        for line in package.get("lines") or []:
            normalized = normalize_line(line, where, shipped=shipped)
            known = lines.get(normalized["external_id"])
            if known is None:
                lines[normalized["external_id"]] = normalized
            else:  # a quantity split: the same line id in two packages
                known["quantity"] += normalized["quantity"]
                known["fulfilled_quantity"] += normalized["fulfilled_quantity"]
                known["total"] += normalized["total"]
    modified = max(_modified_ms(p) for p in standing)
    return {
        "external_id": str(order_number),
        "number": str(order_number),
        "name": str(order_number),
        "status": status,
        "financial_status": "",
        "fulfillment_status": ",".join(sorted({package_status(p) for p in standing})),
        "currency": str(first.get("currencyCode") or required(first, "currencyCode", where)),
        "subtotal": sum((_money(p, "grossAmount", where) for p in counted), Decimal(0)),
        "total_discounts": sum((_money(p, "totalDiscount", where, default=0) for p in counted), Decimal(0)),
        "total_tax": Decimal(0),  # prices include VAT; Trendyol does not split it out per package
        "total_shipping": Decimal(0),
        "total": sum((_money(p, "totalPrice", where) for p in counted), Decimal(0)),
        "customer": {
            "external_id": str(first["customerId"]) if first.get("customerId") else "",
            "email": first.get("customerEmail") or "",
            "name": " ".join(p for p in (first.get("customerFirstName"), first.get("customerLastName")) if p),
        },
        "shipping_address": normalize_address(first.get("shipmentAddress")),
        "billing_address": normalize_address(first.get("invoiceAddress")),
        "placed_at": _time(first.get("orderDate"), "orderDate", where),
        "updated_at": _time(modified, "lastModifiedDate", where),
        "cancelled_at": _time(modified, "lastModifiedDate", where) if status == "cancelled" else None,
        "lines": list(lines.values()),
    }


def normalize_line(line: dict[str, Any], where: str, *, shipped: bool) -> dict[str, Any]:
    quantity = int(required(line, "quantity", where))
    price = _money(line, "price", where)
    return {
        "external_id": str(required(line, "id", where)),
        "sku": line.get("merchantSku") or line.get("stockCode") or line.get("barcode") or "",
        "title": line.get("productName") or "",
        "quantity": quantity,
        "price": price,
        "total": price * quantity,
        "fulfilled_quantity": quantity if shipped else 0,
        "variant_external_id": str(line.get("barcode") or ""),
        "product_external_id": str(line.get("productCode") or ""),
    }


def normalize_address(address: dict[str, Any] | None) -> dict[str, str]:
    if not address:
        return {}
    return {
        "name": address.get("fullName") or " ".join(
            p for p in (address.get("firstName"), address.get("lastName")) if p),
        "company": address.get("company") or "",
        "address1": address.get("address1") or address.get("fullAddress") or "",
        "address2": address.get("address2") or "",
        "city": address.get("city") or "",
        "province_code": address.get("district") or "",
        "zip": str(address.get("postalCode") or ""),
        "country_code": address.get("countryCode") or "",
        "phone": address.get("phone") or "",
    }


def barcodes_of(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of contents as its barcodes (the stock records), each with its content's id for messages."""
    return [{**variant, "productMainId": content.get("productMainId")}
            for content in contents for variant in content.get("variants") or [] if isinstance(variant, dict)]


def normalize_product(content: dict[str, Any]) -> dict[str, Any]:
    """A Product v2 content as a listing: its barcodes are the variants; the ERP SKU is the seller's stockCode,
    else the barcode. A listing is active while one of its barcodes is on sale (not archived, locked or
    blacklisted). Its time is the latest of the content's and its barcodes' changes, so a price change alone
    still moves it on."""
    external_id = content.get("productMainId")
    variants = [v for v in content.get("variants") or [] if isinstance(v, dict)]
    if not external_id or not variants:
        raise MappingError("product has no productMainId or no variants.")
    where = f"product {external_id}"
    updated = max([int(content.get("lastModifiedDate") or content.get("creationDate") or 0)]
                  + [int(v.get("sellerModifiedDate") or 0) for v in variants])
    brand, category = _named(content.get("brand")), _named(content.get("category"))
    images = [{"url": image.get("url")} for image in content.get("images") or []
              if isinstance(image, dict) and image.get("url")]
    shared = [{"name": a.get("attributeName"), "value": a.get("attributeValue")}
              for a in content.get("attributes") or [] if isinstance(a, dict)]
    return {
        "external_id": str(external_id),
        "title": content.get("title") or "",
        "status": "active" if any(_on_sale(v) for v in variants) else "inactive",
        "updated_at": _time(updated, "lastModifiedDate", where),
        "category": category,
        "attributes": [{"name": "Brand", "value": brand}] if brand else [],
        "variants": [
            {
                "external_id": str(required(variant, "barcode", where)),
                "sku": variant.get("stockCode") or variant["barcode"],
                "name": " — ".join(p for p in (content.get("title"), _attributes(variant)) if p),
                "price": _sale_price(variant, where),
                "barcode": variant["barcode"],
                "inventory_item_id": variant["barcode"],
                "on_hand": _quantity(variant),
                "images": images,
                "attributes": shared + [{"name": a.get("attributeName"), "value": a.get("attributeValue")}
                                        for a in variant.get("attributes") or [] if isinstance(a, dict)],
            }
            for variant in variants
        ],
    }


def normalize_inventory_level(variant: dict[str, Any], location_id: str = DEFAULT_LOCATION) -> dict[str, Any]:
    """A barcode's stock; `available` None (left as it is) when the answer carries no quantity for it."""
    where = f"stock of barcode {variant.get('barcode')}"
    stock = variant.get("stock") if isinstance(variant.get("stock"), dict) else {}
    changed = stock.get("lastModifiedDate") or variant.get("sellerModifiedDate") or variant.get("sellerCreatedDate")
    return {
        "inventory_item_id": str(required(variant, "barcode", where)),
        "location_id": location_id,
        "available": _quantity(variant),
        "updated_at": _time(changed, "sellerModifiedDate", where),
    }


# ---------------------------------------------------------------------- helpers
def _modified_ms(package: dict[str, Any]) -> int:
    histories = [h.get("createdDate") or 0 for h in package.get("packageHistories") or []]
    return int(package.get("lastModifiedDate") or max(histories, default=0) or package.get("orderDate") or 0)


def _attributes(item: dict[str, Any]) -> str:
    return " / ".join(str(a.get("attributeValue")) for a in item.get("attributes") or []
                      if a.get("attributeValue") and a.get("attributeName") in ("Beden", "Renk", "Size", "Color"))


def _named(value: Any) -> str:
    """A v2 `{id, name}` reference's name (v2 sends brand and category as objects)."""
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def _on_sale(variant: dict[str, Any]) -> bool:
    return bool(variant.get("onSale")) and not any(variant.get(k) for k in ("archived", "locked", "blacklisted"))


def _sale_price(variant: dict[str, Any], where: str) -> Decimal | None:
    """`price.salePrice`; None (the ERP price left as it is) when a barcode has no price, as a blacklisted one."""
    price = variant.get("price") if isinstance(variant.get("price"), dict) else {}
    return None if price.get("salePrice") is None else _money(price, "salePrice", where)


def _quantity(variant: dict[str, Any]) -> int | None:
    stock = variant.get("stock")
    quantity = stock.get("quantity") if isinstance(stock, dict) else stock
    return int(quantity) if quantity is not None and not isinstance(quantity, bool) else None


def _money(record: dict[str, Any], key: str, where: str, default: Any = None) -> Decimal:
    value = record.get(key, default)
    return decimal_amount(None if isinstance(value, bool) else value, key, where)  # a bool is no amount: missing


def _time(value: Any, key: str, where: str) -> datetime:
    try:
        millis = int(value)
    except (TypeError, ValueError):
        raise MappingError(f"{where} has no {key} in epoch milliseconds: {value!r}.") from None
    if millis <= 0:
        raise MappingError(f"{where} has no {key}.")
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
