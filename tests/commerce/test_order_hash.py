"""The order payload hash: computed from the bytes written (v2), and the previous format still recognised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commerce.models import ExternalRef, Order
from commerce.services import upsert_orders
from commerce.services.refs import payload_hash

from .conftest import events, later, simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_the_hash_is_versioned_and_changes_with_what_is_written(channel):
    record = simple_order("1", updated_at=T0)
    upsert_orders(integration=channel, orders=[record])
    first = ExternalRef.objects.get(resource_type="order").payload_hash
    assert first.startswith("v2:") and len(first) == 64

    moved = later(record, shipping_address={"country_code": "RO", "city": "Iași"})
    assert upsert_orders(integration=channel, orders=[moved]).updated == 1
    assert ExternalRef.objects.get(resource_type="order").payload_hash != first

    shipped = later(moved, minutes=10)
    shipped["lines"][0]["fulfilled_quantity"] = 1  # what the channel says shipped is part of the content
    assert upsert_orders(integration=channel, orders=[shipped]).updated == 1


def test_a_ref_hashed_the_old_way_is_recognised_once_and_upgraded_without_an_event(channel, endpoint, org):
    """Upgrading must not make every stored order look changed: no order.updated burst on the first re-sync."""
    record = simple_order("1", updated_at=T0)
    upsert_orders(integration=channel, orders=[record])
    ExternalRef.objects.filter(resource_type="order").update(payload_hash=payload_hash(record))  # as before v2
    published = len(events(org, "order.updated"))

    again = later(record, minutes=0)
    result = upsert_orders(integration=channel, orders=[again])

    assert (result.unchanged, result.updated) == (1, 0)
    assert len(events(org, "order.updated")) == published
    assert ExternalRef.objects.get(resource_type="order").payload_hash.startswith("v2:")
    assert Order.objects.get().external_updated_at == T0


def test_an_old_hash_of_other_content_is_a_change(channel):
    record = simple_order("1", updated_at=T0)
    upsert_orders(integration=channel, orders=[record])
    ExternalRef.objects.filter(resource_type="order").update(payload_hash=payload_hash(later(record, name="#other")))

    assert upsert_orders(integration=channel, orders=[later(record, minutes=1)]).updated == 1
    assert ExternalRef.objects.get(resource_type="order").external_updated_at == T0 + timedelta(minutes=1)
