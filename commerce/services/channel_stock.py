"""A channel's stock: its locations, who is the source of truth, what it reports and what the hub writes.

Three rules keep a channel's figures true (README, "Stock"):

- **Locations are mapped, never guessed.** Each channel location maps to one
  ERP stock location (ChannelLocation). Levels at an unmapped location are
  recorded and reported, not applied; pushes go per mapped location with that
  location's own quantity, never a sum over locations.
- **One source of truth per channel** (`Integration.stock_mode`): `import`
  (the channel's levels set the ERP's on_hand; the hub never writes the
  channel's stock), `push` (the ERP's sellable quantity is written to the
  channel; what the channel reports is recorded as drift) or `off`.
- **No echoes.** ChannelStock holds the channel's last confirmed figure per
  (location, product). A push is sent only where the ERP's quantity differs
  from it, and a report of the value we wrote changes nothing and queues
  nothing; a report older than the last one is stale and ignored.

The push itself (the provider call) is the pipeline's (`syncjobs.pushes`):
here are what it asks (`inventory_push_pending`) and what it records
(`inventory_push_record`, `_failed`, `_done`).

Every channel the hub connects today (Shopify, WooCommerce, Trendyol, eBay,
Amazon, TikTok Shop) reports and accepts a quantity that is already net of its
own open orders (`Connector.stock_nets_open_orders`). So while such a channel
is the source (`import`), its orders hold no ERP stock: its figure already
counts them. When the ERP is the source (`push`), its orders reserve as any
order does, and switching between the two converts the figures so that
nothing is subtracted twice (`stock_mode_set`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.errors import ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.models import Integration, StockMode

from ..models import (
    RESERVING_STATUSES,
    ChannelLocation,
    ChannelStock,
    ExternalRef,
    InventoryPush,
    OrderLine,
    ResourceType,
    StockLevel,
)
from .orders import _aware, _Bad
from .refs import UpsertResult, is_older, newest_per_id
from .rows import insert_missing
from .stock import StockKey, apply_stock_deltas, holds_stock, queue_inventory_push

PUSH_BATCH = 250


# ---------------------------------------------------------------------- locations
def _ensure_locations(integration: Integration, offered: Iterable[dict[str, Any]]) -> dict[str, ChannelLocation]:
    """The integration's ChannelLocations by external id, inserting those the channel offers for the first time."""
    now = timezone.now()
    rows = []
    for location in offered:
        rows.append({"organization_id": integration.organization_id, "integration_id": integration.pk,
                     "external_id": str(location["id"])[:100], "name": str(location.get("name") or "")[:200],
                     "erp_location": "", "pushable": bool(location.get("pushable", True)), "last_seen_at": now,
                     "created_at": now, "updated_at": now})
    insert_missing(ChannelLocation, rows, unique=["integration", "external_id"])
    return {loc.external_id: loc for loc in ChannelLocation.objects.filter(integration=integration)}


def channel_locations_refresh(*, integration: Integration) -> dict[str, Any]:
    """Ask the channel for its stock locations; new ones are offered unmapped, names and pushability refreshed.

    Returns `{"locations": n, "new": [ids], "unmapped": [ids]}`. Calls the
    provider, so it runs outside any transaction.
    """
    connector = registry.connector_for(integration)
    offered = list(connector.stock_locations())
    before = set(ChannelLocation.objects.filter(integration=integration).values_list("external_id", flat=True))
    with transaction.atomic():
        found = _ensure_locations(integration, offered)
        now = timezone.now()
        for location in offered:
            row = found[str(location["id"])[:100]]
            name, pushable = str(location.get("name") or "")[:200], bool(location.get("pushable", True))
            if (row.name, row.pushable) != (name, pushable) or row.last_seen_at is None or row.last_seen_at < now:
                ChannelLocation.objects.filter(pk=row.pk).update(name=name, pushable=pushable, last_seen_at=now)
    unmapped = sorted(ChannelLocation.objects.filter(integration=integration, erp_location="")
                      .values_list("external_id", flat=True))
    return {"locations": len(offered), "new": sorted(set(found) - before), "unmapped": unmapped}


