"""Importing orders from channels (syncs and webhook handlers alike), and manual status changes.

`upsert_orders` takes a page of normalized orders (connectors' `normalize_order`
shape) and writes them in a fixed number of statements however long the page
is: claim and lock the ExternalRefs, read the existing orders and lines, upsert
orders (INSERT … ON CONFLICT (integration, external_id) DO UPDATE), upsert lines
(ON CONFLICT (order, external_id)), delete lines the channel dropped, move the
stock reservations, write the refs, publish the page's events in one insert.
The big writes go through `rows.py` (one JSON parameter on PostgreSQL), so the
Python cost per page stays small next to the database's; existing rows are
read as values, never as model instances.

Idempotent: a record whose payload hash (everything but `updated_at`) matches
the ref's is unchanged. Never regresses: a record older than the version
already written is unchanged too, so a webhook and a sync may arrive in either
order. Locally recorded shipments are never undone by a channel that has not
heard of them yet: a line's fulfilled quantity only goes up on import.

Stock: an open order (pending, paid, partially fulfilled) reserves its lines'
unfulfilled quantities at its stock location; a cancelled or refunded one holds
nothing; units the channel reports shipped after import leave on_hand. Each
line remembers what it holds (`reserved_quantity`), so a re-import moves only
the difference.

Personal data: nothing here logs a customer's email, phone or address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.errors import ValidationError
from integrations.events import publish, publish_many
from integrations.models import Integration
from integrations.payloads import integration_summary

from ..models import RESERVING_STATUSES, ExternalRef, Order, OrderLine, OrderStatus, ResourceType
from ..statuses import UnknownChannelStatus, allowed_transitions, normalize_status
from .refs import UpsertResult, claim_refs, is_older, newest_per_id, payload_hash, save_refs
from .rows import upsert_rows
from .stock import StockKey, apply_stock_deltas, default_location, holds_stock, product_ids_by_sku

logger = logging.getLogger(__name__)

ORDER_UPDATE_FIELDS = [
    "external_number", "name", "status", "channel_status", "currency", "subtotal", "total_discounts", "total_tax",
    "total_shipping", "total", "customer_external_id", "customer_name", "customer_email",
    "customer_accepts_marketing", "shipping_address", "billing_address", "placed_at", "external_updated_at",
    "cancelled_at", "fulfilled_at", "seconds_to_fulfil", "stock_location", "updated_at",
]
LINE_UPDATE_FIELDS = [
    "product", "sku", "title", "quantity", "unit_price", "total", "fulfilled_quantity", "reserved_quantity",
]
MONEY_KEYS = ("subtotal", "total_discounts", "total_tax", "total_shipping", "total")


class _Bad(ValueError):
    """A record the import refuses; its message names the field (never a customer's data)."""


# ---------------------------------------------------------------------- parsing
def _money(record: dict[str, Any], key: str, default: Any = None) -> Decimal:
    value = record.get(key, default)
    if value is None or isinstance(value, bool | float):
        raise _Bad(f"{key} must be a decimal amount (string or Decimal)" if value is not None else f"{key} is missing")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"{key} is not an amount")
    if not amount.is_finite():
        raise _Bad(f"{key} is not an amount")
    return amount


