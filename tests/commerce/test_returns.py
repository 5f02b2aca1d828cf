"""Operators' returns (API and admin): the returned quantity goes back on hand at the right location, once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from commerce.models import (
    ChannelLocation,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Return,
    StockLevel,
)
from commerce.services import return_record
from config.errors import ValidationError
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(org) -> Order:
    """Three units of MUG shipped from a channel whose one location maps to warehouse-iasi; 10 on hand there."""
    shop = IntegrationFactory(organization=org, provider="sandbox")
    ChannelLocation.objects.create(organization=org, integration=shop, external_id="loc-1",
                                   erp_location="warehouse-iasi")
    ChannelLocation.objects.create(organization=org, integration=shop, external_id="loc-unmapped")
    product = Product.objects.create(organization=org, sku="MUG")
    StockLevel.objects.create(organization=org, product=product, location="warehouse-iasi", on_hand=10)
    order = Order.objects.create(organization=org, integration=shop, external_id="5001", external_number="5001",
                                 status=OrderStatus.DELIVERED, currency="RON", total=Decimal("90"),
                                 placed_at=timezone.now())
    OrderLine.objects.create(order=order, external_id="L1", product=product, sku="MUG", quantity=3,
                             unit_price=Decimal("30"), total=Decimal("90"), fulfilled_quantity=3)
    return order


def on_hand(location: str = "warehouse-iasi") -> int:
    return StockLevel.objects.get(product__sku="MUG", location=location).on_hand


def test_an_operator_return_restocks_exactly_the_quantity_at_the_mapped_location_once(operator_api, order):
    body = {"lines": [{"sku": "MUG", "quantity": 2}], "reason": "broken handle", "reference": "RMA-17"}

    created = operator_api.post(f"/api/orders/{order.pk}/returns/", body, format="json")
    repeated = operator_api.post(f"/api/orders/{order.pk}/returns/", body, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["location"] == "warehouse-iasi" and created.json()["lines"][0]["quantity"] == 2
    assert repeated.status_code == 200 and repeated.json()["id"] == created.json()["id"]
    assert on_hand() == 12
    assert OrderLine.objects.get().returned_quantity == 2
    assert Order.objects.get().status == "delivered"
    assert [r["id"] for r in operator_api.get("/api/returns/").json()["results"]] == [created.json()["id"]]


def test_more_than_shipped_and_not_yet_returned_is_refused_and_changes_nothing(operator_api, order):
    return_record(order=order, lines=[{"sku": "MUG", "quantity": 2}])
    answer = operator_api.post(f"/api/orders/{order.pk}/returns/", {"lines": [{"sku": "MUG", "quantity": 2}]},
                               format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "between 1 and 1" in str(answer.json()["error"]["details"])
    assert on_hand() == 12 and Return.objects.count() == 1


def test_a_line_with_nothing_left_to_return_says_so(operator_api, order):
    return_record(order=order, lines=[{"sku": "MUG", "quantity": 3}])
    answer = operator_api.post(f"/api/orders/{order.pk}/returns/", {"lines": [{"sku": "MUG", "quantity": 1}]},
                               format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["lines"]["0"] == ["nothing left to return: 3 shipped, 3 returned"]


def test_everything_back_makes_the_order_returned(order):
    return_record(order=order, lines=[{"sku": "MUG", "quantity": 3}], location="returns-bay")
    order.refresh_from_db()
    assert order.status == "returned" and order.returned_at is not None
    assert on_hand("returns-bay") == 3 and on_hand() == 10  # the operator's location wins


def test_a_channel_location_that_maps_to_nothing_is_refused_not_guessed(order):
    with pytest.raises(ValidationError) as refused:
        return_record(order=order, lines=[{"sku": "MUG", "quantity": 1}], integration=order.integration,
                      external_id="claim-1", channel_location="loc-unmapped")
    assert refused.value.code == "LOCATION_NOT_MAPPED"
    assert on_hand() == 10 and not Return.objects.exists()


def test_viewers_cannot_record_returns_and_other_organizations_cannot_see_the_order(viewer_api, api_client_for,
                                                                                    other_org, order):
    assert viewer_api.post(f"/api/orders/{order.pk}/returns/", {"lines": [{"sku": "MUG", "quantity": 1}]},
                           format="json").status_code == 403
    theirs = api_client_for(other_org, "operator")
    assert theirs.post(f"/api/orders/{order.pk}/returns/", {"lines": [{"sku": "MUG", "quantity": 1}]},
                       format="json").json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert on_hand() == 10


def test_an_operator_records_a_return_in_the_admin(client, org, order):
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    answer = client.post("/admin/commerce/return/add/", {"order": order.pk, "sku": "MUG", "quantity": 1,
                                                         "location": "", "reason": "wrong colour",
                                                         "external_id": "RMA-20"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert on_hand() == 11
    returned = Return.objects.get()
    assert (returned.external_id, returned.reason, returned.source) == ("RMA-20", "wrong colour", "operator")
    assert client.get(f"/admin/commerce/return/{returned.pk}/change/").status_code == 200