@transaction.atomic
def channel_location_map(*, location: ChannelLocation, erp_location: str) -> ChannelLocation:
    """Map a channel location to an ERP location ("" unmaps it). Two locations of one channel cannot share one.

    Mapping changes nothing at once: the next import lands there, the next
    push reads it. The channel's last figure stays, so a push after mapping
    writes only where the ERP's quantity differs.
    """
    erp_location = (erp_location or "").strip()
    if len(erp_location) > 100:
        raise ValidationError("An ERP location name has at most 100 characters.",
                              details={"erp_location": ["at most 100 characters"]})
    location = ChannelLocation.objects.select_for_update().get(pk=location.pk)
    if erp_location and ChannelLocation.objects.filter(
        integration_id=location.integration_id, erp_location=erp_location
    ).exclude(pk=location.pk).exists():
        raise ValidationError(
            f"Another location of this channel is already mapped to {erp_location!r}: the ERP's stock there "
            "would be offered twice.", details={"erp_location": ["already mapped for this channel"]})
    location.erp_location = erp_location
    location.save(update_fields=["erp_location", "updated_at"])
    return location


# ---------------------------------------------------------------------- source of truth
@transaction.atomic
def stock_mode_set(*, integration: Integration, mode: str, request=None, actor_label: str | None = None
                   ) -> Integration:
    """Make the channel or the ERP the source of truth for this channel's stock; audited.

    When the channel nets out its own open orders, its orders hold ERP stock
    only in `push` and `off`; switching moves their open quantities between
    on_hand and reserved together (on_hand = the channel's available + what
    its open orders hold), so no sellable figure changes by the switch itself.
    A switch to `push` then queues a push of every listed product: where the
    ERP and the channel agree, nothing is written.
    """
    from accounts.audit import record_audit

    if mode not in StockMode.values:
        raise ValidationError(f"Unknown stock mode {mode!r}.", details={"stock_mode": [f"one of {StockMode.values}"]})
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    previous = integration.stock_mode
    if previous == mode:
        return integration
    held_before = holds_stock(integration)
    integration.stock_mode = mode
    integration.save(update_fields=["stock_mode", "updated_at"])
    held_after = holds_stock(integration)
    moved = 0
    if held_before != held_after:
        moved = _convert_open_orders(integration, hold=held_after)
    if mode == StockMode.PUSH:
        listed = ExternalRef.objects.filter(integration=integration, resource_type=ResourceType.VARIANT,
                                            object_id__isnull=False).values_list("object_id", flat=True)
        queue_inventory_push(organization=integration.organization, product_ids=set(listed))
    if mode != StockMode.PUSH:
        InventoryPush.objects.filter(integration=integration).delete()
    record_audit(action="integration.stock_mode_changed", request=request, target=integration,
                 actor_label=actor_label, details={"from": previous, "to": mode, "order_lines_converted": moved})
    return integration


def _convert_open_orders(integration: Integration, *, hold: bool) -> int:
    """Make the channel's open order lines hold (or stop holding) ERP stock, on_hand moving with reserved."""
    from .stock import default_location

    lines = list(
        OrderLine.objects.select_for_update(of=("self",))
        .filter(order__integration=integration, order__status__in=RESERVING_STATUSES, product_id__isnull=False)
        .select_related("order")
        .order_by("pk")
    )
    deltas: dict[StockKey, list[int]] = {}
    changed = []
    for line in lines:
        target = max(0, line.quantity - line.fulfilled_quantity) if hold else 0
        step = target - line.reserved_quantity
        if not step:
            continue
        key = (line.product_id, line.order.stock_location or default_location(integration))
        entry = deltas.setdefault(key, [0, 0])
        entry[0] += step
        entry[1] += step
        line.reserved_quantity = target
        changed.append(line)
    if changed:
        OrderLine.objects.bulk_update(changed, ["reserved_quantity"])
        apply_stock_deltas(organization=integration.organization,
                           deltas={k: (v[0], v[1]) for k, v in deltas.items()}, exclude_push_to=integration)
    return len(changed)


