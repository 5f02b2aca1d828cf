"""Importing orders from channels (syncs and webhook handlers alike), and manual status changes.

`upsert_orders` takes a page of normalized orders (connectors' `normalize_order`
shape) and writes them in a fixed number of statements however long the page
is: claim and lock the ExternalRefs, read the existing orders and lines, upsert
orders (INSERT … ON CONFLICT (integration, external_id) DO UPDATE) and their
lines (ON CONFLICT (order, external_id)), delete lines the channel dropped,
move the stock reservations, write the refs, publish the page's events in one
insert. On PostgreSQL orders and lines are COPYed to temporary stages and
upserted together by one statement (staging.py); elsewhere they go through
`rows.py`. Existing rows are read as values, never as model instances, and
events are built from the written rows. On PostgreSQL a new order's ref is
inserted by the claim already holding the version being written and the id
the order is then inserted with, so a first import writes each ref once.

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

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.errors import ValidationError
from integrations.events import publish, publish_many
from integrations.models import Integration
from integrations.payloads import integration_summary

from ..models import RESERVING_STATUSES, TRACKED_STATUSES, ExternalRef, Order, OrderLine, OrderStatus, ResourceType
from ..statuses import UnknownChannelStatus, allowed_transitions, normalize_status
from .refs import ClaimedRef, UpsertResult, claim_refs, is_older, newest_per_id, payload_hash, save_refs
from .rows import upsert_rows
from .staging import BATCH_COLUMN, Stage, copy_field, copy_row
from .stock import StockKey, apply_stock_deltas, default_location, holds_stock, product_ids_by_sku

logger = logging.getLogger(__name__)

ORDER_UPDATE_FIELDS = [
    "external_number", "name", "status", "channel_status", "currency", "subtotal", "total_discounts", "total_tax",
    "total_shipping", "total", "customer_external_id", "customer_name", "customer_email",
    "customer_accepts_marketing", "shipping_address", "billing_address", "placed_at", "external_updated_at",
    "cancelled_at", "fulfilled_at", "seconds_to_fulfil", "shipped_at", "delivered_at", "returned_at",
    "stock_location", "updated_at",
]
# The stamp each tracked status sets the first time, and the event announced then (lifecycle.py, and the import
# below for channels that report their own tracking: TikTok's DELIVERED, Trendyol's Delivered packages).
MILESTONES: tuple[tuple[str, frozenset[str], str], ...] = (
    ("shipped_at", TRACKED_STATUSES, "order.shipped"),
    ("delivered_at", frozenset({OrderStatus.DELIVERED}), "order.delivered"),
    ("returned_at", frozenset({OrderStatus.RETURNED}), "order.returned"),
)
# How far along a tracked status is: a channel's re-import never takes an order back (delivered stays delivered
# while the channel still says in transit); a failed delivery and a new attempt rank alike.
TRACKED_RANK = {OrderStatus.SHIPPED: 1, OrderStatus.IN_TRANSIT: 2, OrderStatus.DELIVERY_FAILED: 2,
                OrderStatus.DELIVERED: 3, OrderStatus.RETURNED: 4}
LINE_UPDATE_FIELDS = [
    "product", "sku", "title", "quantity", "unit_price", "total", "fulfilled_quantity", "reserved_quantity",
]
ORDER_EVENTS = frozenset({"order.created", "order.updated", *(event for _, _, event in MILESTONES)})
NULL = "\\N"  # COPY text's NULL
MONEY_KEYS = ("subtotal", "total_discounts", "total_tax", "total_shipping", "total")

# What a row is made of: the channel's values (serialised once per record, hashed, and written as those bytes) and
# what the import decides locally (merged status, stock location, stamps, ids). See `_serialise`.
ORDER_CHANNEL_COLUMNS = (
    "external_id", "external_number", "name", "channel_status", "currency", *MONEY_KEYS, "customer_external_id",
    "customer_name", "customer_email", "customer_accepts_marketing", "shipping_address", "billing_address",
    "placed_at", "cancelled_at",
)
ORDER_LOCAL_COLUMNS = (
    "status", "external_updated_at", "organization_id", "integration_id", "stock_location", "created_at",
    "updated_at", "fulfilled_at", "seconds_to_fulfil", "shipped_at", "delivered_at", "returned_at",
)
LINE_CHANNEL_COLUMNS = ("external_id", "sku", "title", "quantity", "unit_price", "total")
LINE_LOCAL_COLUMNS = ("product_id", "fulfilled_quantity", "reserved_quantity", "returned_quantity")
HASH_VERSION = "v2:"  # refs written before it hold a sha256 of the normalized record (refs.payload_hash)
# A staged order also carries its ref's id and new hash: the refs' update reads them from the stage (no arrays of
# 250 values bound into the statement's text).
# A new order's id, when its ref reserved one (claim_refs), is staged too: written with it, the ref needs no update.
ORDER_STAGE = Stage(Order, ORDER_CHANNEL_COLUMNS + ORDER_LOCAL_COLUMNS,
                    extra=[("ref_id", "bigint"), ("ref_hash", "varchar"), ("reserved_id", "bigint")])
# A staged line names its order by external id: the order's id comes from the statement that writes both.
LINE_STAGE = Stage(OrderLine, LINE_CHANNEL_COLUMNS + LINE_LOCAL_COLUMNS, extra=[("order_external_id", "varchar")])


class _Bad(ValueError):
    """A record the import refuses; its message names the field (never a customer's data)."""


# ---------------------------------------------------------------------- parsing
def _money(record: dict[str, Any], key: str, default: Any = None) -> Decimal:
    value = record.get(key, default)
    if type(value) is Decimal:  # already one (most connectors): Decimal(str(value)) is the same value, re-parsed
        amount = value
    elif value is None or isinstance(value, bool | float):
        raise _Bad(f"{key} must be a decimal amount (string or Decimal)" if value is not None else f"{key} is missing")
    else:
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


def _merged_status(incoming: str, lines: list[dict[str, Any]], current: str = "") -> str:
    """The channel's status, raised to (partially_)fulfilled when locally recorded shipments say so; an order the
    courier's tracking already took further (shipped, delivered, returned…) keeps that status while the channel
    still says open or fulfilled (a channel's "cancelled"/"refunded" still wins: money is its word)."""
    if current in TRACKED_STATUSES and (incoming in RESERVING_STATUSES or incoming == OrderStatus.FULFILLED or (
            incoming in TRACKED_STATUSES and TRACKED_RANK[incoming] < TRACKED_RANK[current])):
        return current
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
    """(fulfilled_at, seconds_to_fulfil) once an order in `status` at `when`: stamped the first time it is fulfilled
    (or first seen further along: shipped, delivered…)."""
    if (status == OrderStatus.FULFILLED or status in TRACKED_STATUSES) and fulfilled_at is None:
        return when, max(0, int((when - placed_at).total_seconds()))
    return fulfilled_at, seconds_to_fulfil


def milestone_stamps(status: str, known: dict[str, Any] | None, when: datetime) -> tuple[dict[str, Any], list[str]]:
    """The milestone stamps of an order now in `status` ({field: time}, keeping those `known`), and the events due:
    one per stamp set now for the first time."""
    stamps, events = {}, []
    for field, statuses, event in MILESTONES:
        stamps[field] = (known or {}).get(field)
        if status in statuses and stamps[field] is None:
            stamps[field] = when
            events.append(event)
    return stamps, events


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
_CURRENT_FIELDS = ("pk", "external_id", "external_updated_at", "stock_location", "fulfilled_at", "seconds_to_fulfil",
                   "status", "shipped_at", "delivered_at", "returned_at")


def _current_orders(integration: Integration, external_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{external id: the _CURRENT_FIELDS of its stored order}, read after claim_refs (a snapshot that sees what a
    transaction the claim waited for wrote).

    On PostgreSQL one array parameter, each id looked up in the (integration, external_id) unique index (a lateral
    probe per id: with `= ANY` and the statistics of a table a backfill is filling, the planner scanned all the
    integration's orders instead, a page's cost growing with the table); no ORM (its `__in` of 250 values cost a
    page a millisecond of SQL building) and no ORDER BY (the default ordering's sort)."""
    if connection.vendor != "postgresql":
        return {row["external_id"]: row for row in Order.objects.filter(
            integration=integration, external_id__in=external_ids).order_by().values(*_CURRENT_FIELDS)}
    columns = ", ".join(f"o.{connection.ops.quote_name(Order._meta.get_field(f).column)}"
                        for f in ("id", *_CURRENT_FIELDS[1:]))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM unnest(%s::varchar[]) AS u(external_id) CROSS JOIN LATERAL "  # noqa: S608
                       f"(SELECT * FROM {connection.ops.quote_name(Order._meta.db_table)} AS x "
                       # LIMIT keeps the subquery a probe per id (the planner would flatten it into a hash join)
                       'WHERE x."integration_id" = %s AND x."external_id" = u.external_id LIMIT 1) AS o',
                       [external_ids, integration.pk])
        return {row[1]: dict(zip(_CURRENT_FIELDS, row, strict=True)) for row in cursor.fetchall()}


_LINE_FIELDS = ("id", "order_id", "external_id", "product_id", "fulfilled_quantity", "reserved_quantity")


def _stored_lines(order_ids: list[int]) -> list[tuple]:
    """The _LINE_FIELDS of these orders' lines. On PostgreSQL one array parameter, each order's lines a probe of
    the (order, external_id) unique index: with `IN` and statistics that predate a backfill, the planner scanned
    the whole line table (2.5 ms a page at 22,500 lines, growing with the table)."""
    if connection.vendor != "postgresql":
        return list(OrderLine.objects.filter(order_id__in=order_ids).order_by().values_list(*_LINE_FIELDS))
    columns = ", ".join(f"l.{connection.ops.quote_name(OrderLine._meta.get_field(f).column)}" for f in _LINE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM unnest(%s::bigint[]) AS u(order_id) CROSS JOIN LATERAL "  # noqa: S608
                       f"(SELECT * FROM {connection.ops.quote_name(OrderLine._meta.db_table)} AS x "
                       # OFFSET 0 keeps the subquery a probe per order (see _current_orders)
                       'WHERE x."order_id" = u.order_id OFFSET 0) AS l', [order_ids])
        return cursor.fetchall()


@dataclass(frozen=True, slots=True)
class _OldLine:
    pk: int
    product_id: int | None
    fulfilled_quantity: int
    reserved_quantity: int


@transaction.atomic(savepoint=False)
def upsert_orders(*, integration: Integration, orders: list[dict]) -> UpsertResult:
    """Create or update a page of the channel's orders; see the module docstring for the rules.

    Runs in the caller's transaction, or in one of its own, and never calls a
    provider. A record that cannot be imported is reported in `failed` and
    nothing of it is written; the others are. No savepoint inside a caller's
    transaction (two statements a page): every caller (a sync page, a webhook's
    processing, a re-pull) lets an error end its whole transaction, so a
    savepoint to roll back to alone would never be used.
    """
    result = UpsertResult()
    parsed: list[tuple[str, datetime | None, dict]] = []
    for record in orders:
        try:
            item = _parse_order(integration, record)
        except _Bad as exc:
            result.fail(record.get("external_id") if isinstance(record, dict) else None, str(exc))
            continue
        _serialise(item)
        item["record"] = record
        parsed.append((item["external_id"], item["external_updated_at"], item))
    chosen = newest_per_id(parsed)
    result.unchanged += len(parsed) - len(chosen)  # older duplicates within the page
    if not chosen:
        return result

    # A ref the claim inserts holds this version and a reserved order id already (PostgreSQL): a first import
    # writes each ref once. The rare new ref whose order is not written (an order stored without a ref, newer
    # than the record) is put back as a new ref below.
    refs = claim_refs(integration=integration, resource_type=ResourceType.ORDER, external_ids=list(chosen),
                      versions={i: (updated_at, item["hash"]) for i, (updated_at, item) in chosen.items()},
                      object_model=Order)
    existing = _current_orders(integration, list(chosen))
    touched_refs: list[ClaimedRef] = []
    to_write: list[tuple[dict, ClaimedRef, dict | None]] = []
    for external_id, (updated_at, item) in chosen.items():
        ref, current = refs[external_id], existing.get(external_id)
        known = ref.external_updated_at or (current["external_updated_at"] if current else None)
        if current is not None and is_older(updated_at, known):
            result.unchanged += 1  # an older version: the newer one stays
            if ref.reserved_object_id is not None:
                touched_refs.append(ref)  # inserted holding this version: back to what a new ref holds
        elif current is not None and _same_content(ref.payload_hash, item):
            result.unchanged += 1
            newer = updated_at and (known is None or updated_at > known)
            if newer or ref.payload_hash != item["hash"]:  # a newer time, or a hash of the previous format
                ref.external_updated_at = updated_at if newer else ref.external_updated_at
                ref.object_id, ref.payload_hash = current["pk"], item["hash"]
                touched_refs.append(ref)
        else:
            to_write.append((item, ref, current))
    if to_write and not _write_orders(integration, to_write, result):
        touched_refs.extend(ref for _, ref, _ in to_write)
    save_refs(touched_refs)
    return result


def _serialise(item: dict[str, Any]) -> None:
    """Serialise the channel's values of an order and its lines once (COPY text), and hash those bytes.

    The texts become the rows' first columns on PostgreSQL (staging.py); the
    hash adds what the channel said that the import merges with local facts
    (its status, each line's shipped quantity), so a change in any of them is
    a change, and leaves out `updated_at`, which changes when nothing else did.
    """
    item["text"] = copy_row([item[column] for column in ORDER_CHANNEL_COLUMNS])
    digest = hashlib.sha256(f"{item['text']}\t{item['status']}".encode())
    item["line_texts"] = []
    for line in item["lines"]:
        text = copy_row([line[column] for column in LINE_CHANNEL_COLUMNS])
        item["line_texts"].append(text)
        digest.update(f"\n{text}\t{line['fulfilled_quantity']}".encode())
    item["hash"] = HASH_VERSION + digest.hexdigest()[: 64 - len(HASH_VERSION)]


def _same_content(stored: str, item: dict[str, Any]) -> bool:
    """Whether the ref's hash says this content was written already; a hash from before HASH_VERSION is compared
    the old way, so that upgrading does not make every order look changed (and publish order.updated) once."""
    if stored == item["hash"]:
        return True
    return bool(stored) and not stored.startswith(HASH_VERSION) and stored == payload_hash(item["record"])


def _write_orders(integration: Integration, to_write: list[tuple[dict, ClaimedRef, dict | None]],
                  result: UpsertResult) -> bool:
    """Upsert the orders and their lines, move their stock, publish their events: a fixed number of statements.

    Returns whether their refs' new versions were written too (PostgreSQL: in the orders' statement); if not,
    the caller saves them."""
    organization = integration.organization
    now = timezone.now()
    old_lines: dict[int, dict[str, _OldLine]] = {}
    current_pks = [current["pk"] for _, _, current in to_write if current is not None]
    if current_pks:
        for pk, order_id, external_id, *figures in _stored_lines(current_pks):
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
    milestones: list[list[str]] = []  # per row: order.shipped/delivered/returned due (updates only: see below)
    for item, _, current in to_write:
        previous = old_lines.get(current["pk"], {}) if current else {}
        for line in item["lines"]:
            old = previous.get(line["external_id"])
            if old is not None:
                line["fulfilled_quantity"] = min(line["quantity"], max(line["fulfilled_quantity"],
                                                                        old.fulfilled_quantity))
        status = _merged_status(item["status"], item["lines"], current["status"] if current else "")
        row = {k: v for k, v in item.items() if k not in ("lines", "hash", "text", "line_texts", "record")}
        row.update(
            organization_id=organization.pk, integration_id=integration.pk, status=status,
            stock_location=current["stock_location"] if current and current["stock_location"] else location,
            created_at=now, updated_at=now,
        )
        row["fulfilled_at"], row["seconds_to_fulfil"] = fulfilled_stamp(
            status, item["placed_at"], item["external_updated_at"] or now,
            current["fulfilled_at"] if current else None, current["seconds_to_fulfil"] if current else None,
        )
        stamps, due = milestone_stamps(status, current, item["external_updated_at"] or now)
        row.update(stamps)
        # A first import (a backfill of last year's delivered orders) says so in order.created, not in a burst of
        # order.shipped/delivered; a later import that moves the order announces each milestone once.
        milestones.append(due if current is not None else [])
        rows.append(row)
    deltas: dict[StockKey, list[int]] = {}

    def move(product_id: int | None, location: str, on_hand: int = 0, reserved: int = 0) -> None:
        if product_id is not None and (on_hand or reserved):
            entry = deltas.setdefault((product_id, location), [0, 0])
            entry[0] += on_hand
            entry[1] += reserved

    # The lines are decided before the orders are written: a line names its order by external id, so that on
    # PostgreSQL orders and lines go in one statement (a new order's id comes from the order's insert).
    new_lines: list[dict[str, Any]] = []
    removed: list[int] = []
    for row, (item, _ref, current) in zip(rows, to_write, strict=True):
        previous = old_lines.get(current["pk"], {}) if current else {}
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
            new_lines.append({"order": row["external_id"], "product_id": product_id,
                              "external_id": line["external_id"], "sku": line["sku"], "title": line["title"],
                              "quantity": line["quantity"], "unit_price": line["unit_price"], "total": line["total"],
                              "fulfilled_quantity": line["fulfilled_quantity"], "reserved_quantity": reserved,
                              "returned_quantity": 0})  # inserts only: an update keeps what came back
        for gone in previous.values():
            move(gone.product_id, where, reserved=-gone.reserved_quantity)
            removed.append(gone.pk)
    staged = connection.vendor == "postgresql"
    if staged:
        pks = _stage_orders_and_lines(rows, to_write, new_lines)
    else:
        pks = dict(upsert_rows(Order, rows, unique=["integration_id", "external_id"], update=ORDER_UPDATE_FIELDS,
                               returning=["external_id", "id"]))
        for line in new_lines:
            line["order_id"] = pks[line.pop("order")]
        upsert_rows(OrderLine, new_lines, unique=["order_id", "external_id"], update=LINE_UPDATE_FIELDS)
    for row, (item, ref, _current) in zip(rows, to_write, strict=True):
        row["id"] = pks[row["external_id"]]
        ref.object_id, ref.external_updated_at, ref.payload_hash = row["id"], row["external_updated_at"], item["hash"]
    if removed:  # after the orders' upsert: an order's row is locked before its lines, as everywhere else
        OrderLine.objects.filter(pk__in=removed).delete()
    apply_stock_deltas(organization=organization, deltas={k: (v[0], v[1]) for k, v in deltas.items()})

    for _, _, current in to_write:
        if current is None:
            result.created += 1
        else:
            result.updated += 1
    # One endpoint query and one insert for the page; the payloads are built only if some endpoint listens, and
    # then from the rows (no model instance per order and line: that was a tenth of a page's Python time).
    summary = integration_summary(integration)
    publish_many(
        (
            (event, _row_event_payload(row, item["lines"], summary))
            for row, (item, _, current), due in zip(rows, to_write, milestones, strict=True)
            for event in ("order.created" if current is None else "order.updated", *due)
        ),
        organization,
        integration,
        event_types=ORDER_EVENTS,
    )
    return staged


def _assignments(model: type[Order] | type[OrderLine], fields: list[str]) -> str:
    """`"col" = EXCLUDED."col", …` for these fields of the model (checked names, quoted)."""
    columns = [connection.ops.quote_name(model._meta.get_field(f).column) for f in fields]
    return ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)


def _stage_orders_and_lines(rows: list[dict[str, Any]], to_write: list[tuple[dict, ClaimedRef, dict | None]],
                            lines: list[dict[str, Any]]) -> dict[str, int]:
    """PostgreSQL: COPY the orders and their lines (each its channel text, then what the import decided), then
    upsert both and write the orders' refs in one statement, the lines and refs taking their order's id from the
    order's insert; {external id: order id}.

    Each staged order carries its ref's id and new hash; the refs are found by primary key from the stage (a probe
    per staged row, whatever the statistics of a table a backfill is filling say); claim_refs locked them, so
    nothing else writes them meanwhile."""
    unstaged = set(rows[0]) - set(ORDER_STAGE.columns)
    if unstaged:  # a field added to the import but not to the stage would silently not be written
        raise RuntimeError(f"Order columns missing from ORDER_CHANNEL_COLUMNS/ORDER_LOCAL_COLUMNS: {sorted(unstaged)}")
    order_batch = ORDER_STAGE.copy([
        f"{item['text']}\t{copy_row([row[column] for column in ORDER_LOCAL_COLUMNS])}\t{ref.id}\t{item['hash']}\t"
        f"{ref.reserved_object_id if current is None and ref.reserved_object_id is not None else NULL}"
        for row, (item, ref, current) in zip(rows, to_write, strict=True)
    ])
    texts = [text for item, _, _ in to_write for text in item["line_texts"]]
    line_batch = LINE_STAGE.copy([
        f"{text}\t{copy_row([line[column] for column in LINE_LOCAL_COLUMNS])}\t{copy_field(line['order'])}"
        for line, text in zip(lines, texts, strict=True)
    ]) if lines else 0
    quote = connection.ops.quote_name
    orders, order_lines = quote(Order._meta.db_table), quote(OrderLine._meta.db_table)
    # Identifiers are the models' own and the stages' (checked names, quoted); the batches are integers.
    staged_orders = ", ".join(f"s.{column}" for column in ORDER_STAGE.target_columns.split(", "))
    sql = (f'WITH written AS (INSERT INTO {orders} ("id", {ORDER_STAGE.target_columns}) '  # noqa: S608
           f"SELECT COALESCE(s.\"reserved_id\", nextval((SELECT pg_get_serial_sequence('{orders}', 'id'))::regclass)), "
           f"{staged_orders} FROM {quote(ORDER_STAGE.table)} AS s WHERE s.{quote(BATCH_COLUMN)} = {int(order_batch)} "
           'ON CONFLICT ("integration_id", "external_id") '
           f'DO UPDATE SET {_assignments(Order, ORDER_UPDATE_FIELDS)} '
           'RETURNING "external_id", "id", xmax = 0 AS inserted), '
           # The order ids as one jsonb object, built once and looked up per line and per ref: the planner, with no
           # statistics for the stages or the CTE, nested-looped a join instead (rows × orders comparisons). The
           # orders this statement inserted have no lines yet: theirs are inserted without ON CONFLICT (no
           # speculative insertion, no arbiter check per line); the others' go through it.
           "ids AS (SELECT jsonb_object_agg(external_id, id) AS map, "
           "jsonb_object_agg(external_id, id) FILTER (WHERE inserted) AS new, "
           "jsonb_object_agg(external_id, id) FILTER (WHERE NOT inserted) AS old FROM written)")
    if lines:
        staged = ", ".join(f"s.{column}" for column in LINE_STAGE.target_columns.split(", "))
        for name, orders_of, conflict in (
                ("new_lines", "new", ""),
                ("old_lines", "old", 'ON CONFLICT ("order_id", "external_id") '
                                     f"DO UPDATE SET {_assignments(OrderLine, LINE_UPDATE_FIELDS)}")):
            sql += (f', {name} AS (INSERT INTO {order_lines} ({LINE_STAGE.target_columns}, "order_id") '  # noqa: S608
                    f'SELECT {staged}, ((SELECT {orders_of} FROM ids) ->> s."order_external_id")::bigint '
                    f"FROM {quote(LINE_STAGE.table)} AS s WHERE s.{quote(BATCH_COLUMN)} = {int(line_batch)} "
                    f'AND (SELECT {orders_of} FROM ids) ? s."order_external_id" {conflict})')
    # A ref that already holds what it would be set to (inserted by the claim with this version and the order's
    # reserved id) is left alone: no second version of the row, no second foreign-key check at commit.
    sql += (f', refs AS (UPDATE {quote(ExternalRef._meta.db_table)} AS r '  # noqa: S608
            'SET "object_id" = u.object_id, "external_updated_at" = u.updated, "payload_hash" = u.hash, '
            '"updated_at" = %s FROM (SELECT s."ref_id", ((SELECT map FROM ids) ->> s."external_id")::bigint '
            'AS object_id, s."external_updated_at" AS updated, s."ref_hash" AS hash '
            f"FROM {quote(ORDER_STAGE.table)} AS s WHERE s.{quote(BATCH_COLUMN)} = {int(order_batch)}) AS u "
            'WHERE r."id" = u.ref_id AND (r."object_id", r."external_updated_at", r."payload_hash") '
            "IS DISTINCT FROM (u.object_id, u.updated, u.hash)) "
            'SELECT "external_id", "id" FROM written')
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now()])
        return dict(cursor.fetchall())


def _row_event_payload(row: dict[str, Any], lines: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """What order_event_payload says of a written row and its lines, built from the dicts (no query, no models)."""
    return {
        "order": {
            "id": row["id"], "integration": summary, "external_id": row["external_id"],
            "external_number": row["external_number"], "status": row["status"], "currency": row["currency"],
            "total": row["total"], "placed_at": row["placed_at"],
            "lines": [{"sku": line["sku"], "quantity": line["quantity"],
                       "fulfilled_quantity": line["fulfilled_quantity"], "unit_price": line["unit_price"]}
                      for line in lines],
        }
    }


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
    if status in TRACKED_STATUSES:  # as a courier's event would: stamps and order.shipped/delivered, once
        from .lifecycle import order_mark_tracked

        return order_mark_tracked(order=order, status=status)
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
