"""Fulfilling orders: record the shipment, move the stock, tell subscribers, and queue the tracking push.

`fulfill` works inside one transaction under the order's row lock, so two
operators fulfilling the same order at once cannot ship a line twice: the
second sees what the first shipped. The Fulfillment row is the outbox of the
push to the channel: the pipeline layer (`syncjobs.pushes`) sends it after
commit, in a task, outside any transaction, and records its outcome (pushed,
or the provider's error) here, where the admin and the API show it.

A push is claimed before it is sent (pending → pushing, with a claim time), so a
duplicated task message sends nothing twice; a claim older than
PUSH_CLAIM_TIMEOUT (a worker died mid-push) may be taken again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.errors import ApplicationError, NotFound, ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.events import publish

from ..models import (
    RESERVING_STATUSES,
    Fulfillment,
    FulfillmentLine,
    Order,
    OrderLine,
    OrderStatus,
    PushStatus,
)
from ..outbox import fulfillment_push_nudge
from .orders import fulfilment_time, order_event_payload
from .stock import StockKey, apply_stock_deltas, default_location, holds_stock

PUSH_CLAIM_TIMEOUT = timedelta(minutes=10)


def _pick_lines(order_lines: list[OrderLine], lines: list[dict[str, Any]] | None) -> list[tuple[OrderLine, int]]:
    """[(line, quantity to ship)], checked against what is still open; ValidationError naming the bad entry."""
    if lines is None:
        picked = [(line, line.open_quantity) for line in order_lines if line.open_quantity > 0]
        if not picked:
            raise ValidationError("The order has nothing left to fulfil.", details={"lines": ["nothing open"]})
        return picked
    if not lines:
        raise ValidationError("Name at least one line, or leave lines out to ship everything open.",
                              details={"lines": ["empty"]})
    by_id = {line.pk: line for line in order_lines}
    by_sku = {line.sku: line for line in order_lines if line.sku}
    picked, seen, errors = [], set(), {}
    for index, wanted in enumerate(lines):
        line = by_id.get(wanted.get("line_id")) if wanted.get("line_id") is not None else by_sku.get(
            wanted.get("sku") or "")
        if line is None:
            errors[str(index)] = ["no such line on this order"]
            continue
        if line.pk in seen:
            errors[str(index)] = ["line named twice"]
            continue
        seen.add(line.pk)
        quantity = wanted.get("quantity", line.open_quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= line.open_quantity:
            errors[str(index)] = [f"quantity must be between 1 and {line.open_quantity} (still open)"]
            continue
        picked.append((line, quantity))
    if errors:
        raise ValidationError("Some lines cannot be fulfilled.", details={"lines": errors})
    return picked


def _takes_fulfillments(order: Order) -> bool:
    integration = order.integration
    return (integration is not None and bool(order.external_id) and registry.is_registered(integration.provider)
            and registry.supports(integration.provider, Capability.FULFILLMENTS))


@transaction.atomic
def fulfill(
    *,
    order: Order,
    tracking_number: str,
    carrier: str,
    carrier_code: str = "",
    lines: list[dict[str, Any]] | None = None,
    courier: Any = None,
) -> Fulfillment:
    """Ship `lines` of the order (each `{"line_id" or "sku", "quantity"?}`; None = everything open) with tracking.

    Consumes the shipped units (on_hand and the order's reservation go down),
    moves the order to partially_fulfilled or fulfilled, publishes
    order.fulfilled, and queues the push of the tracking number to the order's
    channel after commit. Raises ValidationError, changing nothing, for a
    cancelled/refunded/fulfilled order, blank tracking, or lines that are not
    open on this order. `courier`: the courier Integration that booked it (its label is fetched from there).
    """
    tracking_number, carrier = (tracking_number or "").strip(), (carrier or "").strip()
    missing = {name: ["required"] for name, value in (("tracking_number", tracking_number), ("carrier", carrier))
               if not value}
    if missing:
        raise ValidationError("A fulfillment needs a tracking number and a carrier.", details=missing)
    order = Order.objects.select_for_update(of=("self",)).select_related("integration", "organization").get(
        pk=order.pk)
    if order.status not in RESERVING_STATUSES:
        raise ValidationError(f"An order that is {order.status} cannot be fulfilled.",
                              details={"status": [order.status]}, code="ORDER_NOT_FULFILLABLE")
    order_lines = list(order.lines.select_for_update().order_by("pk"))
    picked = _pick_lines(order_lines, lines)

    fulfillment = Fulfillment.objects.create(
        organization=order.organization, order=order, carrier=carrier[:100], carrier_code=(carrier_code or "")[:64],
        tracking_number=tracking_number[:100], courier=courier,
        push_status=PushStatus.PENDING if _takes_fulfillments(order) else PushStatus.NOT_REQUIRED,
    )
    FulfillmentLine.objects.bulk_create(
        [FulfillmentLine(fulfillment=fulfillment, order_line=line, quantity=q) for line, q in picked]
    )
    location = order.stock_location or default_location(order.integration)
    consumes = holds_stock(order.integration)  # a channel that is its own stock source counts the shipment itself
    deltas: dict[StockKey, tuple[int, int]] = {}
    for line, quantity in picked:
        line.fulfilled_quantity += quantity
        release = line.reserved_quantity - min(line.reserved_quantity, line.open_quantity)
        line.reserved_quantity -= release
        if line.product_id:
            on_hand, reserved = deltas.get((line.product_id, location), (0, 0))
            deltas[(line.product_id, location)] = (on_hand - (quantity if consumes else 0), reserved - release)
    OrderLine.objects.bulk_update([line for line, _ in picked], ["fulfilled_quantity", "reserved_quantity"])
    apply_stock_deltas(organization=order.organization, deltas=deltas)

    now = timezone.now()
    done = all(line.open_quantity == 0 for line in order_lines)
    order.status = OrderStatus.FULFILLED if done else OrderStatus.PARTIALLY_FULFILLED
    fulfilment_time(order, order.status, now)
    order.save(update_fields=["status", "fulfilled_at", "seconds_to_fulfil", "updated_at"])

    payload = order_event_payload(order, order_lines)
    payload["fulfillment"] = {
        "id": fulfillment.pk, "carrier": fulfillment.carrier, "carrier_code": fulfillment.carrier_code,
        "tracking_number": fulfillment.tracking_number,
        "lines": [{"sku": line.sku, "quantity": q} for line, q in picked],
    }
    publish("order.fulfilled", payload, order.organization, order.integration)
    if fulfillment.push_status == PushStatus.PENDING:
        fulfillment_push_nudge(fulfillment.pk)
    return fulfillment


@dataclass
class BulkFulfillResult:
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fulfilled(self) -> int:
        return sum(1 for r in self.results if r["ok"])


def bulk_fulfill(*, organization, items: list[dict[str, Any]]) -> BulkFulfillResult:
    """Fulfil several orders, each in its own transaction: one bad item is reported and does not sink the others.

    Each item: `order_id`, `tracking_number`, `carrier`, optional `carrier_code` and `lines`.
    """
    from ..selectors import order_get

    outcome = BulkFulfillResult()
    for item in items:
        try:
            order = order_get(organization=organization, order_id=item.get("order_id"))
            fulfillment = fulfill(order=order, tracking_number=item.get("tracking_number", ""),
                                  carrier=item.get("carrier", ""), carrier_code=item.get("carrier_code", ""),
                                  lines=item.get("lines"))
        except ApplicationError as exc:
            outcome.results.append({"order_id": item.get("order_id"), "ok": False,
                                    "error": {"code": exc.code, "message": exc.message, "details": exc.details}})
        else:
            outcome.results.append({"order_id": order.pk, "ok": True, "fulfillment_id": fulfillment.pk,
                                    "status": order.status})
    return outcome


# ---------------------------------------------------------------------- the push (the outbox side)
def fulfillment_push_claim(*, fulfillment_id: int) -> tuple[Fulfillment, bool]:
    """Take one fulfillment's push for this worker (pending → pushing, counting an attempt); a claim older than
    PUSH_CLAIM_TIMEOUT may be taken again. Returns the row (with its order and channel) and whether this worker
    holds it: pushed already, or held by another worker, is False. NotFound when there is no such row."""
    now = timezone.now()
    claimed = Fulfillment.objects.filter(pk=fulfillment_id).filter(
        Q(push_status=PushStatus.PENDING)
        | Q(push_status=PushStatus.PUSHING, push_claimed_at__lt=now - PUSH_CLAIM_TIMEOUT)
    ).update(push_status=PushStatus.PUSHING, push_claimed_at=now, push_attempts=F("push_attempts") + 1)
    fulfillment = Fulfillment.objects.select_related("order__integration").filter(pk=fulfillment_id).first()
    if fulfillment is None:
        raise NotFound("Fulfillment not found.", details={"id": fulfillment_id})
    return fulfillment, bool(claimed)


def fulfillment_push_body(fulfillment: Fulfillment) -> dict[str, Any]:
    """What a channel's `push_fulfillment` is handed: the order's channel id, the shipped lines, the tracking."""
    return {
        "order_id": fulfillment.order.external_id,
        "lines": [{"line_item_id": fl.order_line.external_id, "sku": fl.order_line.sku, "quantity": fl.quantity}
                  for fl in fulfillment.lines.select_related("order_line")],
        "tracking_number": fulfillment.tracking_number,
        "carrier": fulfillment.carrier,
        "carrier_code": fulfillment.carrier_code,
        "notify_customer": False,
    }


def fulfillment_push_succeeded(*, fulfillment: Fulfillment, answer: dict[str, Any] | None) -> str:
    Fulfillment.objects.filter(pk=fulfillment.pk).update(
        push_status=PushStatus.PUSHED, pushed_at=timezone.now(), push_error="",
        external_id=str((answer or {}).get("external_id") or "")[:255], updated_at=timezone.now(),
    )
    return PushStatus.PUSHED


def fulfillment_push_failed(*, fulfillment: Fulfillment, error: str, retry: bool) -> str:
    """Record a failed push with the provider's error: pending again when the caller retries, else failed."""
    status = PushStatus.PENDING if retry else PushStatus.FAILED
    Fulfillment.objects.filter(pk=fulfillment.pk).update(push_status=status, push_error=error[:2000],
                                                         updated_at=timezone.now())
    return status


def fulfillment_retry_push(*, fulfillment: Fulfillment) -> Fulfillment:
    """Queue a failed push again (admin action, API): back to pending, then the task after commit."""
    if fulfillment.push_status != PushStatus.FAILED:
        raise ValidationError("Only a failed push can be retried.", details={"push_status": [fulfillment.push_status]})
    with transaction.atomic():
        Fulfillment.objects.filter(pk=fulfillment.pk, push_status=PushStatus.FAILED).update(
            push_status=PushStatus.PENDING, updated_at=timezone.now())
        fulfillment_push_nudge(fulfillment.pk)
    fulfillment.refresh_from_db()
    return fulfillment
