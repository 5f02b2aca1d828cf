"""The statements one page of orders costs on PostgreSQL, pinned: a regression in the write path fails here.

Counted as production runs them: in committed transactions (so the COPY stages
exist, as they do on a connection after its first page), inside the caller's
transaction (the sync page's: no savepoint of its own), for a channel that
reserves stock and has its stock pushed. COPY statements are counted too
(staging.py adds them to the query log). The bench (`bench/commerce_upsert.py`)
prints the same figures per page; tests/syncjobs/test_page_statements.py pins
the engine's page around them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from commerce.models import ExternalRef, Order, OrderLine, StockLevel
from commerce.services import upsert_orders

from .conftest import simple_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)

# Refs inserted or locked in one statement; the orders read in the next (a snapshot taken after the locks: the
# claim may have waited for a transaction writing the same orders, and must see what it wrote).
CLAIM_AND_READ = ["INSERT commerce_externalref", "SELECT commerce_order"]
WRITE = ["SELECT commerce_product", "SELECT commerce_channellocation",
         "COPY stage_commerce_order", "COPY stage_commerce_orderline",
         # orders, their lines (a new order's without ON CONFLICT, the others' with) and the refs' new versions:
         # one statement
         "INSERT commerce_order + INSERT commerce_orderline + INSERT commerce_orderline + UPDATE commerce_externalref",
         "INSERT commerce_stocklevel", "UPDATE commerce_stocklevel",  # missing levels, then lock-compute-write: one
         "SELECT commerce_externalref",  # which push channels list the products
         "SELECT webhooks_webhookendpoint"]  # no endpoint listens: no delivery insert


def page_of(count: int, *, prefix: str = "", minutes: int = 0, status: str = "paid") -> list[dict]:
    return [
        simple_order(f"{prefix}{i}", status=status, updated_at=T0 + timedelta(minutes=minutes), lines=[
            {"external_id": f"{i}-{n}", "sku": f"SKU-{(i + n) % 40}", "title": "T", "quantity": 1 + n,
             "price": Decimal("2.50"), "total": Decimal("2.50") * (1 + n), "fulfilled_quantity": 0}
            for n in range(3)
        ])
        for i in range(count)
    ]


def kind(sql: str) -> str:
    """`INSERT commerce_order`, `COPY stage_commerce_orderline`, `SELECT commerce_product`…: verb and table; a
    statement with CTEs names every table it writes (`INSERT commerce_order + INSERT commerce_orderline`)."""
    sql = " ".join(sql.split())
    verb = sql.split(" ", 1)[0].upper()
    if verb == "WITH":
        writes = re.findall(r'\b(INSERT INTO|UPDATE)\s+"(\w+)"', sql)
        return " + ".join(f"{how.split()[0]} {table}" for how, table in writes)
    table = re.search(r'(?:INTO|FROM|UPDATE|COPY)\s+"?(\w+)\b"?(?!\s*\()', sql)  # a table, not FROM unnest(…)
    return f"{verb} {table.group(1)}" if table and verb not in ("SAVEPOINT", "RELEASE") else verb


def statements(channel, records) -> list[str]:
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        upsert_orders(integration=channel, orders=records)
    return [kind(q["sql"]) for q in captured.captured_queries]


def test_a_page_costs_the_same_statements_whatever_its_size(channel):
    upsert_orders(integration=channel, orders=page_of(40, prefix="warm-"))  # the SKUs' products and levels exist

    created = statements(channel, page_of(250))
    assert created == CLAIM_AND_READ + WRITE, created
    assert statements(channel, page_of(25, prefix="small-")) == created

    updated = statements(channel, page_of(250, minutes=5, status="cancelled"))
    assert updated == CLAIM_AND_READ + ["SELECT commerce_orderline"] + WRITE, updated  # + the lines they had
    assert statements(channel, page_of(250, minutes=5, status="cancelled")) == CLAIM_AND_READ  # nothing new
    newer = page_of(250, minutes=5, status="cancelled")
    for record in newer:
        record["updated_at"] += timedelta(minutes=4)
    newer_same_content = statements(channel, newer)
    assert newer_same_content == CLAIM_AND_READ + ["UPDATE commerce_externalref"]  # remembers the time

    assert Order.objects.count() == 40 + 250 + 25 and OrderLine.objects.count() == 3 * (40 + 250 + 25)
    assert set(Order.objects.filter(external_id__in=[str(i) for i in range(250)])
               .values_list("status", flat=True)) == {"cancelled"}
    written = ExternalRef.objects.filter(resource_type="order", external_id__in=[str(i) for i in range(250)])
    assert written.filter(object_id__isnull=False, payload_hash__startswith="v2:").count() == 250
    held = sum(StockLevel.objects.values_list("reserved", flat=True))
    assert held == sum(1 + n for n in range(3)) * (40 + 25)  # the cancelled 250 hold nothing any more


def test_a_channel_whose_stock_is_its_own_writes_no_stock(org):
    """The sandbox nets out its open orders (`import`): the backfill's page is the write without stock."""
    from tests.factories import IntegrationFactory

    channel = IntegrationFactory(organization=org, provider="sandbox", status="active", stock_mode="import")
    upsert_orders(integration=channel, orders=page_of(40, prefix="warm-"))
    created = statements(channel, page_of(250))
    stock = ["INSERT commerce_stocklevel", "UPDATE commerce_stocklevel", "SELECT commerce_externalref"]
    assert created == CLAIM_AND_READ + [s for s in WRITE if s not in stock], created
    assert not StockLevel.objects.exists()


