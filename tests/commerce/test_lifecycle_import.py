"""Channels that report their own tracking (TikTok's DELIVERED, Trendyol's Delivered packages) through the import:
the same stamps and once-only events as a courier's tracking, never a step back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commerce.models import Order
from commerce.services import upsert_orders
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def events(org) -> list[str]:
    return list(WebhookDelivery.objects.filter(endpoint__organization=org).order_by("pk")
                .values_list("event", flat=True))


@pytest.fixture
def subscribed(org):
    return WebhookEndpoint.objects.create(organization=org, url="https://erp.example/hook", events=["*"],
                                          secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")


def shipped(status: str, minutes: int) -> dict:
    record = simple_order("7", status=status, updated_at=T0 + timedelta(minutes=minutes))
    record["lines"][0]["fulfilled_quantity"] = 1 if status != "paid" else 0
    return record


def test_a_reimport_that_says_delivered_stamps_and_announces_once_and_never_steps_back(channel, org, subscribed):
    upsert_orders(integration=channel, orders=[shipped("paid", 0)])
    upsert_orders(integration=channel, orders=[shipped("in_transit", 10)])
    upsert_orders(integration=channel, orders=[shipped("delivered", 20)])
    upsert_orders(integration=channel, orders=[shipped("delivered", 30)])  # the same news, newer: nothing new
    upsert_orders(integration=channel, orders=[shipped("in_transit", 40)])  # a stale channel word: no step back

    order = Order.objects.get()
    assert order.status == "delivered"
    assert (order.shipped_at, order.delivered_at) == (T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))
    assert order.fulfilled_at is not None  # delivered counts as fulfilled in the analytics
    lifecycle = [e for e in events(org) if e in ("order.shipped", "order.delivered", "order.returned")]
    assert lifecycle == ["order.shipped", "order.delivered"]


def test_a_first_import_of_a_delivered_order_stamps_it_without_a_burst_of_events(channel, org, subscribed):
    upsert_orders(integration=channel, orders=[shipped("delivered", 0)])
    order = Order.objects.get()
    assert (order.status, order.delivered_at, order.shipped_at) == ("delivered", T0, T0)
    assert events(org) == ["order.created"]


def test_an_admin_confirms_a_delivery_by_hand_with_the_same_stamps_and_events(admin_api, channel, org, subscribed):
    upsert_orders(integration=channel, orders=[shipped("paid", 0)])
    Order.objects.update(status="fulfilled")
    order = Order.objects.get()

    answer = admin_api.put(f"/api/orders/{order.pk}/status/", {"status": "delivered"}, format="json")
    again = admin_api.put(f"/api/orders/{order.pk}/status/", {"status": "delivered"}, format="json")
    back = admin_api.put(f"/api/orders/{order.pk}/status/", {"status": "in_transit"}, format="json")

    assert answer.status_code == 200 and answer.json()["status"] == "delivered"
    assert answer.json()["delivered_at"] and answer.json()["tracking_events"][0]["status"] == "delivered"
    assert again.status_code == 200 and back.status_code == 400
    assert [e for e in events(org) if e.startswith("order.") and e not in ("order.created", "order.updated")] == [
        "order.shipped", "order.delivered"]
