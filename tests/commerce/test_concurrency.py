"""The same order upserted from two transactions at once: one Order, one reservation (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from commerce.models import ExternalRef, Order, OrderLine, StockLevel
from commerce.services import upsert_orders

from .conftest import later, simple_order

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_importing_the_same_orders_at_once_make_one_of_each(channel):
    page = [simple_order(str(i), sku="MUG", quantity=1, updated_at=T0) for i in range(30)]
    newer = [later(record, status="cancelled") for record in page]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(records):
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                results.append(upsert_orders(integration=channel, orders=records))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in (page, newer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Order.objects.count() == 30 and OrderLine.objects.count() == 30
    assert ExternalRef.objects.filter(resource_type="order").count() == 30
    # Whichever ran first, the newest version (cancelled) wins and holds nothing.
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    # (If the cancelled version ran first no level was ever needed, so there may be none.)
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 0
    assert sum(r.created for r in results) == 30
