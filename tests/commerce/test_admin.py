"""The commerce admin: masked lists, scoped to the staff member's organizations, actions through the services."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from commerce.models import Fulfillment, Order
from commerce.services import upsert_orders
from commerce.tasks import push_fulfillment
from tests.factories import IntegrationFactory, MembershipFactory

from .conftest import simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def operator_client(client, org):
    membership = MembershipFactory(organization=org, role="operator")
    client.force_login(membership.user)
    return client


def test_order_changelist_masks_the_email_and_hides_other_organizations(operator_client, channel, other_org):
    upsert_orders(integration=channel, orders=[simple_order("1", updated_at=T0)])
    upsert_orders(integration=IntegrationFactory(organization=other_org),
                  orders=[simple_order("theirs-9", updated_at=T0)])
    page = operator_client.get("/admin/commerce/order/").content.decode()
    assert "b•••@example.com" in page and "buyer1@example.com" not in page
    assert "theirs-9" not in page


def test_fulfil_with_tracking_action(operator_client, channel):
    upsert_orders(integration=channel, orders=[simple_order("1", updated_at=T0)])
    order = Order.objects.get()
    form = operator_client.post("/admin/commerce/order/", {"action": "fulfil_with_tracking",
                                                          "_selected_action": [order.pk]})
    assert form.status_code == 200 and f"tracking_{order.pk}" in form.content.decode()
    with mock.patch.object(push_fulfillment, "delay"):
        operator_client.post("/admin/commerce/order/", {
            "action": "fulfil_with_tracking", "_selected_action": [order.pk], "confirm": "1",
            "carrier": "Fan", f"tracking_{order.pk}": "FC77"})
    assert Fulfillment.objects.get().tracking_number == "FC77"


def test_product_and_stock_pages_render_with_the_low_stock_filter(operator_client, channel):
    upsert_orders(integration=channel, orders=[simple_order("1", updated_at=T0)])
    assert operator_client.get("/admin/commerce/product/?low_stock=yes").status_code == 200
    assert "SKU-1" in operator_client.get("/admin/commerce/stocklevel/?low_stock=yes").content.decode()
