"""Commerce test helpers: recorded sandbox orders normalized by the real mapping, channels, a fake courier."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest

from connectors.sandbox.mapping import normalize_order, normalize_product
from tests.connectors.support import fixture, sandbox_order
from tests.factories import IntegrationFactory

raw_order = sandbox_order  # a Shopify-shaped order from the recorded sandbox answers


def order_record(case: str = "paid", **changes) -> dict:
    """A normalized order (what connectors hand to upsert_orders), with fields replaced."""
    record = normalize_order(raw_order(case))
    record.update(changes)
    return record


def later(record: dict, *, minutes: int = 5, **changes) -> dict:
    """A newer version of a normalized order: updated_at moved forward, fields replaced."""
    newer = copy.deepcopy(record)
    newer["updated_at"] = record["updated_at"] + timedelta(minutes=minutes)
    newer.update(changes)
    return newer


def raw_products() -> list[dict]:
    return fixture("sandbox", "products__page1")["body"]["products"]


def product_records() -> list[dict]:
    return [normalize_product(p) for p in raw_products()]


def simple_order(external_id: str, *, sku: str = "SKU-1", quantity: int = 1, status: str = "paid",
                 updated_at: datetime, lines: list[dict] | None = None, country: str = "RO") -> dict:
    """A hand-built normalized order, for tests that need many distinct ones."""
    from decimal import Decimal

    return {
        "external_id": external_id, "number": f"#{external_id}", "name": f"#{external_id}", "status": status,
        "financial_status": "paid", "fulfillment_status": "", "currency": "RON",
        "subtotal": Decimal("10.00") * quantity, "total_discounts": Decimal("0"), "total_tax": Decimal("0"),
        "total_shipping": Decimal("0"), "total": Decimal("10.00") * quantity,
        "customer": {"external_id": "c1", "email": f"buyer{external_id}@example.com", "name": "Ana Pop"},
        "shipping_address": {"country_code": country, "phone": "+40700000000", "city": "Cluj"},
        "billing_address": {}, "placed_at": updated_at - timedelta(hours=1), "updated_at": updated_at,
        "cancelled_at": None,
        "lines": lines if lines is not None else [
            {"external_id": f"{external_id}-1", "sku": sku, "title": "Thing", "quantity": quantity,
             "price": Decimal("10.00"), "total": Decimal("10.00") * quantity, "fulfilled_quantity": 0},
        ],
    }


@pytest.fixture
def channel(org):
    """A shop whose stock the ERP owns (`push`): its orders reserve ERP stock and stock changes are pushed to it."""
    return IntegrationFactory(organization=org, provider="sandbox", status="active", stock_mode="push")


@pytest.fixture
def second_channel(org):
    return IntegrationFactory(organization=org, provider="sandbox", status="active", stock_mode="push")


@pytest.fixture
def fakes():
    """Register the fake channel and courier for one test."""
    from connectors import registry

    from .fakes import FakeChannel, FakeCourier, reset

    reset()
    registry.register(FakeChannel)
    registry.register(FakeCourier)
    yield
    registry.unregister(FakeChannel.key)
    registry.unregister(FakeCourier.key)
    reset()


@pytest.fixture
def fake_channel(org, fakes):
    return IntegrationFactory(organization=org, provider="fake-channel", status="active")


@pytest.fixture
def courier(org, fakes):
    return IntegrationFactory(organization=org, provider="fake-courier", type="shipping", status="active")


@pytest.fixture
def endpoint(org):
    """An endpoint of the organization subscribed to every event, so published events leave deliveries."""
    from webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", events=["*"],
                                          secret="whsec_test")


def events(org, name: str) -> list[dict]:
    from webhooks.models import WebhookDelivery

    return [d.payload["data"] for d in WebhookDelivery.objects.filter(organization=org, event=name).order_by("pk")]
