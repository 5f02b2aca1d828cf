"""Importing a channel's catalogue (products and their variants) and its inventory levels.

A channel's product is a listing; each of its variants with a SKU is one ERP
Product (unique per organization by SKU), whichever channels list it. The
import records three kinds of ExternalRef: the listing (`product`, for the
payload hash and the never-regress rule), each variant (`variant` → Product: the
channel lists this SKU, so stock changes are pushed to it) and each inventory
item (`inventory_item` → Product: how the channel's inventory levels and pushes
name the SKU).

Inventory levels set on_hand of the product at the ERP location the channel's
location maps to (`config["locations"]`, `{provider location id: ERP location}`),
else at `<integration code>/<provider location id>`. Such a change is pushed to
the product's other channels, not back to the one it came from.

Variants' own `on_hand` (inventory_quantity) is ignored: inventory levels are
the source of stock, with their own timestamps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from integrations.models import Integration

from ..models import ExternalRef, Product, ProductStatus, ResourceType, StockLevel
from .orders import _aware, _Bad, _money
from .refs import UpsertResult, claim_refs, newest_per_id, payload_hash, save_refs
from .stock import StockKey, apply_stock_deltas

PRODUCT_UPDATE_FIELDS = ["name", "status", "price", "currency", "barcode", "updated_at"]


def _parse_product(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Bad("the product is not an object")
    external_id = str(record.get("external_id") or "")
    if not external_id:
        raise _Bad("external_id is missing")
    variants = record.get("variants") or []
    if not isinstance(variants, list):
        raise _Bad("variants must be a list")
    parsed, seen = [], set()
    for index, variant in enumerate(variants):
        if not isinstance(variant, dict) or not variant.get("external_id"):
            raise _Bad(f"variants[{index}].external_id is missing")
        sku = str(variant.get("sku") or "")[:100]
        if not sku:
            continue  # a variant without a SKU cannot be an ERP product
        if sku in seen:
            raise _Bad(f"variants[{index}].sku repeats another variant's SKU")
        seen.add(sku)
        parsed.append({
            "external_id": str(variant["external_id"]),
            "sku": sku,
            "name": str(variant.get("name") or record.get("title") or "")[:300],
            "price": _money(variant, "price") if variant.get("price") is not None else None,
            "barcode": str(variant.get("barcode") or "")[:100],
            "inventory_item_id": str(variant.get("inventory_item_id") or ""),
        })
    if not parsed:
        raise _Bad("no variant has a SKU")
    status = ProductStatus.ACTIVE if record.get("status", "active") == "active" else ProductStatus.INACTIVE
    return {"external_id": external_id, "status": status, "updated_at": _aware(record.get("updated_at"), "updated_at",
                                                                               required=False), "variants": parsed}


@transaction.atomic
def upsert_products(*, integration: Integration, products: list[dict]) -> UpsertResult:
    """Create or update a page of the channel's products (variants → Products by SKU); idempotent, never regresses.

    Runs in the caller's transaction and never calls a provider. Counts are per
    channel product (listing): created when the listing is new here.
    """
    result = UpsertResult()
    parsed: list[tuple[str, datetime | None, dict]] = []
    for record in products:
        try:
            item = _parse_product(record)
        except _Bad as exc:
            result.fail(record.get("external_id") if isinstance(record, dict) else None, str(exc))
            continue
        item["hash"] = payload_hash(record)
        parsed.append((item["external_id"], item["updated_at"], item))
    chosen = newest_per_id(parsed)
    result.unchanged += len(parsed) - len(chosen)
    if not chosen:
        return result

    refs = claim_refs(integration=integration, resource_type=ResourceType.PRODUCT, external_ids=list(chosen))
    to_write: list[tuple[dict, ExternalRef, bool]] = []
    for external_id, (updated_at, item) in chosen.items():
        ref = refs[external_id]
        if ref.object_id is not None and (
            ref.payload_hash == item["hash"]
            or (ref.external_updated_at and updated_at and updated_at < ref.external_updated_at)
        ):
            result.unchanged += 1
            continue
        to_write.append((item, ref, ref.object_id is None))
    if not to_write:
        return result

    organization = integration.organization
    currency = str((integration.config or {}).get("currency") or "")[:3]
    by_sku: dict[str, Product] = {}
    for item, _, _ in to_write:
        for variant in item["variants"]:
            by_sku[variant["sku"]] = Product(
                organization=organization, sku=variant["sku"], name=variant["name"], status=item["status"],
                price=variant["price"], currency=currency, barcode=variant["barcode"],
            )
    Product.objects.bulk_create(
        [by_sku[sku] for sku in sorted(by_sku)], update_conflicts=True, unique_fields=["organization", "sku"],
        update_fields=PRODUCT_UPDATE_FIELDS,
    )
    product_ids = dict(Product.objects.filter(organization=organization, sku__in=list(by_sku)).values_list("sku", "pk"))

    links: dict[str, list[tuple[str, int]]] = {ResourceType.VARIANT: [], ResourceType.INVENTORY_ITEM: []}
    for item, ref, is_new in to_write:
        ref.object_id = product_ids[item["variants"][0]["sku"]]
        ref.external_updated_at, ref.payload_hash = item["updated_at"], item["hash"]
        for variant in item["variants"]:
            links[ResourceType.VARIANT].append((variant["external_id"], product_ids[variant["sku"]]))
            if variant["inventory_item_id"]:
                links[ResourceType.INVENTORY_ITEM].append((variant["inventory_item_id"], product_ids[variant["sku"]]))
        if is_new:
            result.created += 1
        else:
            result.updated += 1
    for resource_type, pairs in links.items():
        _link(integration, resource_type, pairs)
    save_refs([ref for _, ref, _ in to_write])
    return result


def _link(integration: Integration, resource_type: str, pairs: list[tuple[str, int]]) -> None:
    """Point these provider ids at their Products (one insert-or-update statement)."""
    if not pairs:
        return
    ExternalRef.objects.bulk_create(
        [ExternalRef(integration=integration, resource_type=resource_type, external_id=e, object_id=p)
         for e, p in sorted(dict(pairs).items())],
        update_conflicts=True, unique_fields=["integration", "resource_type", "external_id"],
        update_fields=["object_id", "updated_at"],
    )


def _location_for(integration: Integration, location_id: str) -> str:
    mapped = ((integration.config or {}).get("locations") or {}).get(location_id)
    return str(mapped) if mapped else f"{integration.code}/{location_id}"[:100]


@transaction.atomic
def upsert_inventory_levels(*, integration: Integration, levels: list[dict]) -> UpsertResult:
    """Set on_hand from a page of the channel's inventory levels; idempotent, never regresses.

    A level of an inventory item the ERP has not linked to a product yet (its
    products were not imported) is failed with a message saying so.
    """
    result = UpsertResult()
    parsed: list[tuple[str, datetime | None, dict]] = []
    for record in levels:
        key = None
        try:
            if not isinstance(record, dict):
                raise _Bad("the level is not an object")
            item_id, location_id = str(record.get("inventory_item_id") or ""), str(record.get("location_id") or "")
            if not item_id or not location_id:
                raise _Bad("inventory_item_id and location_id are required")
            key = f"{item_id}@{location_id}"
            available = record.get("available")
            if available is not None and (isinstance(available, bool) or not isinstance(available, int)):
                raise _Bad("available must be an integer or null")
            item = {"key": key, "inventory_item_id": item_id, "location_id": location_id, "available": available,
                    "updated_at": _aware(record.get("updated_at"), "updated_at", required=False),
                    "hash": payload_hash(record)}
        except _Bad as exc:
            result.fail(key or (record.get("inventory_item_id") if isinstance(record, dict) else None), str(exc))
            continue
        parsed.append((key, item["updated_at"], item))
    chosen = newest_per_id(parsed)
    result.unchanged += len(parsed) - len(chosen)
    if not chosen:
        return result
    products = dict(
        ExternalRef.objects.filter(
            integration=integration, resource_type=ResourceType.INVENTORY_ITEM,
            external_id__in=sorted({i["inventory_item_id"] for _, i in chosen.values()}),
        ).values_list("external_id", "object_id")
    )
    known = {}
    for key, (updated_at, item) in chosen.items():
        if products.get(item["inventory_item_id"]) is None:
            result.fail(key, "unknown inventory item: import the channel's products first", reason="unknown_item")
        else:
            known[key] = (updated_at, item)
    refs = claim_refs(integration=integration, resource_type=ResourceType.INVENTORY_LEVEL, external_ids=list(known))
    set_on_hand: dict[StockKey, int] = {}
    to_save, created_keys = [], set()
    for key, (updated_at, item) in known.items():
        ref = refs[key]
        if ref.object_id is not None and (
            ref.payload_hash == item["hash"]
            or (ref.external_updated_at and updated_at and updated_at < ref.external_updated_at)
        ):
            result.unchanged += 1
            continue
        if item["available"] is None:
            result.unchanged += 1  # the channel does not track this item's stock here: nothing to set
            continue
        if ref.object_id is None:
            created_keys.add(key)
        stock_key = (products[item["inventory_item_id"]], _location_for(integration, item["location_id"]))
        set_on_hand[stock_key] = item["available"]
        ref.external_updated_at, ref.payload_hash = updated_at, item["hash"]
        to_save.append((ref, stock_key))
    apply_stock_deltas(
        organization=integration.organization, deltas={}, set_on_hand=set_on_hand, exclude_push_to=integration
    )
    if to_save:
        level_ids = {
            (p, loc): pk for pk, p, loc in StockLevel.objects.filter(
                product_id__in={k[0] for _, k in to_save}, location__in={k[1] for _, k in to_save}
            ).values_list("pk", "product_id", "location")
        }
        for ref, stock_key in to_save:
            ref.object_id = level_ids[stock_key]
        save_refs([ref for ref, _ in to_save])
    result.created += len(created_keys)
    result.updated += len(to_save) - len(created_keys)
    return result