# ---------------------------------------------------------------------- what the channel reports
@transaction.atomic
def upsert_inventory_levels(*, integration: Integration, levels: list[dict]) -> UpsertResult:
    """Record a page of the channel's levels; in `import` mode, set the ERP's on_hand at mapped locations.

    Idempotent and never regresses: a level older than the one recorded is
    unchanged. A level of an item the ERP has not linked to a product yet is
    failed (import the products first). A level at an unmapped location is
    recorded and reported in `unmapped_locations`, and sets nothing. A level
    equal to what we last wrote (our own echo) changes nothing and queues
    nothing, in every mode.
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
            item = {"inventory_item_id": item_id, "location_id": location_id[:100], "available": available,
                    "updated_at": _aware(record.get("updated_at"), "updated_at", required=False)}
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
    known: dict[tuple[str, int], tuple[datetime | None, dict]] = {}
    for key, (updated_at, item) in chosen.items():
        product_id = products.get(item["inventory_item_id"])
        if product_id is None:
            result.fail(key, "unknown inventory item: import the channel's products first", reason="unknown_item")
        else:
            known[(item["location_id"], product_id)] = (updated_at, item)
    if not known:
        return result
    locations = _ensure_locations(integration, [{"id": loc} for loc in sorted({loc for loc, _ in known})])
    now = timezone.now()
    keys = sorted((locations[loc].pk, p) for loc, p in known)
    # Insert what is missing first (ON CONFLICT DO NOTHING), then lock: a webhook and a sync importing the same
    # level at once take turns instead of both inserting it. A row inserted here has no inventory item id yet.
    insert_missing(ChannelStock, [
        {"organization_id": integration.organization_id, "integration_id": integration.pk,
         "channel_location_id": loc_pk, "product_id": product_id, "inventory_item_id": "", "channel_quantity": None,
         "reported_at": None, "pushed_quantity": None, "pushed_at": None, "created_at": now, "updated_at": now}
        for loc_pk, product_id in keys], unique=["channel_location", "product"])
    current = _locked_stock(integration, keys)
    importing = integration.stock_mode == StockMode.IMPORT
    set_on_hand: dict[StockKey, int] = {}
    changed: list[ChannelStock] = []
    for (location_id, product_id), (updated_at, item) in sorted(known.items()):
        location = locations[location_id]
        row = current[(location.pk, product_id)]
        if is_older(updated_at, row.reported_at):
            result.unchanged += 1  # stale: the channel has said something newer since
            continue
        quantity = item["available"]
        if not location.mapped:
            result.unmapped_locations.add(location.external_id)
        elif importing and quantity is not None:
            set_on_hand[(product_id, location.erp_location)] = quantity  # a no-op where the ERP already agrees
        if not row.inventory_item_id:
            result.created += 1
        elif row.channel_quantity == quantity:
            result.unchanged += 1  # our own write coming back, or a repeat: nothing to tell anyone
        else:
            result.updated += 1
        row.inventory_item_id, row.channel_quantity, row.updated_at = item["inventory_item_id"], quantity, now
        row.reported_at = updated_at or row.reported_at
        changed.append(row)
    ChannelStock.objects.bulk_update(changed, ["inventory_item_id", "channel_quantity", "reported_at", "updated_at"])
    apply_stock_deltas(organization=integration.organization, deltas={}, set_on_hand=set_on_hand,
                       exclude_push_to=integration)
    return result


def _locked_stock(integration: Integration, keys: list[tuple[int, int]]) -> dict[tuple[int, int], ChannelStock]:
    """The ChannelStock rows of these (channel location id, product id) pairs, locked, by pair."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = ChannelStock.objects.select_for_update().filter(
        integration=integration, channel_location_id__in={k[0] for k in wanted},
        product_id__in={k[1] for k in wanted}).order_by("pk")
    return {(row.channel_location_id, row.product_id): row for row in rows
            if (row.channel_location_id, row.product_id) in wanted}


# ---------------------------------------------------------------------- what the hub writes
def sellable_at(*, product_ids: Iterable[int], locations: Iterable[str]) -> dict[StockKey, int]:
    """{(product, ERP location): on_hand − reserved, never below zero} — what a channel location is told."""
    rows = StockLevel.objects.filter(product_id__in=list(product_ids), location__in=list(locations)).values_list(
        "product_id", "location", "on_hand", "reserved")
    return {(p, loc): max(0, on_hand - reserved) for p, loc, on_hand, reserved in rows}


def _push_due(stock: ChannelStock | None, wanted: int) -> bool:
    """Whether the channel must be told `wanted`: it last confirmed something else, and we did not just send it."""
    if stock is None:
        return True
    if stock.channel_quantity == wanted:
        return False
    sent_and_unanswered = (stock.pushed_quantity == wanted and stock.pushed_at is not None
                           and (stock.reported_at is None or stock.reported_at <= stock.pushed_at))
    return not sent_and_unanswered


