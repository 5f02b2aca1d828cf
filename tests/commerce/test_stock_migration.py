"""The data migration into mapped channel locations: nothing moves, the mapping becomes explicit, no double holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("commerce", "0002_push_sweeper_schedule"), ("integrations", "0006_code_per_organization")]
AFTER = [("commerce", "0004_channel_stock_data")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_levels_get_explicit_mappings_and_import_channels_release_their_orders_holds():
    try:
        old = _migrate(BEFORE)
        org = old.get_model("accounts", "Organization").objects.create(name="Old", slug="old-shop")
        Integration = old.get_model("integrations", "Integration")
        shop = Integration.objects.create(organization=org, name="Shop", code="shop-ro", route_key="shop-ro",
                                          type="ecommerce", provider="shopify",
                                          config={"locations": {"77": "warehouse"}})
        courier = Integration.objects.create(organization=org, name="FAN", code="fan", route_key="fan", type="shipping",
                                             provider="fancourier")
        product = old.get_model("commerce", "Product").objects.create(organization=org, sku="A", name="A")
        StockLevel = old.get_model("commerce", "StockLevel")
        StockLevel.objects.create(organization=org, product=product, location="warehouse", on_hand=10, reserved=2)
        StockLevel.objects.create(organization=org, product=product, location="shop-ro/78", on_hand=5, reserved=0)
        order = old.get_model("commerce", "Order").objects.create(
            organization=org, integration=shop, external_id="1", external_number="#1", status="paid",
            currency="RON", total=10, stock_location="warehouse", placed_at="2026-01-01T00:00:00Z")
        old.get_model("commerce", "OrderLine").objects.create(order=order, product=product, external_id="l1",
                                                              sku="A", quantity=2, unit_price=5, total=10,
                                                              reserved_quantity=2)

        new = _migrate(AFTER)
        locations = new.get_model("commerce", "ChannelLocation").objects.filter(integration_id=shop.pk)
        assert dict(locations.values_list("external_id", "erp_location")) == {"77": "warehouse", "78": "shop-ro/78"}
        assert not new.get_model("commerce", "ChannelLocation").objects.filter(integration_id=courier.pk).exists()
        assert new.get_model("integrations", "Integration").objects.get(pk=shop.pk).stock_mode == "import"
        levels = dict(new.get_model("commerce", "StockLevel").objects.values_list("location", "reserved"))
        assert levels == {"warehouse": 0, "shop-ro/78": 0}  # the shop's own order is in its imported figure
        assert new.get_model("commerce", "StockLevel").objects.get(location="warehouse").on_hand == 10
        assert new.get_model("commerce", "OrderLine").objects.get().reserved_quantity == 0
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
