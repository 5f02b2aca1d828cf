"""The order book commerce installs for the connectors below it (connectors.payments.OrderBook)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from commerce.models import Order, OrderStatus
from commerce.services.order_book import STANDINGS, CommerceOrderBook
from connectors import payments
from connectors.payments import OrderFacts, order_book
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def _order(shop, **fields) -> Order:
    return Order.objects.create(organization=shop.organization, integration=shop,
                                placed_at=datetime(2024, 5, 29, 10, tzinfo=UTC), **fields)


@pytest.fixture
def shop():
    return IntegrationFactory(provider="sandbox", code="shop-ro")


def test_commerce_installs_its_book_when_the_apps_are_ready():
    assert isinstance(order_book(), CommerceOrderBook)


def test_no_book_installed_is_a_configuration_error(monkeypatch):
    monkeypatch.setattr(payments, "_installed", {})
    with pytest.raises(ImproperlyConfigured):
        order_book()


def test_every_order_status_has_a_standing():
    assert set(STANDINGS) == set(OrderStatus.values)
    assert set(STANDINGS.values()) == {"pending", "paid", "shipped", "closed"}


def test_find_is_scoped_to_the_organization_and_channel_and_answers_plain_values(shop):
    order = _order(shop, external_id="1", external_number="1001", currency="RON", total=Decimal("12.50"),
                   status=OrderStatus.PARTIALLY_FULFILLED)
    _order(IntegrationFactory(provider="sandbox"), external_id="1", external_number="1001")  # another organization
    book = CommerceOrderBook()
    found = book.order_find(organization_id=shop.organization_id, channel="", external_number="1001")
    assert found == [OrderFacts(id=order.pk, standing="shipped", total=Decimal("12.5000"), currency="RON")]
    assert book.order_find(organization_id=shop.organization_id, channel="shop-ro", pk=order.pk) == found
    assert book.order_find(organization_id=shop.organization_id, channel="other", pk=order.pk) == []


def test_find_answers_at_most_two(shop):
    for n in range(3):
        _order(shop, external_id=str(n), external_number="1001")
    assert len(CommerceOrderBook().order_find(organization_id=shop.organization_id, channel="",
                                              external_number="1001")) == 2


def test_get_is_none_for_no_id_or_another_organizations_order(shop):
    order = _order(shop, external_id="1", external_number="1001")
    book = CommerceOrderBook()
    assert book.order_get(organization_id=shop.organization_id, order_id=None) is None
    assert book.order_get(organization_id=shop.organization_id + 1000, order_id=order.pk) is None
    assert book.order_get(organization_id=shop.organization_id, order_id=order.pk, lock=True).standing == "pending"


def test_marking_goes_through_the_payment_services(shop):
    order = _order(shop, external_id="1", external_number="1001")
    book = CommerceOrderBook()
    assert book.order_mark_paid(order_id=order.pk) == "changed"
    assert book.order_mark_paid(order_id=order.pk) == "unchanged"
    assert book.order_mark_refunded(order_id=order.pk) == "changed"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED
