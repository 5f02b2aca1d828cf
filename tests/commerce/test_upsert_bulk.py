"""The bulk write path of upsert_orders: exact values through the one-statement writes, events per page, statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.models import ExternalRef, Order, OrderLine, StockLevel
from commerce.services import upsert_orders

from .conftest import events, later, simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=UTC)


def page_of(count: int, *, minutes: int = 0, status: str = "paid") -> list[dict]:
    return [
        simple_order(str(i), status=status, updated_at=T0 + timedelta(minutes=minutes), lines=[
            {"external_id": f"{i}-{n}", "sku": f"SKU-{(i + n) % 40}", "title": "T", "quantity": 1 + n,
             "price": Decimal("2.50"), "total": Decimal("2.50") * (1 + n), "fulfilled_quantity": 0}
            for n in range(3)
        ])
        for i in range(count)
    ]


def test_values_reach_the_rows_exactly(channel):
    """Money to the fourth decimal, times with microseconds and offsets, quotes and non-ASCII text, nested JSON."""
    placed = datetime(2026, 4, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=3)))
    record = simple_order("Q'1", updated_at=T0)
    record.update(
        placed_at=placed, total=Decimal("1234567890.1234"), subtotal=Decimal("0.0001"),
        customer={"external_id": "c\"7", "email": "ana@example.com", "name": "Ană O'Neil \\ \"Pop\""},
        shipping_address={"country_code": "RO", "lines": ["Str. Lungă 1", None], "geo": {"lat": 46.77}},
        lines=[{"external_id": "l'1", "sku": "SKŪ-1", "title": "Cană „mare”", "quantity": 2,
                "price": Decimal("5.1250"), "total": Decimal("10.25"), "fulfilled_quantity": 1}],
    )
    upsert_orders(integration=channel, orders=[record])

    order = Order.objects.get()
    assert order.external_id == "Q'1" and order.placed_at == placed and order.external_updated_at == T0
    assert (order.total, order.subtotal) == (Decimal("1234567890.1234"), Decimal("0.0001"))
    assert order.customer_name == "Ană O'Neil \\ \"Pop\"" and order.customer_external_id == "c\"7"
    assert order.shipping_address == record["shipping_address"] and order.billing_address == {}
    assert order.status == "partially_fulfilled" and order.channel_status == {"status": "paid",
                                                                             "financial_status": "paid"}
    assert order.fulfilled_at is None and order.created_at is not None
    line = OrderLine.objects.get()
    assert (line.external_id, line.sku, line.title) == ("l'1", "SKŪ-1", "Cană „mare”")
    assert (line.unit_price, line.total, line.fulfilled_quantity, line.reserved_quantity) == (
        Decimal("5.1250"), Decimal("10.25"), 1, 1)
    ref = ExternalRef.objects.get(resource_type="order")
    assert (ref.object_id, ref.external_updated_at) == (order.pk, T0)
    assert StockLevel.objects.get().reserved == 1


def test_a_fulfilled_import_is_stamped_once(channel):
    record = simple_order("1", updated_at=T0)
    record["lines"][0]["fulfilled_quantity"] = 1
    upsert_orders(integration=channel, orders=[record])
    order = Order.objects.get()
    assert order.status == "fulfilled" and order.fulfilled_at == T0
    assert order.seconds_to_fulfil == 3600

    upsert_orders(integration=channel, orders=[later(record, minutes=30, total=Decimal("11.00"))])
    order.refresh_from_db()
    assert order.fulfilled_at == T0 and order.seconds_to_fulfil == 3600 and order.total == Decimal("11.00")


def test_each_created_or_updated_order_publishes_its_event_once(channel, endpoint, org):
    upsert_orders(integration=channel, orders=page_of(3))
    created = events(org, "order.created")
    assert [e["order"]["external_id"] for e in created] == ["0", "1", "2"]
    assert created[0]["order"]["id"] == Order.objects.get(external_id="0").pk
    assert created[0]["order"]["integration"]["code"] == channel.code
    assert [(line["sku"], line["quantity"]) for line in created[1]["order"]["lines"]] == [
        ("SKU-1", 1), ("SKU-2", 2), ("SKU-3", 3)]
    assert "customer_email" not in created[0]["order"]

    upsert_orders(integration=channel, orders=page_of(3))  # unchanged: nothing to announce
    page = page_of(3, minutes=5)
    page[1]["status"] = "cancelled"
    upsert_orders(integration=channel, orders=page[1:2])

    assert len(events(org, "order.created")) == 3
    assert [e["order"]["status"] for e in events(org, "order.updated")] == ["cancelled"]
    from webhooks.models import WebhookDelivery

    assert WebhookDelivery.objects.values("event_id").distinct().count() == 4


@pytest.mark.postgres
def test_statements_per_page_do_not_grow_with_the_page_on_postgresql(channel, endpoint):
    """One statement per step, whatever the page size: the count for 250 orders × 3 lines equals that for 25."""

    def statements(records):
        with CaptureQueriesContext(connection) as captured:
            upsert_orders(integration=channel, orders=records)
        return [q["sql"][:70] for q in captured.captured_queries]

    warm = page_of(40)
    for record in warm:
        record["external_id"] = "warm-" + record["external_id"]
    upsert_orders(integration=channel, orders=warm)  # every SKU's product and stock level exists from here on
    small = page_of(25)
    for record in small:
        record["external_id"] = "small-" + record["external_id"]
    created_small, created = statements(small), statements(page_of(250))
    updated_small = statements(page_of(25, minutes=5, status="cancelled"))
    updated = statements(page_of(250, minutes=10, status="pending"))
    rerun = statements(page_of(250, minutes=10, status="pending"))

    assert len(created) == len(created_small) and len(updated) == len(updated_small), (created, updated)
    # The exact statements are pinned in test_write_statements.py (committed transactions); inside this test's
    # transaction the two COPY stages are created by every call (staging.py), and one endpoint adds the deliveries.
    assert len(created) <= 14, created  # no savepoint of its own; orders, lines and refs in one statement
    assert len(updated) <= 15, updated  # + read the old lines
    assert len(rerun) <= 2, rerun  # nothing changed: claim, read the orders, and out
    assert OrderLine.objects.count() == 3 * (40 + 250 + 25)
    assert set(Order.objects.exclude(external_id__contains="-").values_list("status", flat=True)) == {
        "pending"}


def test_text_that_copy_would_misread_arrives_intact(channel):
    """COPY's text format gives tab, newline, carriage return and backslash a meaning: they are escaped (and \\N is
    text, not NULL)."""
    awkward = "a\tb\nc\rd\\e \\N"
    record = simple_order("tab\t1", updated_at=T0)
    record.update(name=awkward[:64], customer={"external_id": "\\N", "email": "x@example.com", "name": awkward},
                  shipping_address={"address1": awkward, "note": None, "lines": ["\t", "\\"]})
    record["lines"][0].update(title=awkward, sku="S\\1")
    upsert_orders(integration=channel, orders=[record])

    order = Order.objects.get()
    assert (order.external_id, order.name, order.customer_name) == ("tab\t1", awkward, awkward)
    assert order.customer_external_id == "\\N" and order.shipping_address == record["shipping_address"]
    line = OrderLine.objects.get()
    assert (line.title, line.sku) == (awkward, "S\\1")
    assert upsert_orders(integration=channel, orders=[record]).unchanged == 1  # the same bytes, the same hash
