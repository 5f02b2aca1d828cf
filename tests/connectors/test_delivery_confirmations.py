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


@responses.activate
def test_a_throttled_confirmation_is_recorded_and_raised_for_the_task_to_retry(integration, sleeps):  # noqa: F811
    import pytest

    from connectors.errors import is_transient

    order = delivered_order(integration)
    url = f"{API}/orders/450789469/fulfillments/255858046/events.json"
    responses.add("POST", url, status=429, headers={"Retry-After": "1"}, json={"errors": "Exceeded 2 calls/s"})
    with pytest.raises(Exception) as raised:
        delivery_push(order_id=order.pk)
    assert is_transient(raised.value)
    refused = Fulfillment.objects.get()
    assert refused.delivery_push_error.startswith(f"{raised.value.code}:") and refused.delivery_pushed_at is None
    assert refused.delivery_push_attempted_at is not None

    responses.replace("POST", url, status=201, json={"fulfillment_event": {"id": 1, "status": "delivered"}})
    assert delivery_push(order_id=order.pk)["pushed"] == 1  # the retry
    assert Fulfillment.objects.get().delivery_pushed_at is not None


def test_a_lost_confirmation_nudge_is_swept_once_and_only_for_parcels_never_asked_about(integration,  # noqa: F811
                                                                                         monkeypatch):
    import time_machine

    from syncjobs import labels

    order = delivered_order(integration)  # delivered 2026-05-02 10:05; its nudge was lost
    nudged = []
    monkeypatch.setattr(labels, "delivery_push_nudge", nudged.append)
    with time_machine.travel(datetime(2026, 5, 2, 10, 10, tzinfo=UTC)):
        assert labels.delivery_pushes_sweep() == []  # the nudge may still be on its way
    with time_machine.travel(datetime(2026, 5, 2, 10, 30, tzinfo=UTC)):
        assert labels.delivery_pushes_sweep() == [order.pk]
        Fulfillment.objects.update(delivery_push_attempted_at=datetime(2026, 5, 2, 10, 30, tzinfo=UTC))
        assert labels.delivery_pushes_sweep() == []  # asked once (skipped or refused): an operator's now
    Fulfillment.objects.update(delivery_push_attempted_at=None)
    with time_machine.travel(datetime(2026, 5, 20, tzinfo=UTC)):
        assert labels.delivery_pushes_sweep() == []  # too old to tell the channel
    assert nudged == [order.pk]
