"""fulfill(), the tracking push to the channel, bulk fulfil and auto-fulfil rules (with a fake courier)."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from commerce.models import AutoFulfillRule, Fulfillment, Order, OrderStatus, PushStatus, StockLevel
from commerce.services import upsert_orders
from commerce.services.fulfillment import fulfill
from config.errors import ValidationError
from syncjobs.autofulfill import auto_fulfill
from syncjobs.tasks import push_fulfillment

from .conftest import events, simple_order
from .fakes import FakeChannel, FakeCourier, ProviderError, ProviderUnavailable

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def imported(channel, external_id="1", quantity=2, **kwargs) -> Order:
    upsert_orders(integration=channel, orders=[simple_order(external_id, quantity=quantity, updated_at=T0, **kwargs)])
    return Order.objects.get(integration=channel, external_id=external_id)


def stock(org, sku="SKU-1", on_hand=10):
    level = StockLevel.objects.get(product__sku=sku)
    level.on_hand = on_hand
    level.save()
    return level


def test_fulfil_records_the_shipment_consumes_stock_publishes_and_queues_the_push(
        org, fake_channel, endpoint, django_capture_on_commit_callbacks):
    order = imported(fake_channel, quantity=2)
    stock(org, on_hand=10)
    with mock.patch.object(push_fulfillment, "apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            fulfillment = fulfill(order=order, tracking_number=" FC1 ", carrier="Fan", carrier_code="fan-std")

    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED and order.fulfilled_at is not None
    assert (fulfillment.tracking_number, fulfillment.push_status) == ("FC1", PushStatus.PENDING)
    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (8, 0)
    queued.assert_called_once()
    assert queued.call_args.args[0] == (fulfillment.pk,)
    [event] = events(org, "order.fulfilled")
    assert event["fulfillment"]["tracking_number"] == "FC1" and event["order"]["status"] == "fulfilled"
    assert "customer" not in event["order"]


def test_the_push_sends_the_tracking_and_records_success_once(fake_channel):
    order = imported(fake_channel)
    with mock.patch.object(push_fulfillment, "apply_async"):
        fulfillment = fulfill(order=order, tracking_number="FC1", carrier="Fan")

    push_fulfillment(fulfillment.pk)
    push_fulfillment(fulfillment.pk)  # a duplicated message sends nothing twice

    fulfillment.refresh_from_db()
    assert fulfillment.push_status == PushStatus.PUSHED and fulfillment.external_id == "F-1"
    assert fulfillment.pushed_at is not None and fulfillment.push_error == ""
    [sent] = FakeChannel.fulfillment_calls
    assert sent["order_id"] == "1" and sent["tracking_number"] == "FC1"
    assert sent["lines"] == [{"line_item_id": "1-1", "sku": "SKU-1", "quantity": 2}]


def test_the_providers_error_is_recorded_on_the_fulfillment(fake_channel):
    order = imported(fake_channel)
    with mock.patch.object(push_fulfillment, "apply_async"):
        fulfillment = fulfill(order=order, tracking_number="FC1", carrier="Fan")
    FakeChannel.fail_with = ProviderError("Order 1 has nothing left to fulfil.", status_code=422)

    push_fulfillment(fulfillment.pk)

    fulfillment.refresh_from_db()
    assert fulfillment.push_status == PushStatus.FAILED
    assert "nothing left to fulfil" in fulfillment.push_error and fulfillment.push_attempts == 1


def test_a_transient_push_error_goes_back_to_pending_and_is_retried(fake_channel):
    order = imported(fake_channel)
    with mock.patch.object(push_fulfillment, "apply_async"):
        fulfillment = fulfill(order=order, tracking_number="FC1", carrier="Fan")
    FakeChannel.fail_with = ProviderUnavailable("down", status_code=503)
    with mock.patch.object(push_fulfillment, "retry", side_effect=RuntimeError("retrying")):
        with pytest.raises(RuntimeError):
            push_fulfillment(fulfillment.pk)
    fulfillment.refresh_from_db()
    assert fulfillment.push_status == PushStatus.PENDING and "down" in fulfillment.push_error


def test_partial_fulfilment_and_bad_lines(org, fake_channel):
    order = imported(fake_channel, quantity=3)
    line = order.lines.get()
    with mock.patch.object(push_fulfillment, "apply_async"):
        fulfill(order=order, tracking_number="A", carrier="Fan", lines=[{"line_id": line.pk, "quantity": 1}])
        order.refresh_from_db()
        assert order.status == OrderStatus.PARTIALLY_FULFILLED
        with pytest.raises(ValidationError) as error:
            fulfill(order=order, tracking_number="B", carrier="Fan", lines=[{"line_id": line.pk, "quantity": 3}])
        assert "lines" in error.value.details
        with pytest.raises(ValidationError):
            fulfill(order=order, tracking_number="", carrier="Fan")
    assert Fulfillment.objects.count() == 1
    line.refresh_from_db()
    assert line.fulfilled_quantity == 1 and line.reserved_quantity == 2


def test_a_cancelled_order_cannot_be_fulfilled(fake_channel):
    order = imported(fake_channel, status="cancelled")
    with pytest.raises(ValidationError) as error:
        fulfill(order=order, tracking_number="A", carrier="Fan")
    assert error.value.code == "ORDER_NOT_FULFILLABLE"


# ---------------------------------------------------------------------- auto-fulfil
def rule(org, courier, **kwargs) -> AutoFulfillRule:
    return AutoFulfillRule.objects.create(organization=org, name="RO by Fake", courier=courier,
                                          carrier_code="std", **kwargs)


def test_auto_fulfil_ships_matching_orders_with_the_couriers_tracking(org, fake_channel, courier):
    rule(org, courier, channel=fake_channel, destination_countries=["RO"])
    ro = imported(fake_channel, "1", country="RO")
    bg = imported(fake_channel, "2", country="BG")
    pending = imported(fake_channel, "3", status="pending")
    stock(org, on_hand=10)

    with mock.patch.object(push_fulfillment, "apply_async"):
        outcome = auto_fulfill(organization=org)

    assert outcome["fulfilled"] == 1 and outcome["skipped"] == 2
    assert [r["order_id"] for r in outcome["results"]] == [ro.pk]
    fulfillment = Fulfillment.objects.get()
    assert fulfillment.order == ro and fulfillment.tracking_number == "FC000000001RO"
    assert (fulfillment.carrier, fulfillment.carrier_code) == ("Fake Courier", "std")
    assert FakeCourier.booked[0]["lines"] == [{"sku": "SKU-1", "quantity": 2}]
    for order in (bg, pending):
        order.refresh_from_db()
        assert order.status != OrderStatus.FULFILLED


def test_auto_fulfil_needs_every_line_in_stock(org, fake_channel, courier):
    rule(org, courier)
    imported(fake_channel, "1", quantity=2)
    stock(org, on_hand=1)  # 1 on hand, 2 reserved by the order: not enough
    outcome = auto_fulfill(organization=org)
    assert outcome["fulfilled"] == 0 and outcome["skipped"] == 1 and not FakeCourier.booked


def test_a_courier_refusal_is_reported_and_the_other_orders_ship(org, fake_channel, courier):
    rule(org, courier)
    FakeCourier.refuse_country = "BG"
    imported(fake_channel, "1", country="BG")
    imported(fake_channel, "2", country="RO")
    stock(org, on_hand=10)
    with mock.patch.object(push_fulfillment, "apply_async"):
        outcome = auto_fulfill(organization=org)
    assert outcome["fulfilled"] == 1 and outcome["failed"] == 1
    failed = next(r for r in outcome["results"] if not r["ok"])
    assert failed["error"]["code"] == "PROVIDER_ERROR"


def test_a_rule_whose_courier_cannot_ship_reports_it(org, fake_channel):
    rule(org, fake_channel)  # a shop, not a courier
    imported(fake_channel, "1")
    stock(org, on_hand=10)
    outcome = auto_fulfill(organization=org)
    assert outcome["results"][0]["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"
    assert not Fulfillment.objects.exists()
