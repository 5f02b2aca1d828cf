"""Returns: goods coming back restock through the stock service, once, at the location they belong to.

Two ways in, one function (`return_record`):
- a channel's claim, imported through the resource table (`upsert_returns`, fed by the connector's
  `iter_returns`/`normalize_return`, the same path as orders): the Return is keyed by the channel's claim id and
  each line by the claim item id, so re-importing a claim (every sync re-reads recent claims) restocks only
  items not seen before — a claim item that becomes received later restocks then, once;
- an operator's return (API, admin), optionally with a `reference` that makes a repeated request a no-op.

Where the goods go: the channel location the claim names, through its mapping (ChannelLocation → ERP
location; an unmapped one is refused, never guessed); else the location the operator names; else where the
order's stock was taken from (its stock location, or its channel's mapped location).

A line can return at most what shipped and has not come back yet. When every shipped unit of the order is back,
the order becomes `returned` (stamp and `order.returned`, once, as tracking does); a partial return announces
`order.updated` with a `return` block.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import ValidationError
from integrations.events import publish
from integrations.models import Integration

from ..models import (
    ChannelLocation,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    ReturnSource,
)
from .orders import order_event_payload
from .refs import UpsertResult
from .stock import StockKey, apply_stock_deltas, default_location


def _location(order: Order, integration: Integration | None, channel_location: str, location: str) -> str:
    if channel_location:
        mapped = (ChannelLocation.objects.filter(integration=integration, external_id=channel_location)
                  .values_list("erp_location", flat=True).first())
        if not mapped:
            raise ValidationError(f"The return goes to channel location {channel_location!r}, which maps to no ERP "
                                  "location; map it (channel locations) and import again.",
                                  details={"location_id": [channel_location]}, code="LOCATION_NOT_MAPPED")
        return mapped
    return location or order.stock_location or default_location(order.integration)


def _pick(order_lines: list[OrderLine], wanted: dict[str, Any], index: int) -> OrderLine:
    by_id = {line.pk: line for line in order_lines}
    by_external = {line.external_id: line for line in order_lines}
    by_sku = {line.sku: line for line in order_lines if line.sku}
    line = (by_id.get(wanted.get("line_id")) if wanted.get("line_id") is not None
            else by_external.get(str(wanted.get("order_line_external_id") or ""))
            or by_sku.get(str(wanted.get("sku") or "")))
    if line is None:
        raise ValidationError("A returned line is not on this order.",
                              details={"lines": {str(index): ["no such line"]}})
    return line


@transaction.atomic
def return_record(*, order: Order, lines: list[dict[str, Any]], source: str = ReturnSource.OPERATOR,
                  integration: Integration | None = None, external_id: str = "", reason: str = "",
                  channel_location: str = "", location: str = "",
                  requested_at: datetime | None = None) -> tuple[Return, list[ReturnLine]]:
    """Record a return and restock its new lines; (the Return, the lines restocked now).

    Each line: `line_id` | `order_line_external_id` | `sku`, `quantity`, optional `external_id` (claim item).
    A Return already recorded under `external_id` (per channel, or per organization for an operator's
    reference) gets only its new lines; a line whose `external_id` it already has is skipped. ValidationError,
    changing nothing, for an unknown line, a quantity over what can come back, or an unmapped location.
    """
    order = (Order.objects.select_for_update(of=("self",)).select_related("organization", "integration")
             .get(pk=order.pk))
    if not lines:
        raise ValidationError("A return needs at least one line.", details={"lines": ["empty"]})
    external_id = str(external_id or "").strip()[:255]
    existing = None
    if external_id:
        scope = {"integration": integration} if integration is not None else {
            "organization": order.organization, "integration__isnull": True}
        existing = Return.objects.filter(external_id=external_id, **scope).first()
        if existing is not None and existing.order_id != order.pk:
            raise ValidationError(f"Return {external_id!r} belongs to another order.",
                                  details={"external_id": [external_id]})
        if existing is not None and not any(line.get("external_id") for line in lines):
            return existing, []  # an operator's reference seen before: that return is recorded already
    record = existing or Return(
        organization=order.organization, order=order, integration=integration, source=source,
        external_id=external_id, reason=str(reason or "")[:300], requested_at=requested_at,
        location=_location(order, integration, channel_location, location)[:100])
    known = set(record.lines.exclude(external_id="").values_list("external_id", flat=True)) if existing else set()
    order_lines = list(order.lines.select_for_update().order_by("pk"))
    now, new_lines, errors = timezone.now(), [], {}
    for index, wanted in enumerate(lines):
        key = str(wanted.get("external_id") or "")[:255]
        if key and key in known:
            continue
        if key:
            known.add(key)
        line = _pick(order_lines, wanted, index)
        quantity = wanted.get("quantity")
        room = line.fulfilled_quantity - line.returned_quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= room:
            errors[str(index)] = [
                f"quantity must be between 1 and {room} (shipped and not yet returned)" if room > 0 else
                f"nothing left to return: {line.fulfilled_quantity} shipped, {line.returned_quantity} returned"]
            continue
        line.returned_quantity += quantity
        new_lines.append(ReturnLine(order_line=line, external_id=key, quantity=quantity, restocked_at=now))
    if errors:
        raise ValidationError("Some lines cannot be returned.", details={"lines": errors})
    if not new_lines:
        return record, []
    record.save()
    for row in new_lines:
        row.return_record = record
    ReturnLine.objects.bulk_create(new_lines)
    OrderLine.objects.bulk_update([row.order_line for row in new_lines], ["returned_quantity"])
    deltas: dict[StockKey, tuple[int, int]] = {}
    for row in new_lines:
        if row.order_line.product_id:
            key = (row.order_line.product_id, record.location)
            deltas[key] = (deltas.get(key, (0, 0))[0] + row.quantity, 0)
    apply_stock_deltas(organization=order.organization, deltas=deltas)
    _announce(order, order_lines, record, new_lines)
    return record, new_lines


def _announce(order: Order, order_lines: list[OrderLine], record: Return, new_lines: list[ReturnLine]) -> None:
    from .lifecycle import order_returned

    shipped = sum(line.fulfilled_quantity for line in order_lines)
    back = sum(line.returned_quantity for line in order_lines)
    block = {"id": record.pk, "external_id": record.external_id, "source": record.source,
             "location": record.location, "reason": record.reason,
             "lines": [{"sku": row.order_line.sku, "quantity": row.quantity} for row in new_lines]}
    when = new_lines[0].restocked_at
    if shipped and back >= shipped and order_returned(order=order, at=when, extra={"return": block}):
        return
    payload = order_event_payload(order, order_lines)
    payload["return"] = block
    publish("order.updated", payload, order.organization, order.integration)


# ---------------------------------------------------------------------- the channel's claims (resource table)
@transaction.atomic
def upsert_returns(*, integration: Integration, returns: list[dict[str, Any]]) -> UpsertResult:
    """Write a page of the channel's normalized returns (connectors' `normalize_return` shape).

    Only `received` lines restock; a return whose order is not imported yet fails with reason `unknown_order`
    (the next sync tries again), one the writer refuses fails `invalid`. Created = a return with lines restocked
    for the first time, updated = new lines on a known return, unchanged = nothing new.
    """
    result = UpsertResult()
    for item in returns:
        external_id = str(item.get("external_id") or "")
        order = Order.objects.filter(integration=integration,
                                     external_id=str(item.get("order_external_id") or "")).first()
        if order is None:
            result.fail(external_id, f"order {item.get('order_external_id')!r} is not imported yet",
                        reason="unknown_order")
            continue
        lines = [line for line in item.get("lines") or [] if line.get("received")]
        if not lines:
            result.unchanged += 1
            continue
        known = Return.objects.filter(integration=integration, external_id=external_id).exists()
        try:
            with transaction.atomic():
                _, restocked = return_record(
                    order=order, lines=lines, source=ReturnSource.CHANNEL, integration=integration,
                    external_id=external_id, reason=str(item.get("reason") or ""),
                    channel_location=str(item.get("location_id") or ""), requested_at=item.get("requested_at"))
        except ValidationError as exc:
            result.fail(external_id, f"{exc.message} {exc.details}", reason="invalid")
            continue
        if not restocked:
            result.unchanged += 1
        elif known:
            result.updated += 1
        else:
            result.created += 1
    return result

