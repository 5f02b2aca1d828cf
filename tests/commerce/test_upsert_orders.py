"""upsert_orders: one Order per channel order whatever the arrival order, idempotent, bulk, never regressing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.models import ExternalRef, Order, OrderLine, OrderStatus, Product, StockLevel
from commerce.services import upsert_orders

from .conftest import later, order_record, simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_a_new_order_is_created_with_its_lines_money_and_times(channel):
    record = order_record("paid")
    result = upsert_orders(integration=channel, orders=[record])

    assert (result.created, result.updated, result.unchanged, result.failed) == (1, 0, 0, [])
    order = Order.objects.get()
    assert order.organization == channel.organization and order.integration == channel
    assert order.external_id == record["external_id"] and order.external_number == "1002"
    assert order.status == OrderStatus.PAID and order.currency == "EUR"
    assert order.total == Decimal("25.84") and order.total_shipping == Decimal("4.99")
    assert order.placed_at == record["placed_at"] and order.external_updated_at == record["updated_at"]
    assert order.shipping_address["country_code"] == "FR"
    line = OrderLine.objects.get()
    assert (line.sku, line.quantity, line.unit_price) == ("SB5-00001-1", 3, Decimal("5.84"))
    ref = ExternalRef.objects.get(resource_type="order")
    assert ref.object_id == order.pk and ref.external_updated_at == record["updated_at"] and ref.payload_hash


@pytest.mark.parametrize("first", ["webhook", "sync"])
def test_same_order_by_webhook_and_sync_in_either_order_yields_one_order_with_the_newest_data(channel, first):
    """The sync carries an older version (pulled before the change), the webhook the newer one."""
    synced = order_record("paid")
    webhook = later(synced, minutes=10, status="cancelled", cancelled_at=synced["updated_at"] + timedelta(minutes=9))
    arrivals = [webhook, synced] if first == "webhook" else [synced, webhook]

    for record in arrivals:
        upsert_orders(integration=channel, orders=[record])

    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert order.external_updated_at == webhook["updated_at"]
    assert OrderLine.objects.count() == 1
    assert ExternalRef.objects.filter(resource_type="order").count() == 1


def test_an_older_version_is_counted_unchanged_and_writes_nothing(channel):
    record = order_record("paid")
    upsert_orders(integration=channel, orders=[later(record, minutes=5, total=Decimal("99.00"))])

    result = upsert_orders(integration=channel, orders=[record])

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert Order.objects.get().total == Decimal("99.00")


def test_re_running_the_same_page_changes_nothing(channel):
    page = [simple_order(str(i), sku=f"SKU-{i % 3}", updated_at=T0) for i in range(20)]
    upsert_orders(integration=channel, orders=page)
    before = list(Order.objects.order_by("pk").values_list("pk", "updated_at"))
    reserved = list(StockLevel.objects.order_by("pk").values_list("reserved", flat=True))

    result = upsert_orders(integration=channel, orders=page)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 20)
    assert list(Order.objects.order_by("pk").values_list("pk", "updated_at")) == before
    assert list(StockLevel.objects.order_by("pk").values_list("reserved", flat=True)) == reserved


def test_a_newer_updated_at_with_the_same_content_is_unchanged_but_remembered(channel):
    record = order_record("paid")
    upsert_orders(integration=channel, orders=[record])
    result = upsert_orders(integration=channel, orders=[later(record, minutes=1)])
    assert result.unchanged == 1
    assert ExternalRef.objects.get(resource_type="order").external_updated_at == record["updated_at"] + timedelta(
        minutes=1)


def test_changed_orders_are_updated_and_their_lines_replaced(channel):
    record = simple_order("A", updated_at=T0, lines=[
        {"external_id": "l1", "sku": "S1", "title": "One", "quantity": 1, "price": Decimal("1"),
         "total": Decimal("1"), "fulfilled_quantity": 0},
        {"external_id": "l2", "sku": "S2", "title": "Two", "quantity": 2, "price": Decimal("2"),
         "total": Decimal("4"), "fulfilled_quantity": 0},
    ])
    upsert_orders(integration=channel, orders=[record])
    line_one = OrderLine.objects.get(external_id="l1")

    newer = later(record, lines=[
        {"external_id": "l1", "sku": "S1", "title": "One", "quantity": 4, "price": Decimal("1"),
         "total": Decimal("4"), "fulfilled_quantity": 0},
        {"external_id": "l3", "sku": "S3", "title": "Three", "quantity": 1, "price": Decimal("3"),
         "total": Decimal("3"), "fulfilled_quantity": 0},
    ])
    result = upsert_orders(integration=channel, orders=[newer])

    assert result.updated == 1
    lines = {line.external_id: line for line in OrderLine.objects.all()}
    assert set(lines) == {"l1", "l3"}
    assert lines["l1"].pk == line_one.pk and lines["l1"].quantity == 4
    levels = {lvl.product.sku: lvl.reserved for lvl in StockLevel.objects.select_related("product")}
    assert levels == {"S1": 4, "S2": 0, "S3": 1}


def test_a_bad_record_fails_alone_and_names_the_field(channel):
    good = simple_order("1", updated_at=T0)
    no_currency = simple_order("2", updated_at=T0, )
    no_currency["currency"] = ""
    unknown_status = simple_order("3", updated_at=T0, status="teleported")
    float_money = simple_order("4", updated_at=T0)
    float_money["total"] = 12.5

    result = upsert_orders(integration=channel, orders=[good, no_currency, unknown_status, float_money])

    assert result.created == 1
    assert {f["external_id"] for f in result.failed} == {"2", "3", "4"}
    errors = {f["external_id"]: f["error"] for f in result.failed}
    assert "currency" in errors["2"] and "teleported" in errors["3"] and "total" in errors["4"]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["1"]


def test_a_page_of_250_orders_with_3_lines_costs_a_fixed_number_of_queries(channel):
    def page(minutes):
        return [
            simple_order(str(i), updated_at=T0 + timedelta(minutes=minutes), lines=[
                {"external_id": f"{i}-{n}", "sku": f"SKU-{(i + n) % 40}", "title": "T", "quantity": 1 + n,
                 "price": Decimal("2.50"), "total": Decimal("2.50") * (1 + n), "fulfilled_quantity": 0}
                for n in range(3)
            ])
            for i in range(250)
        ]

    with CaptureQueriesContext(connection) as created:
        result = upsert_orders(integration=channel, orders=page(0))
    assert result.created == 250 and OrderLine.objects.count() == 750
    assert Product.objects.count() == 40

    updated_page = page(5)
    for record in updated_page:
        record["status"] = "cancelled"
    with CaptureQueriesContext(connection) as updated:
        result = upsert_orders(integration=channel, orders=updated_page)
    assert result.updated == 250
    assert set(StockLevel.objects.values_list("reserved", flat=True)) == {0}

    # Bulk: the statement count does not grow with the page (SQLite splits big inserts into batches).
    assert len(created.captured_queries) < 40, [q["sql"][:80] for q in created.captured_queries]
    assert len(updated.captured_queries) < 40


def test_duplicates_within_a_page_keep_the_newest(channel):
    record = simple_order("1", updated_at=T0)
    newer = later(record, status="cancelled")
    result = upsert_orders(integration=channel, orders=[newer, record])
    assert (result.created, result.unchanged) == (1, 1)
    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_orders_of_two_channels_with_the_same_external_id_are_two_orders(channel, second_channel):
    upsert_orders(integration=channel, orders=[simple_order("1", updated_at=T0)])
    upsert_orders(integration=second_channel, orders=[simple_order("1", updated_at=T0)])
    assert Order.objects.count() == 2
    assert Product.objects.count() == 1  # one SKU, one truth


def test_a_locally_recorded_shipment_survives_a_channel_that_has_not_heard_of_it(channel):
    record = simple_order("1", quantity=2, updated_at=T0)
    upsert_orders(integration=channel, orders=[record])
    line = OrderLine.objects.get()
    line.fulfilled_quantity = 2
    line.save()

    upsert_orders(integration=channel, orders=[later(record, total=Decimal("21.00"))])

    order = Order.objects.get()
    assert OrderLine.objects.get().fulfilled_quantity == 2
    assert order.status == OrderStatus.FULFILLED and order.total == Decimal("21.00")


def test_the_buyers_marketing_consent_is_stored_as_the_channel_said_it(channel):
    """True/False when the channel's order carries it (connectors' normalizers); anything else is unknown (None)."""
    records = []
    for n, consent in enumerate((True, False, None, "yes")):
        record = later(order_record("paid"), minutes=n)
        record["external_id"], record["number"] = f"consent-{n}", f"C{n}"
        record["customer"] = {**record["customer"], "accepts_marketing": consent}
        records.append(record)
    upsert_orders(integration=channel, orders=records)
    assert dict(Order.objects.values_list("external_number", "customer_accepts_marketing")) == {
        "C0": True, "C1": False, "C2": None, "C3": None}
