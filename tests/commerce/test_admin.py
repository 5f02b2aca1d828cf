"""The commerce admin: masked lists, scoped to the staff member's organizations, actions through the services."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from commerce.models import Fulfillment, Order
from commerce.services import upsert_orders
from syncjobs.tasks import push_fulfillment
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


def test_channel_locations_are_mapped_in_the_admin_with_an_audit_and_drift_is_listed(client, org, channel):
    from accounts.models import AuditEvent
    from commerce.models import ChannelLocation, ChannelStock, Product, StockLevel

    admin = MembershipFactory(organization=org, role="admin")
    client.force_login(admin.user)
    first = ChannelLocation.objects.create(organization=org, integration=channel, external_id="L1",
                                          erp_location="main")
    second = ChannelLocation.objects.create(organization=org, integration=channel, external_id="L2")
    listing = client.get("/admin/commerce/channellocation/").content.decode()
    assert "L1" in listing and "L2" in listing and "unmapped" in listing

    clash = client.post(f"/admin/commerce/channellocation/{second.pk}/change/", {"erp_location": "main"},
                        follow=True)
    assert "already mapped" in clash.content.decode()
    second.refresh_from_db()
    assert second.erp_location == ""
    client.post(f"/admin/commerce/channellocation/{second.pk}/change/", {"erp_location": "annex"})
    second.refresh_from_db()
    assert second.erp_location == "annex"
    assert AuditEvent.objects.filter(action="channel_location.mapped", target_id=str(second.pk)).count() == 1

    product = Product.objects.create(organization=org, sku="MUG-1", name="Mug")
    StockLevel.objects.create(organization=org, product=product, location="main", on_hand=9, reserved=2)
    ChannelStock.objects.create(organization=org, integration=channel, channel_location=first, product=product,
                                inventory_item_id="i1", channel_quantity=4)
    ChannelStock.objects.create(organization=org, integration=channel, channel_location=second, product=product,
                                inventory_item_id="i1", channel_quantity=0)
    drifting = client.get("/admin/commerce/channelstock/?drift=yes").content.decode()
    assert "MUG-1" in drifting and ">7<" in drifting and ">-3<" in drifting  # the ERP sells 7 at main; 4 − 7
    assert "MUG-1" not in client.get("/admin/commerce/channelstock/?drift=yes&q=nothing").content.decode()
    in_sync = client.get("/admin/commerce/channelstock/?drift=no").content.decode()
    assert "annex" in in_sync or "L2" in in_sync  # 0 at the channel, nothing in the ERP at annex: no drift


def test_the_integration_list_switches_the_stock_source_with_an_audit(client, org):
    from accounts.models import AuditEvent

    shop = IntegrationFactory(organization=org, provider="sandbox")
    admin = MembershipFactory(organization=org, role="admin")
    client.force_login(admin.user)
    client.post("/admin/integrations/integration/", {"action": "stock_from_erp", "_selected_action": [shop.pk]})
    shop.refresh_from_db()
    assert shop.stock_mode == "push"
    event = AuditEvent.objects.get(action="integration.stock_mode_changed")
    assert event.via == "admin" and event.actor_id == admin.user.pk and event.details["to"] == "push"

    viewer = MembershipFactory(organization=org, role="viewer")
    client.force_login(viewer.user)
    client.post("/admin/integrations/integration/", {"action": "stock_off", "_selected_action": [shop.pk]})
    shop.refresh_from_db()
    assert shop.stock_mode == "push"  # a viewer cannot switch it
