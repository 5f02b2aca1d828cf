"""Importing a channel's catalogue (products and their variants) and its inventory levels.

A channel's product is a listing; each of its variants with a SKU is one ERP
Product (unique per organization by SKU), whichever channels list it. The
import records three kinds of ExternalRef: the listing (`product`, for the
payload hash and the never-regress rule), each variant (`variant` → Product: the
channel lists this SKU, so stock changes are pushed to it) and each inventory
item (`inventory_item` → Product: how the channel's inventory levels and pushes
name the SKU).

Images, categories and attributes are catalogue.py's: written with the variants, per channel.

Inventory levels are channel_stock.py's: they land at mapped locations only.
Variants' own `on_hand` (inventory_quantity) is ignored: inventory levels are
the source of stock, with their own timestamps.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.audit import record_audit
from config.errors import ValidationError
from integrations.models import Integration

from ..models import ExternalRef, Product, ProductStatus, ResourceType
from .catalogue import catalogue_of, catalogue_replace, has_catalogue
from .orders import _aware, _Bad, _money
from .refs import UpsertResult, claim_refs, is_older, newest_per_id, payload_hash, save_refs

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
            "catalogue": catalogue_of(record, variant),
        })
    if not parsed:
        raise _Bad("no variant has a SKU")
    status = ProductStatus.ACTIVE if record.get("status", "active") == "active" else ProductStatus.INACTIVE
    return {"external_id": external_id, "status": status, "updated_at": _aware(record.get("updated_at"), "updated_at",
                                                                               required=False), "variants": parsed,
            "has_catalogue": has_catalogue(record)}


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
            ref.payload_hash == item["hash"] or is_older(updated_at, ref.external_updated_at)
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
    catalogue_replace(integration=integration, catalogues={
        product_ids[variant["sku"]]: variant["catalogue"]
        for item, _, _ in to_write if item["has_catalogue"] for variant in item["variants"]
    })
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


def product_price_set(*, product: Product, price: Decimal, reason: str = "", request=None,
                      actor_label: str | None = None) -> Product:
    """Set a product's ERP price (major units of its currency), with an audit event (`product.price_changed`,
    from → to, and why: an accepted suggestion names itself). Channels keep their own prices: this release pushes
    no prices to them. Raises ValidationError for an amount that is not above 0 with at most 2 decimals."""
    if not price.is_finite() or price <= 0 or price != price.quantize(Decimal("0.01")):
        raise ValidationError(details={"price": ["Must be more than 0 with at most 2 decimal places."]})
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        before = locked.price
        locked.price = price
        locked.save(update_fields=["price", "updated_at"])
        record_audit(action="product.price_changed", request=request, target=locked, actor_label=actor_label,
                     details={"changes": {"price": {"from": None if before is None else str(before),
                                                    "to": str(price)}}, "reason": reason[:300]})
    return locked
