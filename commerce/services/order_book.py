"""The order book that payment and shipping connectors act through (the port `connectors.payments.OrderBook`).

Connectors sit below commerce, so they cannot import its rows or services; this
module implements their port over Order and the payment services, and
`CommerceConfig.ready` installs it. It hands out plain values (`OrderFacts`),
translating commerce's statuses into the four standings payments reason about,
and every change goes through `order_mark_paid` / `order_mark_refunded`, so an
order paid by a gateway is the same event, reservation and lock as any other.
A courier's tracking events go through `order_tracking_record` (lifecycle.py)
the same way.
"""

from __future__ import annotations

from typing import Any

from connectors.payments import OrderFacts, OrderStanding, PaymentOutcome
from integrations.events import publish

from ..models import TRACKED_STATUSES, Order, OrderStatus
from .lifecycle import order_tracking_record
from .orders import order_event_payload
from .payments import order_mark_paid, order_mark_refunded

STANDINGS: dict[str, OrderStanding] = {
    OrderStatus.PENDING: "pending",
    OrderStatus.PAID: "paid",
    OrderStatus.PARTIALLY_FULFILLED: "shipped",
    OrderStatus.FULFILLED: "shipped",
    OrderStatus.CANCELLED: "closed",
    OrderStatus.REFUNDED: "closed",
    **{status: "shipped" for status in TRACKED_STATUSES},
}
_FACTS = ("pk", "status", "total", "currency")


def _facts(pk: int, status: str, total: Any, currency: str) -> OrderFacts:
    return OrderFacts(id=pk, standing=STANDINGS[status], total=total, currency=currency)


class CommerceOrderBook:
    """`connectors.payments.OrderBook` over commerce's Order rows, scoped to the caller's organization."""

    def order_find(self, *, organization_id: int, channel: str, pk: int | None = None,
                   external_number: str | None = None) -> list[OrderFacts]:
        orders = Order.objects.filter(organization_id=organization_id)
        if channel:
            orders = orders.filter(integration__code=channel)
        if pk is not None:
            orders = orders.filter(pk=pk)
        if external_number is not None:
            orders = orders.filter(external_number=external_number)
        return [_facts(*row) for row in orders.values_list(*_FACTS)[:2]]

    def order_get(self, *, organization_id: int, order_id: Any, lock: bool = False) -> OrderFacts | None:
        if order_id is None:
            return None
        orders = Order.objects.filter(pk=order_id, organization_id=organization_id)
        if lock:
            orders = orders.select_for_update(of=("self",))
        row = orders.values_list(*_FACTS).first()
        return None if row is None else _facts(*row)

    def order_mark_paid(self, *, order_id: int) -> PaymentOutcome:
        return order_mark_paid(order=Order(pk=order_id))

    def order_mark_refunded(self, *, order_id: int) -> PaymentOutcome:
        return order_mark_refunded(order=Order(pk=order_id))

    def order_updated_publish(self, *, order_id: int, extra: dict[str, Any]) -> None:
        order = Order.objects.select_related("organization", "integration").get(pk=order_id)
        payload = order_event_payload(order, list(order.lines.all()))
        payload.update(extra)
        publish("order.updated", payload, order.organization, order.integration)

    def order_tracking_record(self, *, order_id: int, integration_id: int, tracking_number: str,
                              events: list[dict[str, Any]]) -> dict[str, Any]:
        from integrations.models import Integration

        integration = Integration.objects.get(pk=integration_id)
        return order_tracking_record(order_id=order_id, integration=integration, tracking_number=tracking_number,
                                     events=events).as_dict()