def table_writes(table: str) -> tuple[int, int]:
    """(rows inserted, rows updated) in `table` by the current transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()


def test_a_first_import_writes_each_ref_once_holding_its_order_and_version(channel):
    """The claim inserts a new ref with the version being written and the id its order is then inserted with, so
    the orders' statement has no ref left to update (each ref was inserted, then updated: two row versions)."""
    with transaction.atomic():
        result = upsert_orders(integration=channel, orders=page_of(30))
        assert table_writes("commerce_externalref") == (30, 0)
    assert result.created == 30
    refs = {r.external_id: r for r in ExternalRef.objects.filter(integration=channel, resource_type="order")}
    for order in Order.objects.filter(integration=channel):
        ref = refs[order.external_id]
        assert (ref.object_id, ref.external_updated_at) == (order.pk, order.external_updated_at)
        assert ref.payload_hash.startswith("v2:")
    with transaction.atomic():  # a newer version of each: the refs are updated, once each
        assert upsert_orders(integration=channel, orders=page_of(30, minutes=5)).updated == 30
        assert table_writes("commerce_externalref")[1] == 30 + 30  # the claim's lock, then the new versions
    assert set(ExternalRef.objects.filter(integration=channel).values_list("external_updated_at", flat=True)) == {
        T0 + timedelta(minutes=5)}


def test_an_order_stored_without_a_ref_keeps_the_new_ref_truthful(channel):
    """An order stored before its ref existed: a record older than it writes nothing and leaves the ref new (no
    version, no object); a newer one updates the order and points the ref at it."""
    upsert_orders(integration=channel, orders=page_of(2, minutes=10))
    ExternalRef.objects.filter(integration=channel).delete()
    stored = {o.external_id: o.pk for o in Order.objects.filter(integration=channel)}

    result = upsert_orders(integration=channel, orders=page_of(2))  # older than what is stored
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert set(ExternalRef.objects.filter(integration=channel).values_list(
        "object_id", "external_updated_at", "payload_hash")) == {(None, None, "")}

    ExternalRef.objects.filter(integration=channel).delete()
    result = upsert_orders(integration=channel, orders=page_of(2, minutes=20, status="cancelled"))
    assert (result.created, result.updated) == (0, 2)
    assert {o.external_id: o.pk for o in Order.objects.filter(integration=channel, status="cancelled")} == stored
    assert dict(ExternalRef.objects.filter(integration=channel).values_list("external_id", "object_id")) == stored


def test_a_page_of_new_and_stored_orders_writes_each_ones_lines(channel):
    """New orders' lines go in without ON CONFLICT, stored orders' through it: a page holding both writes every
    line once, a stored order's lines updated in place (same ids), a dropped line deleted."""
    upsert_orders(integration=channel, orders=page_of(10))
    line_ids = dict(OrderLine.objects.values_list("external_id", "pk"))
    mixed = page_of(15, minutes=5)  # orders 0-9 stored, 10-14 new
    mixed[0]["lines"] = mixed[0]["lines"][:2]
    result = upsert_orders(integration=channel, orders=mixed)
    assert (result.created, result.updated) == (5, 10)
    assert OrderLine.objects.count() == 15 * 3 - 1
    kept = dict(OrderLine.objects.filter(order__external_id__in=[str(i) for i in range(10)])
                .values_list("external_id", "pk"))
    assert kept == {k: v for k, v in line_ids.items() if k != "0-2"}