def inventory_push_pending(*, integration: Integration) -> tuple[list[InventoryPush], list[dict[str, Any]]]:
    """The channel's pending push rows (a batch) and the items due: one per (mapped location, product) where
    the ERP's quantity differs from what the channel last confirmed. Reads only; the pipeline sends them.

    Only `push` channels are written: for any other mode (or a provider that
    does not take stock) the pending rows are dropped and ([], []) returned.
    """
    rows = list(InventoryPush.objects.filter(integration=integration).select_related("product")[:PUSH_BATCH])
    if not rows:
        return [], []
    if integration.stock_mode != StockMode.PUSH or not (
        registry.is_registered(integration.provider) and registry.supports(integration.provider, Capability.INVENTORY)
    ):
        InventoryPush.objects.filter(pk__in=[r.pk for r in rows]).delete()
        return [], []
    product_ids = [row.product_id for row in rows]
    targets = list(ChannelLocation.objects.filter(integration=integration, pushable=True).exclude(erp_location=""))
    items_by_product = dict(
        ExternalRef.objects.filter(
            integration=integration, resource_type=ResourceType.INVENTORY_ITEM, object_id__in=product_ids
        ).values_list("object_id", "external_id")
    )
    wanted = sellable_at(product_ids=product_ids, locations={t.erp_location for t in targets})
    known = {(s.channel_location_id, s.product_id): s
             for s in ChannelStock.objects.filter(integration=integration, product_id__in=product_ids)}
    sku = {row.product_id: row.product.sku for row in rows}
    items = []
    for location in targets:
        for product_id in product_ids:
            item_id = items_by_product.get(product_id)
            quantity = wanted.get((product_id, location.erp_location), 0)
            if item_id and _push_due(known.get((location.pk, product_id)), quantity):
                items.append({"sku": sku[product_id], "product_id": product_id, "inventory_item_id": item_id,
                              "location_id": location.external_id, "location_pk": location.pk,
                              "available": quantity})
    return rows, items


def inventory_push_failed(*, rows: list[InventoryPush], error: str, attempted_at: datetime) -> None:
    """Keep a failed push on its rows (`last_error`, `attempts`): the admin shows it, the sweeper leaves it be
    until someone asks again."""
    InventoryPush.objects.filter(pk__in=[r.pk for r in rows]).update(
        attempts=F("attempts") + 1, last_attempt_at=attempted_at, last_error=error[:2000]
    )


def inventory_push_done(*, integration: Integration, rows: list[InventoryPush]) -> bool:
    """Delete the pushed rows nobody asked for again meanwhile (`requested_at` unchanged); True when the channel
    still has rows pending (asked again, or past this batch)."""
    done = Q()
    for row in rows:
        done |= Q(pk=row.pk, requested_at=row.requested_at)
    InventoryPush.objects.filter(done).delete()
    return InventoryPush.objects.filter(integration=integration).exists()


def inventory_push_record(*, integration: Integration, chunk: list[dict[str, Any]], answer: Any) -> None:
    """Note what the channel now holds: the level it answered with when it answers one, else what was sent."""
    answer = answer if isinstance(answer, dict) else {}
    confirmed = {(str(level.get("inventory_item_id")), str(level.get("location_id"))): level
                 for level in answer.get("levels") or []}
    capped = {str(c) for c in answer.get("capped") or []}
    now = timezone.now()
    keys = sorted({(item["location_pk"], item["product_id"]) for item in chunk})
    with transaction.atomic():
        insert_missing(ChannelStock, [
            {"organization_id": integration.organization_id, "integration_id": integration.pk,
             "channel_location_id": loc_pk, "product_id": product_id, "inventory_item_id": "",
             "channel_quantity": None, "reported_at": None, "pushed_quantity": None, "pushed_at": None,
             "created_at": now, "updated_at": now} for loc_pk, product_id in keys],
            unique=["channel_location", "product"])
        current = _locked_stock(integration, keys)
        for item in chunk:
            level = confirmed.get((str(item["inventory_item_id"]), str(item["location_id"])), {})
            quantity = level.get("available", item["available"])
            if str(item["inventory_item_id"]) in capped:
                quantity = None  # the channel holds less than was sent; its next report says how much
            reported_at = level.get("updated_at") if isinstance(level.get("updated_at"), datetime) else None
            row = current[(item["location_pk"], item["product_id"])]
            row.inventory_item_id = str(item["inventory_item_id"])
            if is_older(reported_at, row.reported_at):
                reported_at = None  # a newer report arrived while we wrote: it stands
                quantity = row.channel_quantity
            row.channel_quantity = quantity
            row.reported_at = reported_at or row.reported_at
            row.pushed_quantity, row.pushed_at, row.updated_at = item["available"], now, now
        ChannelStock.objects.bulk_update(list(current.values()), [
            "inventory_item_id", "channel_quantity", "reported_at", "pushed_quantity", "pushed_at", "updated_at"])
