"""1C records ⇄ the ERP's words, by the field names of the integration's `config.mapping`.

1C configurations differ (Russian or English metadata names, added attributes), so which entity set and
which property hold a product's SKU, a warehouse's stock or our order id is configuration, merged over the
defaults below section by section: `config.mapping = {"products": {"sku": "Артикул"}}` changes only that.

Times: 1C sends and takes `Edm.DateTime` without a zone ("2024-05-29T13:00:00"), in the 1C server's local
time. The zone is explicit (`config.time_zone`, else the provider setting ONEC_TIME_ZONE, default
Europe/Bucharest): our UTC times are converted into it before they are sent, and 1C's are read in it.

Quantities: 1C keeps decimal quantities (kilograms, metres); the ERP counts whole units, so a fractional
stock balance fails that record by name instead of being rounded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from connectors.mapping import MappingError, decimal_amount, required

__all__ = ["MappingError"]

DEFAULT_MAPPING: dict[str, dict[str, Any]] = {
    "products": {
        "entity": "Catalog_Nomenclature",
        "sku": "SKU",  # Артикул in a Russian configuration
        "name": "Description",
        "barcode": "",  # no barcode attribute by default (1C keeps them in a register)
        "price": "",  # prices live in a price register; name an attribute here if the catalogue has one
        "filter": "IsFolder eq false",  # groups are not products
    },
    "stock": {
        # ТоварыНаСкладах (goods in warehouses): physical stock per item and warehouse, read as its Balance
        # virtual table, whose resources end in "Balance".
        "entity": "AccumulationRegister_GoodsInWarehouses/Balance",
        "product": "Nomenclature_Key",
        "warehouse": "Warehouse_Key",
        "quantity": "InStockBalance",
        "warehouses": "Catalog_Warehouses",
    },
    "orders": {
        "entity": "Document_SalesOrder",
        "order_id": "SwitchyardOrderId",  # a string attribute holding the ERP's order id: the idempotency key
        "number": "Number",
        "date": "Date",
        "comment": "Comment",
        "amount": "DocumentAmount",
        "lines": "Goods",  # the tabular section
        "line_product": "Nomenclature_Key",
        "line_quantity": "Quantity",
        "line_price": "Price",
        "line_amount": "Amount",
        "defaults": {},  # fixed properties of every document: Organization_Key, Counterparty_Key, Warehouse_Key…
        "line_defaults": {},  # fixed properties of every line (Unit_Key, VATRate…)
        "post": False,  # post (conduct) the document after creating it
    },
}


def merged_mapping(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The defaults with the integration's `config.mapping` sections laid over them."""
    mapping = copy.deepcopy(DEFAULT_MAPPING)
    given = (config or {}).get("mapping") if isinstance(config, Mapping) else None
    if isinstance(given, Mapping):
        for section, fields in given.items():
            if section in mapping and isinstance(fields, Mapping):
                mapping[section].update(fields)
    return mapping


# ---------------------------------------------------------------------- times
def local_naive(moment: datetime, zone: ZoneInfo) -> str:
    """An aware time as 1C takes it: the server's wall-clock time, no offset."""
    if moment.tzinfo is None:
        raise MappingError("An order time without a zone cannot be sent to 1C.")
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def aware(value: Any, zone: ZoneInfo, key: str, where: str) -> datetime:
    """A 1C time (the server's wall clock, no offset) as an aware UTC time."""
    if not value:
        raise MappingError(f"{where} has no {key}.")
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(f"{where} has a {key} that is not a time: {value!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


# ---------------------------------------------------------------------- pulls
def normalize_product(record: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A catalogue item: one listing with one variant, both keyed by its Ref_Key (also its stock item id)."""
    ref = str(required(record, "Ref_Key", "1C item"))
    where = f"1C item {ref}"
    sku = str(required(record, fields["sku"], where)).strip()
    name = str(record.get(fields["name"]) or "")
    price = decimal_amount(record.get(fields["price"]), fields["price"], where) if fields.get("price") and \
        record.get(fields["price"]) not in (None, "") else None
    barcode = str(record.get(fields["barcode"]) or "") if fields.get("barcode") else ""
    return {
        "external_id": ref,
        "title": name,
        "status": "archived" if record.get("DeletionMark") else "active",
        "updated_at": None,  # 1C keeps no change time on catalogue items; DataVersion (in the hash) tells change
        "variants": [{"external_id": ref, "sku": sku, "name": name, "price": price, "barcode": barcode,
                      "inventory_item_id": ref}],
    }


def stock_key(record: dict[str, Any], fields: Mapping[str, Any]) -> tuple[str, str]:
    where = "1C stock balance"
    return (str(required(record, fields["product"], where)), str(required(record, fields["warehouse"], where)))


def stock_quantity(record: dict[str, Any], fields: Mapping[str, Any]) -> Decimal:
    value = record.get(fields["quantity"])
    try:
        return Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        raise MappingError(f"1C stock balance has a {fields['quantity']} that is not a number: {value!r}.") from None


def normalize_inventory_level(record: dict[str, Any]) -> dict[str, Any]:
    """One summed balance `{"item", "warehouse", "quantity"}` (connector.iter_inventory sums the register's rows)."""
    where = f"1C stock of {record.get('item')} at {record.get('warehouse')}"
    quantity = Decimal(str(record.get("quantity")))
    if quantity != quantity.to_integral_value():
        raise MappingError(f"{where} is fractional ({quantity}); the ERP counts whole units.")
    return {"inventory_item_id": str(required(record, "item", where)),
            "location_id": str(required(record, "warehouse", where)), "available": int(quantity),
            "updated_at": None}


# ---------------------------------------------------------------------- the sales order
def sales_order(order: Mapping[str, Any], fields: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The Document_SalesOrder body for one ERP order (its lines in the tabular section)."""
    lines = []
    for number, line in enumerate(order.get("lines") or [], start=1):
        lines.append({
            **(fields.get("line_defaults") or {}),
            "LineNumber": str(number),
            fields["line_product"]: line["external_product_id"],
            fields["line_quantity"]: int(line["quantity"]),
            fields["line_price"]: _number(line["unit_price"]),
            fields["line_amount"]: _number(line["total"]),
        })
    label = order.get("external_number") or order["id"]
    body = {
        **(fields.get("defaults") or {}),
        fields["date"]: local_naive(order["placed_at"], zone),
        fields["order_id"]: str(order["id"]),
        fields["amount"]: _number(order["total"]),
        fields["lines"]: lines,
    }
    if fields.get("comment"):
        body[fields["comment"]] = f"Order {label} ({order.get('channel') or 'ERP'}), {order.get('currency', '')}"
    return body


def _number(value: Any) -> float:
    """An amount as a JSON number 1C reads (2 decimals: the float's shortest form is the same decimal text)."""
    return float(Decimal(str(value)).quantize(Decimal("0.01")))