def _aware(value: Any, key: str, *, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise _Bad(f"{key} is missing")
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise _Bad(f"{key} is not an ISO 8601 time")
    if timezone.is_naive(parsed):
        raise _Bad(f"{key} has no time zone")
    return parsed


def _int(value: Any, key: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Bad(f"{key} must be an integer")
    try:
        number = int(value)
    except ValueError:
        raise _Bad(f"{key} must be an integer")
    if number < 0:
        raise _Bad(f"{key} must not be negative")
    return number


def _parse_order(integration: Integration, record: Any) -> dict[str, Any]:
    """The record checked and coerced into model values; _Bad naming the field when it cannot be."""
    if not isinstance(record, dict):
        raise _Bad("the order is not an object")
    external_id = str(record.get("external_id") or "")
    if not external_id:
        raise _Bad("external_id is missing")
    try:
        status = normalize_status(provider=integration.provider, status=record.get("status"))
    except UnknownChannelStatus as exc:
        raise _Bad(str(exc))
    currency = str(record.get("currency") or "").upper()
    if len(currency) != 3:
        raise _Bad("currency must be a 3-letter code")
    customer = record.get("customer") or {}
    lines_in = record.get("lines") or []
    if not isinstance(customer, dict) or not isinstance(lines_in, list):
        raise _Bad("customer must be an object and lines a list")
    lines, seen = [], set()
    for index, line in enumerate(lines_in):
        if not isinstance(line, dict):
            raise _Bad(f"lines[{index}] is not an object")
        line_id = str(line.get("external_id") or "")
        if not line_id or line_id in seen:
            raise _Bad(f"lines[{index}].external_id is missing or repeated")
        seen.add(line_id)
        quantity = _int(line.get("quantity"), f"lines[{index}].quantity")
        price = _money(line, "price")
        lines.append({
            "external_id": line_id,
            "sku": str(line.get("sku") or "")[:100],
            "title": str(line.get("title") or "")[:300],
            "quantity": quantity,
            "unit_price": price,
            "total": _money(line, "total", default=price * quantity),
            "fulfilled_quantity": min(quantity, _int(line.get("fulfilled_quantity"), "fulfilled_quantity", 0)),
        })
    return {
        "external_id": external_id,
        "external_number": str(record.get("number") or record.get("name") or external_id)[:64],
        "name": str(record.get("name") or "")[:64],
        "status": status,
        "channel_status": {
            k: str(record[k]) for k in ("status", "financial_status", "fulfillment_status") if record.get(k)
        },
        "currency": currency,
        **{key: _money(record, key, default="0" if key != "total" else None) for key in MONEY_KEYS},
        "customer_external_id": str(customer.get("external_id") or "")[:255],
        "customer_name": str(customer.get("name") or "")[:300],
        "customer_email": str(customer.get("email") or "")[:254],
        # Consent only as the channel reported it: True/False, or None when the channel says nothing.
        "customer_accepts_marketing": (customer["accepts_marketing"]
                                       if isinstance(customer.get("accepts_marketing"), bool) else None),
        "shipping_address": record.get("shipping_address") or {},
        "billing_address": record.get("billing_address") or {},
        "placed_at": _aware(record.get("placed_at"), "placed_at"),
        "external_updated_at": _aware(record.get("updated_at"), "updated_at"),
        "cancelled_at": _aware(record.get("cancelled_at"), "cancelled_at", required=False),
        "lines": lines,
    }


def _merged_status(incoming: str, lines: list[dict[str, Any]]) -> str:
    """The channel's status, raised to (partially_)fulfilled when locally recorded shipments say so."""
    if incoming not in RESERVING_STATUSES or not lines:
        return incoming
    shipped = [line["fulfilled_quantity"] for line in lines]
    if all(line["fulfilled_quantity"] >= line["quantity"] for line in lines):
        return OrderStatus.FULFILLED
    if any(shipped):
        return OrderStatus.PARTIALLY_FULFILLED
    return incoming


def fulfilled_stamp(status: str, placed_at: datetime, when: datetime, fulfilled_at: datetime | None,
                    seconds_to_fulfil: int | None) -> tuple[datetime | None, int | None]:
    """(fulfilled_at, seconds_to_fulfil) once an order in `status` at `when`: stamped the first time it is fulfilled."""
    if status == OrderStatus.FULFILLED and fulfilled_at is None:
        return when, max(0, int((when - placed_at).total_seconds()))
    return fulfilled_at, seconds_to_fulfil


def fulfilment_time(order: Order, status: str, when: datetime) -> None:
    """Stamp when an order first became fulfilled, and how long after it was placed."""
    order.fulfilled_at, order.seconds_to_fulfil = fulfilled_stamp(
        status, order.placed_at, when, order.fulfilled_at, order.seconds_to_fulfil
    )


def order_event_payload(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    """What order.* events carry: the order's business figures, no customer personal data."""
    integration = order.integration
    return {
        "order": {
            "id": order.pk,
            "integration": None if integration is None else integration_summary(integration),
            "external_id": order.external_id,
            "external_number": order.external_number,
            "status": order.status,
            "currency": order.currency,
            "total": order.total,
            "placed_at": order.placed_at,
            "lines": [
                {"sku": line.sku, "quantity": line.quantity, "fulfilled_quantity": line.fulfilled_quantity,
                 "unit_price": line.unit_price}
                for line in lines
            ],
        }
    }


# ---------------------------------------------------------------------- import
# What the import reads of an order already stored (values, not model instances: the page only needs these).
_CURRENT_FIELDS = ("pk", "external_id", "external_updated_at", "stock_location", "fulfilled_at", "seconds_to_fulfil")


@dataclass(frozen=True, slots=True)
class _OldLine:
    pk: int
    product_id: int | None
    fulfilled_quantity: int
    reserved_quantity: int


@transaction.atomic
def upsert_orders(*, integration: Integration, orders: list[dict]) -> UpsertResult:
    """Create or update a page of the channel's orders; see the module docstring for the rules.

    Runs in the caller's transaction (a savepoint inside it) and never calls a
    provider. A record that cannot be imported is reported in `failed` and
    nothing of it is written; the others are.
    """
    result = UpsertResult()
    parsed: list[tuple[str, datetime | None, dict]] = []
    for record in orders:
        try:
            item = _parse_order(integration, record)
        except _Bad as exc:
            result.fail(record.get("external_id") if isinstance(record, dict) else None, str(exc))
            continue
        item["hash"] = payload_hash(record)
        parsed.append((item["external_id"], item["external_updated_at"], item))
    chosen = newest_per_id(parsed)
    result.unchanged += len(parsed) - len(chosen)  # older duplicates within the page
    if not chosen:
        return result

    refs = claim_refs(integration=integration, resource_type=ResourceType.ORDER, external_ids=list(chosen))
    existing = {
        row["external_id"]: row
        for row in Order.objects.filter(integration=integration, external_id__in=list(chosen)).values(*_CURRENT_FIELDS)
    }
    touched_refs: list[ExternalRef] = []
    to_write: list[tuple[dict, ExternalRef, dict | None]] = []
    for external_id, (updated_at, item) in chosen.items():
        ref, current = refs[external_id], existing.get(external_id)
        known = ref.external_updated_at or (current["external_updated_at"] if current else None)
        if current is not None and is_older(updated_at, known):
            result.unchanged += 1  # an older version: the newer one stays
        elif current is not None and ref.payload_hash == item["hash"]:
            result.unchanged += 1
            if updated_at and (known is None or updated_at > known):
                ref.external_updated_at, ref.object_id = updated_at, current["pk"]
                touched_refs.append(ref)
        else:
            to_write.append((item, ref, current))
    if to_write:
        _write_orders(integration, to_write, result)
        touched_refs.extend(ref for _, ref, _ in to_write)
    save_refs(touched_refs)
    return result


def _write_orders(integration: Integration, to_write: list[tuple[dict, ExternalRef, dict | None]],
                  result: UpsertResult) -> None:
    """Upsert the orders and their lines, move their stock, publish their events: a fixed number of statements."""
    organization = integration.organization
    now = timezone.now()
    old_lines: dict[int, dict[str, _OldLine]] = {}
    current_pks = [current["pk"] for _, _, current in to_write if current is not None]
    if current_pks:
        for pk, order_id, external_id, *figures in OrderLine.objects.filter(order_id__in=current_pks).values_list(
            "pk", "order_id", "external_id", "product_id", "fulfilled_quantity", "reserved_quantity"
        ):
            old_lines.setdefault(order_id, {})[external_id] = _OldLine(pk, *figures)
    product_ids = product_ids_by_sku(
        organization=organization,
        skus=[line["sku"] for item, _, _ in to_write for line in item["lines"]],
        create_missing=True,
        names={line["sku"]: line["title"] for item, _, _ in to_write for line in item["lines"]},
    )
    location = default_location(integration)
    holding = holds_stock(integration)  # False: the channel's own figure already nets out its open orders

    rows: list[dict[str, Any]] = []
    for item, _, current in to_write:
        previous = old_lines.get(current["pk"], {}) if current else {}
        for line in item["lines"]:
            old = previous.get(line["external_id"])
            if old is not None:
                line["fulfilled_quantity"] = min(line["quantity"], max(line["fulfilled_quantity"],
                                                                        old.fulfilled_quantity))
        status = _merged_status(item["status"], item["lines"])
        row = {k: v for k, v in item.items() if k not in ("lines", "hash")}
        row.update(
            organization_id=organization.pk, integration_id=integration.pk, status=status,
            stock_location=current["stock_location"] if current and current["stock_location"] else location,
            created_at=now, updated_at=now,
        )
        row["fulfilled_at"], row["seconds_to_fulfil"] = fulfilled_stamp(
            status, item["placed_at"], item["external_updated_at"] or now,
            current["fulfilled_at"] if current else None, current["seconds_to_fulfil"] if current else None,
        )
        rows.append(row)
    pks = dict(upsert_rows(Order, rows, unique=["integration_id", "external_id"], update=ORDER_UPDATE_FIELDS,
                           returning=["external_id", "id"]))

    deltas: dict[StockKey, list[int]] = {}

    def move(product_id: int | None, location: str, on_hand: int = 0, reserved: int = 0) -> None:
        if product_id is not None and (on_hand or reserved):
            entry = deltas.setdefault((product_id, location), [0, 0])
            entry[0] += on_hand
            entry[1] += reserved

    new_lines: list[dict[str, Any]] = []
    removed: list[int] = []
    for row, (item, ref, _current) in zip(rows, to_write, strict=True):
        row["id"] = order_id = pks[row["external_id"]]
        ref.object_id, ref.external_updated_at, ref.payload_hash = order_id, row["external_updated_at"], item["hash"]
        previous = old_lines.get(order_id, {})
        holds, where = holding and row["status"] in RESERVING_STATUSES, row["stock_location"]
        for line in item["lines"]:
            old = previous.pop(line["external_id"], None)
            product_id = product_ids.get(line["sku"])
            reserved = max(0, line["quantity"] - line["fulfilled_quantity"]) if holds and product_id else 0
            if old is not None:
                move(old.product_id, where, reserved=-old.reserved_quantity)
                if (holding and old.product_id == product_id
                        and line["fulfilled_quantity"] > old.fulfilled_quantity):
                    move(product_id, where, on_hand=old.fulfilled_quantity - line["fulfilled_quantity"])
            move(product_id, where, reserved=reserved)
            new_lines.append({"order_id": order_id, "product_id": product_id, "external_id": line["external_id"],
                              "sku": line["sku"], "title": line["title"], "quantity": line["quantity"],
                              "unit_price": line["unit_price"], "total": line["total"],
                              "fulfilled_quantity": line["fulfilled_quantity"], "reserved_quantity": reserved})
        for gone in previous.values():
            move(gone.product_id, where, reserved=-gone.reserved_quantity)
            removed.append(gone.pk)
    if removed:
        OrderLine.objects.filter(pk__in=removed).delete()
    upsert_rows(OrderLine, new_lines, unique=["order_id", "external_id"], update=LINE_UPDATE_FIELDS)
    apply_stock_deltas(organization=organization, deltas={k: (v[0], v[1]) for k, v in deltas.items()})

    for _, _, current in to_write:
        if current is None:
            result.created += 1
        else:
            result.updated += 1
    # One endpoint query and one insert for the page; the payloads are built only if some endpoint listens.
    publish_many(
        (
            ("order.created" if current is None else "order.updated",
             order_event_payload(_event_order(row, integration), [OrderLine(**line) for line in item["lines"]]))
            for row, (item, _, current) in zip(rows, to_write, strict=True)
        ),
        organization,
        integration,
    )


def _event_order(row: dict[str, Any], integration: Integration) -> Order:
    """An Order carrying what order_event_payload reads, from a written row (no query)."""
    return Order(id=row["id"], integration=integration, external_id=row["external_id"],
                 external_number=row["external_number"], status=row["status"], currency=row["currency"],
                 total=row["total"], placed_at=row["placed_at"])


# ---------------------------------------------------------------------- manual status changes
@transaction.atomic
def order_set_status(*, order: Order, status: str) -> Order:
    """Move an order to `status` by hand (the API's PUT …/status/, the admin).

    Only the moves in `statuses.TRANSITIONS` are allowed (fulfilment goes through
    `fulfill`, which records tracking); anything else is a VALIDATION_ERROR that
    changes nothing. Cancelling or refunding releases the order's reservations.
    """
    order = Order.objects.select_for_update(of=("self",)).select_related("integration", "organization").get(pk=order.pk)
    if status not in OrderStatus.values:
        raise ValidationError(f"Unknown status {status!r}.", details={"status": [f"one of {OrderStatus.values}"]})
    if status == order.status:
        return order
    if status not in allowed_transitions(order.status):
        raise ValidationError(
            f"An order that is {order.status} cannot become {status} by hand.",
            details={"status": [f"allowed from {order.status}: {sorted(allowed_transitions(order.status))}"]},
        )
    order.status = status
    if status == OrderStatus.CANCELLED and order.cancelled_at is None:
        order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at", "updated_at"])
    lines = rebalance_reservations(order=order)
    publish("order.updated", order_event_payload(order, lines), order.organization, order.integration)
    return order


def rebalance_reservations(*, order: Order) -> list[OrderLine]:
    """Make each line hold exactly what the order's status calls for; returns the lines. Caller holds the order lock."""
    holds = order.status in RESERVING_STATUSES and holds_stock(order.integration)
    location = order.stock_location or default_location(order.integration)
    lines = list(order.lines.all())
    deltas: dict[StockKey, tuple[int, int]] = {}
    changed = []
    for line in lines:
        target = line.open_quantity if holds and line.product_id else 0
        if target != line.reserved_quantity and line.product_id:
            key = (line.product_id, location)
            on_hand, reserved = deltas.get(key, (0, 0))
            deltas[key] = (on_hand, reserved + target - line.reserved_quantity)
            line.reserved_quantity = target
            changed.append(line)
    if changed:
        OrderLine.objects.bulk_update(changed, ["reserved_quantity"])
        apply_stock_deltas(organization=order.organization, deltas=deltas)
    return lines
