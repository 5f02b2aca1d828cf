"""Stock reservations follow imported orders: reserved on import, released on cancel, never twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commerce.models import OrderLine, StockLevel
from commerce.services import order_set_status, upsert_orders

from .conftest import later, simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def level(sku: str) -> StockLevel:
    return StockLevel.objects.get(product__sku=sku)


def test_an_imported_open_order_reserves_its_quantities_once(channel, settings):
    settings.COMMERCE_STOCK_LOCATION = "main"
    record = simple_order("1", sku="MUG", quantity=3, updated_at=T0)

    upsert_orders(integration=channel, orders=[record])
    upsert_orders(integration=channel, orders=[record])  # the same page again
    upsert_orders(integration=channel, orders=[later(record, total=Decimal("30.01"))])  # a change elsewhere

    stock = level("MUG")
    assert (stock.location, stock.reserved, stock.on_hand) == ("main", 3, 0)
    assert OrderLine.objects.get().reserved_quantity == 3


def test_a_cancellation_from_the_channel_releases_its_reservation(channel):
    record = simple_order("1", sku="MUG", quantity=3, updated_at=T0)
    other = simple_order("2", sku="MUG", quantity=2, updated_at=T0)
    upsert_orders(integration=channel, orders=[record, other])
    assert level("MUG").reserved == 5

    upsert_orders(integration=channel, orders=[later(record, status="cancelled", cancelled_at=T0)])
    upsert_orders(integration=channel, orders=[later(record, minutes=9, status="cancelled", cancelled_at=T0)])

    assert level("MUG").reserved == 2  # released once; the other order still holds its 2
    assert OrderLine.objects.get(order__external_id="1").reserved_quantity == 0


def test_a_cancellation_by_hand_releases_its_reservation(channel):
    upsert_orders(integration=channel, orders=[simple_order("1", sku="MUG", quantity=3, updated_at=T0)])
    order = OrderLine.objects.get().order

    order_set_status(order=order, status="cancelled")

    assert level("MUG").reserved == 0
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancelled_at is not None


def test_a_cancelled_order_imported_as_such_reserves_nothing(channel):
    upsert_orders(integration=channel, orders=[simple_order("1", sku="MUG", status="cancelled", updated_at=T0)])
    assert not StockLevel.objects.filter(reserved__gt=0).exists()
    assert OrderLine.objects.get().reserved_quantity == 0


def test_units_the_channel_reports_shipped_leave_on_hand_and_the_reservation(channel):
    record = simple_order("1", sku="MUG", quantity=3, updated_at=T0)
    upsert_orders(integration=channel, orders=[record])
    stock = level("MUG")
    stock.on_hand = 10
    stock.save()

    shipped = later(record, status="partially_fulfilled")
    shipped["lines"][0]["fulfilled_quantity"] = 2
    upsert_orders(integration=channel, orders=[shipped])

    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (8, 1)


def test_a_backfilled_order_already_fulfilled_does_not_touch_stock(channel):
    record = simple_order("1", sku="MUG", quantity=3, status="fulfilled", updated_at=T0)
    record["lines"][0]["fulfilled_quantity"] = 3
    upsert_orders(integration=channel, orders=[record])
    assert not StockLevel.objects.exclude(on_hand=0, reserved=0).exists()


def test_the_channels_stock_location_is_used(channel):
    channel.config = {"stock_location": "warehouse-b"}
    channel.save()
    upsert_orders(integration=channel, orders=[simple_order("1", sku="MUG", quantity=2, updated_at=T0)])
    assert level("MUG").location == "warehouse-b"
