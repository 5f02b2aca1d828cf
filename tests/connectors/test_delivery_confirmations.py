"""A delivered order's channel is told, once per parcel, where it takes it (Shopify: a fulfillment event)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import responses

from commerce.models import Fulfillment, Order, OrderStatus
from commerce.services import order_tracking_record
from syncjobs.labels import delivery_push
from tests.connectors.shopify_support import API, integration, replay  # noqa: F401 (the fixture)
from tests.connectors.support import sent_json

DELIVERED = datetime(2026, 5, 2, 10, 5, tzinfo=UTC)


def delivered_order(integration) -> Order:  # noqa: F811
    order = Order.objects.create(organization=integration.organization, integration=integration,
                                 external_id="450789469", status=OrderStatus.FULFILLED, currency="RON",
                                 total=Decimal("10"), placed_at=DELIVERED)
    Fulfillment.objects.create(organization=order.organization, order=order, carrier="FAN Courier",
                               tracking_number="2347300120337", external_id="255858046", push_status="pushed")
    order_tracking_record(order_id=order.pk, integration=None, tracking_number="2347300120337",
                          events=[{"external_id": "S2", "status": "delivered", "occurred_at": DELIVERED}])
    return order


@responses.activate
def test_shopify_gets_one_delivered_fulfillment_event_per_parcel(integration):  # noqa: F811
    order = delivered_order(integration)
    replay("POST", f"{API}/orders/450789469/fulfillments/255858046/events.json", "fulfillment_events__delivered")

    assert delivery_push(order_id=order.pk) == {"pushed": 1, "failed": 0, "skipped": 0}
    assert delivery_push(order_id=order.pk) == {"pushed": 0, "failed": 0, "skipped": 0}  # once

    assert len(responses.calls) == 1
    assert sent_json(responses.calls[0]) == {"event": {"status": "delivered",
                                                       "happened_at": DELIVERED.isoformat()}}
    assert Fulfillment.objects.get().delivery_pushed_at is not None


@responses.activate
def test_a_refused_confirmation_is_recorded_on_the_fulfillment(integration):  # noqa: F811
    order = delivered_order(integration)
    replay("POST", f"{API}/orders/450789469/fulfillments/255858046/events.json", "errors__404")

    assert delivery_push(order_id=order.pk)["failed"] == 1
    fulfillment = Fulfillment.objects.get()
    assert fulfillment.delivery_pushed_at is None and fulfillment.delivery_push_error
