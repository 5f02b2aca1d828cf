"""Payments reaching an order: a gateway (Stripe, PayPal, Payme, Click) says it was paid, or refunded.

Both functions are idempotent: a gateway retrying, or two gateways' events
racing, move the order once. They lock the order row, so concurrent calls take
turns and the second sees the first's result.

What they will not do: bring a cancelled or refunded order back to paid (money
for a closed order is an operator's case, reported as "refused"), or move an
order backwards (a payment for an order already shipped changes nothing).
"""

from __future__ import annotations

from typing import Literal

from django.db import transaction

from integrations.events import publish

from ..models import TRACKED_STATUSES, Order, OrderStatus
from .orders import order_event_payload, rebalance_reservations

PaymentOutcome = Literal["changed", "unchanged", "refused"]

PAID_OR_LATER = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED}) | TRACKED_STATUSES
REFUNDABLE = frozenset({OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED,
                        OrderStatus.FULFILLED}) | TRACKED_STATUSES


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("integration", "organization").get(pk=order.pk)


@transaction.atomic
def order_mark_paid(*, order: Order) -> PaymentOutcome:
    """A pending order becomes paid ("changed"); paid or further along: "unchanged"; cancelled/refunded: "refused"."""
    order = _locked(order)
    if order.status in PAID_OR_LATER:
        return "unchanged"
    if order.status != OrderStatus.PENDING:
        return "refused"
    order.status = OrderStatus.PAID
    order.save(update_fields=["status", "updated_at"])
    lines = rebalance_reservations(order=order)
    publish("order.updated", order_event_payload(order, lines), order.organization, order.integration)
    return "changed"


@transaction.atomic
def order_mark_refunded(*, order: Order) -> PaymentOutcome:
    """An open or shipped order becomes refunded, releasing what it holds; refunded already: "unchanged".

    A cancelled order is "refused" (it is final, and holds nothing to release).
    """
    order = _locked(order)
    if order.status == OrderStatus.REFUNDED:
        return "unchanged"
    if order.status not in REFUNDABLE:
        return "refused"
    order.status = OrderStatus.REFUNDED
    order.save(update_fields=["status", "updated_at"])
    lines = rebalance_reservations(order=order)
    publish("order.updated", order_event_payload(order, lines), order.organization, order.integration)
    return "changed"
