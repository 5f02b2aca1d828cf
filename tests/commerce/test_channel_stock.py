"""A channel's stock: mapped locations, who is the source (import / push / off), echoes, drift, API and command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command

from accounts.models import AuditEvent
from commerce.models import ChannelLocation, ChannelStock, ExternalRef, InventoryPush, OrderLine, Product, StockLevel
from commerce.selectors import stock_drift
from commerce.services import (
    adjust_stock,
    channel_location_map,
    stock_mode_set,
    upsert_inventory_levels,
    upsert_orders,
)
from commerce.services.fulfillment import fulfill
from commerce.services.stock import holds_stock
from config.errors import ValidationError
from connectors import registry
from syncjobs.tasks import push_inventory
from tests.factories import IntegrationFactory

from .conftest import simple_order
from .fakes import FakeChannel

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop(org, fakes):
    """A fake shop that nets out its own open orders, with location L1 mapped to the ERP's `main`."""
    with mock.patch.object(FakeChannel, "stock_nets_open_orders", True):
        integration = IntegrationFactory(organization=org, provider="fake-channel", status="active",
                                         config={"stock_location": "main"})
        ChannelLocation.objects.create(organization=org, integration=integration, external_id="L1",
                                       erp_location="main")
        yield integration


@pytest.fixture
def mug(org, shop):
    product = Product.objects.create(organization=org, sku="SKU-1", name="Mug")
    for kind, external_id in (("variant", "v1"), ("inventory_item", "i1")):
        ExternalRef.objects.create(integration=shop, resource_type=kind, external_id=external_id,
                                   object_id=product.pk)
    return product


def level(available: int, at: datetime = T0, location: str = "L1") -> dict:
    return {"inventory_item_id": "i1", "location_id": location, "available": available, "updated_at": at}


def sellable(product: Product, location: str = "main") -> int:
    found = StockLevel.objects.filter(product=product, location=location).first()
    return 0 if found is None else found.on_hand - found.reserved


def writes() -> list[tuple[str, int]]:
    return [(item["location_id"], item["available"]) for call in FakeChannel.inventory_calls for item in call]


# ---------------------------------------------------------------------- import: the channel is the source
def test_a_new_shop_imports_and_never_writes_whatever_happens(shop, mug, django_capture_on_commit_callbacks):
    assert shop.stock_mode == "import"
    with mock.patch.object(push_inventory, "apply_async") as scheduled:
        with django_capture_on_commit_callbacks(execute=True):
            upsert_inventory_levels(integration=shop, levels=[level(10)])
            upsert_orders(integration=shop, orders=[simple_order("1", quantity=2, updated_at=T0)])
            adjust_stock(stock_level=StockLevel.objects.get(product=mug, location="main"), delta=5)
            upsert_inventory_levels(integration=shop, levels=[level(8, T0 + timedelta(minutes=1))])
        push_inventory(shop.pk)
    assert not scheduled.called and writes() == [] and not InventoryPush.objects.exists()
    assert sellable(mug) == 8  # the channel's figure; its own open order is already netted out of it


def test_in_import_a_netting_channels_orders_hold_nothing_and_their_shipment_consumes_nothing(shop, mug):
    upsert_inventory_levels(integration=shop, levels=[level(10)])
    upsert_orders(integration=shop, orders=[simple_order("1", quantity=3, updated_at=T0)])
    assert not holds_stock(shop)
    assert OrderLine.objects.get().reserved_quantity == 0 and sellable(mug) == 10
    fulfill(order=shop.orders.get(), tracking_number="T1", carrier="Fake")
    stock = StockLevel.objects.get(product=mug, location="main")
    assert (stock.on_hand, stock.reserved) == (10, 0)  # the channel counted the sale when it was placed


def test_in_push_orders_reserve_and_shipments_consume(shop, mug):
    shop = stock_mode_set(integration=shop, mode="push")
    StockLevel.objects.create(organization=shop.organization, product=mug, location="main", on_hand=10)
    with mock.patch.object(push_inventory, "apply_async"):
        upsert_orders(integration=shop, orders=[simple_order("1", quantity=3, updated_at=T0)])
        assert holds_stock(shop) and OrderLine.objects.get().reserved_quantity == 3 and sellable(mug) == 7
        fulfill(order=shop.orders.get(), tracking_number="T1", carrier="Fake")
    stock = StockLevel.objects.get(product=mug, location="main")
    assert (stock.on_hand, stock.reserved) == (7, 0)


def test_a_channel_that_does_not_net_its_orders_reserves_even_as_the_source(org, fakes):
    plain = IntegrationFactory(organization=org, provider="fake-channel", status="active")
    assert plain.stock_mode == "import" and FakeChannel.stock_nets_open_orders is False
    assert holds_stock(plain)


# ---------------------------------------------------------------------- switching the source
def test_switching_to_push_is_audited_converts_open_orders_and_writes_nothing_where_they_agree(shop, mug):
    upsert_inventory_levels(integration=shop, levels=[level(10)])
    upsert_orders(integration=shop, orders=[simple_order("1", quantity=2, updated_at=T0)])
    with mock.patch.object(push_inventory, "apply_async"):
        stock_mode_set(integration=shop, mode="push", actor_label="test")
        push_inventory(shop.pk)
    stock = StockLevel.objects.get(product=mug, location="main")
    assert (stock.on_hand, stock.reserved) == (12, 2)  # on hand = available + what the open order holds
    assert OrderLine.objects.get().reserved_quantity == 2
    assert writes() == []  # the shop already shows what the ERP may sell
    event = AuditEvent.objects.get(action="integration.stock_mode_changed")
    assert event.details["from"] == "import" and event.details["to"] == "push"
    assert event.target_id == str(shop.pk)

    with mock.patch.object(push_inventory, "apply_async"):
        stock_mode_set(integration=shop, mode="import")
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (10, 0) and AuditEvent.objects.count() == 2


def test_an_unknown_mode_changes_nothing(shop):
    with pytest.raises(ValidationError):
        stock_mode_set(integration=shop, mode="sometimes")
    shop.refresh_from_db()
    assert shop.stock_mode == "import" and not AuditEvent.objects.exists()


# ---------------------------------------------------------------------- push: echoes and drift
def test_in_push_a_report_is_drift_an_echo_changes_nothing_and_a_stale_report_is_ignored(shop, mug):
    shop = stock_mode_set(integration=shop, mode="push")
    StockLevel.objects.create(organization=shop.organization, product=mug, location="main", on_hand=10)
    with mock.patch.object(push_inventory, "apply_async") as scheduled:
        upsert_inventory_levels(integration=shop, levels=[level(4)])  # the channel says 4: drift, not applied
        assert sellable(mug) == 10 and not scheduled.called
        assert [(d.channel_quantity, d.erp_quantity) for d in stock_drift(organization=shop.organization)] == [
            (4, 10)]
        adjust_stock(stock_level=StockLevel.objects.get(product=mug), delta=1)
        push_inventory(shop.pk)
        assert writes() == [("L1", 11)]
        echo = upsert_inventory_levels(integration=shop, levels=[level(11, T0 + timedelta(seconds=5))])
        stale = upsert_inventory_levels(integration=shop, levels=[level(4, T0 - timedelta(seconds=5))])
    assert echo.unchanged == 1 and stale.unchanged == 1
    assert not InventoryPush.objects.exists()  # neither queued a push
    assert ChannelStock.objects.get().channel_quantity == 11
    assert stock_drift(organization=shop.organization) == []
    push_inventory(shop.pk)
    assert writes() == [("L1", 11)]  # the same value is never sent twice


def test_a_push_that_failed_part_way_resends_only_what_was_not_confirmed(org, shop, mug):
    shop = stock_mode_set(integration=shop, mode="push")
    ChannelLocation.objects.create(organization=org, integration=shop, external_id="L2", erp_location="shop")
    for location, quantity in (("main", 5), ("shop", 6)):
        StockLevel.objects.create(organization=org, product=mug, location=location, on_hand=quantity)
    original, sent = FakeChannel.push_inventory, []

    def one_then_429(self, items):
        if sent:
            from connectors.errors import ProviderUnavailable

            raise ProviderUnavailable("slow down", status_code=429)
        sent.extend(items)
        return original(self, items)

    with mock.patch.object(FakeChannel, "inventory_push_batch", 1), \
            mock.patch.object(push_inventory, "apply_async"):
        queue = __import__("commerce.services.stock", fromlist=["queue_inventory_push"]).queue_inventory_push
        queue(organization=org, product_ids=[mug.pk])
        with mock.patch.object(FakeChannel, "push_inventory", one_then_429), \
                mock.patch.object(push_inventory, "retry", side_effect=RuntimeError("retrying")):
            with pytest.raises(RuntimeError):
                push_inventory(shop.pk)
        push_inventory(shop.pk)
    assert [(i["location_id"], i["available"]) for i in sent] == [("L1", 5)]
    assert writes() == [("L1", 5), ("L2", 6)]  # L1 once, L2 after the retry


def test_two_locations_of_a_channel_cannot_share_an_erp_location(org, shop):
    other = ChannelLocation.objects.create(organization=org, integration=shop, external_id="L2")
    with pytest.raises(ValidationError, match="already mapped"):
        channel_location_map(location=other, erp_location="main")
    assert channel_location_map(location=other, erp_location="store").erp_location == "store"


# ---------------------------------------------------------------------- API, admin, command
def test_the_api_maps_locations_switches_the_mode_with_an_audit_and_lists_drift(shop, mug, admin_api, viewer_api,
                                                                                 api_client_for, other_org):
    unmapped = ChannelLocation.objects.create(organization=shop.organization, integration=shop, external_id="L9")
    listed = viewer_api.get(f"/api/channel-locations/?integration={shop.pk}").json()
    assert {row["external_id"]: row["mapped"] for row in listed["results"]} == {"L1": True, "L9": False}

    assert viewer_api.patch(f"/api/channel-locations/{unmapped.pk}/", {"erp_location": "x"},
                            format="json").status_code == 403
    clash = admin_api.patch(f"/api/channel-locations/{unmapped.pk}/", {"erp_location": "main"}, format="json")
    assert clash.status_code == 400 and clash.json()["error"]["code"] == "VALIDATION_ERROR"
    mapped = admin_api.patch(f"/api/channel-locations/{unmapped.pk}/", {"erp_location": "annex"}, format="json")
    assert mapped.status_code == 200 and mapped.json()["erp_location"] == "annex"

    assert viewer_api.post(f"/api/integrations/{shop.pk}/stock-mode/", {"stock_mode": "push"},
                           format="json").status_code == 403
    bad = admin_api.post(f"/api/integrations/{shop.pk}/stock-mode/", {"stock_mode": "both"}, format="json")
    assert bad.status_code == 400
    with mock.patch.object(push_inventory, "apply_async"):
        done = admin_api.post(f"/api/integrations/{shop.pk}/stock-mode/", {"stock_mode": "push"}, format="json")
    assert done.status_code == 200 and done.json()["stock_mode"] == "push"
    assert AuditEvent.objects.filter(action="integration.stock_mode_changed", via="api").count() == 1
    assert admin_api.get(f"/api/integrations/{shop.pk}/").json()["stock_mode"] == "push"

    shop.refresh_from_db()
    with mock.patch.object(push_inventory, "apply_async"):
        upsert_inventory_levels(integration=shop, levels=[level(3)])
    drift = viewer_api.get(f"/api/stock-drift/?integration={shop.pk}").json()
    assert [(d["channel_location"], d["channel_quantity"], d["erp_quantity"], d["difference"]) for d in drift] == [
        ("L1", 3, 0, 3)]

    stranger = api_client_for(other_org, "admin")
    assert stranger.get(f"/api/channel-locations/{unmapped.pk}/").status_code == 404
    assert stranger.post(f"/api/integrations/{shop.pk}/stock-mode/", {"stock_mode": "off"},
                         format="json").status_code == 404
    assert stranger.get(f"/api/stock-drift/?integration={shop.pk}").status_code == 404


def test_discover_offers_the_channels_locations_unmapped(shop, operator_api):
    answer = operator_api.post("/api/channel-locations/discover/", {"integration": shop.pk}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"locations": 1, "new": [], "unmapped": []}  # FakeChannel has L1, already mapped
    shop.channel_locations.all().update(erp_location="")
    assert operator_api.post("/api/channel-locations/discover/", {"integration": shop.pk},
                             format="json").json()["unmapped"] == ["L1"]


def test_stock_drift_command_reports_each_drifting_level(shop, mug):
    with mock.patch.object(push_inventory, "apply_async"):
        shop = stock_mode_set(integration=shop, mode="push")
        upsert_inventory_levels(integration=shop, levels=[level(7)])
    out = StringIO()
    call_command("stock_drift", "--integration", shop.code, stdout=out)
    text = out.getvalue()
    assert "SKU-1" in text and " 7 " in text and "+7" in text and "1 drifting level(s)." in text


# ---------------------------------------------------------------------- each shop connector's semantics
@pytest.mark.parametrize("provider", ["shopify", "woocommerce", "trendyol", "ebay", "amazon_sp", "tiktok_shop"])
def test_every_shop_channel_nets_its_open_orders_so_its_orders_reserve_only_when_the_erp_is_the_source(
        org, provider):
    connector = registry.get(provider)
    assert connector.stock_nets_open_orders is True
    integration = IntegrationFactory(organization=org, provider=provider, status="active")
    assert holds_stock(integration) is False  # import: the channel's figure already counts its orders
    for mode in ("push", "off"):
        integration.stock_mode = mode
        assert holds_stock(integration) is True


@pytest.mark.e2e
def test_shopify_semantics_against_the_sandbox_offer_locations_import_per_location_and_push_one_level(
        org, settings):
    """The Shopify connector (through the sandbox shop): its locations, per-location levels, one write per level."""
    from commerce.services import channel_locations_refresh
    from commerce.services.products import upsert_products
    from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
    from syncjobs.pushes import inventory_push_send

    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    with SandboxServer(port=0, seed=3, orders=5, products=2, locations=2, rate_limit=1000, leak_rate=1000) as sandbox:
        shop = IntegrationFactory(organization=org, provider="sandbox", api_endpoint=sandbox.url,
                                  api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
                                  access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None})
        connector = registry.connector_for(shop)
        found = channel_locations_refresh(integration=shop)
        first, second = (str(loc.id) for loc in sandbox.data.locations)
        assert found == {"locations": 2, "new": [first, second], "unmapped": [first, second]}
        assert dict(shop.channel_locations.values_list("external_id", "name")) == {
            first: "Main warehouse", second: "Store front"}
        shop.channel_locations.filter(external_id=first).update(erp_location="main")

        upsert_products(integration=shop, products=[connector.normalize_product(p)
                                                    for page in connector.iter_products() for p in page.items])
        levels = [connector.normalize_inventory_level(lv) for page in connector.iter_inventory() for lv in page.items]
        result = upsert_inventory_levels(integration=shop, levels=levels)
        assert result.unmapped_locations == {second}  # reported, not guessed
        imported = dict(StockLevel.objects.filter(organization=org).values_list("product__sku", "on_hand"))
        at_first = {lv["inventory_item_id"]: lv["available"] for lv in levels if lv["location_id"] == first}
        assert sorted(imported.values()) == sorted(at_first.values())  # only the mapped location, no sums

        shop = stock_mode_set(integration=shop, mode="push")
        stock = StockLevel.objects.filter(organization=org).order_by("pk").first()
        with mock.patch.object(push_inventory, "apply_async"):
            adjust_stock(stock_level=stock, delta=2)
            inventory_push_send(integration_id=shop.pk)
        assert sandbox.stats()["stock_writes"] == 1
        item, location, available = sandbox.stock_write_log[0]
        assert (str(location), available) == (first, stock.on_hand + 2)
        assert ChannelStock.objects.get(channel_location__external_id=first, product=stock.product,
                                        integration=shop).channel_quantity == available


@pytest.mark.parametrize(("provider", "config", "expected"), [
    ("woocommerce", {}, [("default", True)]),
    ("trendyol", {"seller_id": "1"}, [("trendyol", True)]),
    ("ebay", {}, [("ebay", True)]),
    ("amazon_sp", {"seller_id": "A1", "marketplace_ids": ["A1PA6795UKMFR9"]},
     [("MFN", True), ("AFN:A1PA6795UKMFR9", False)]),
])
def test_single_figure_channels_offer_the_location_their_levels_carry(org, provider, config, expected):
    """What each imports (its levels' location id) is what it offers, and what it accepts writes at."""
    integration = IntegrationFactory(organization=org, provider=provider, status="active", config=config)
    connector = registry.connector_for(integration)
    assert [(loc["id"], loc["pushable"]) for loc in connector.stock_locations()] == expected
    mapping = __import__(f"connectors.{provider}.mapping", fromlist=["x"])
    carried = {"woocommerce": getattr(mapping, "DEFAULT_LOCATION", None),
               "trendyol": getattr(mapping, "DEFAULT_LOCATION", None), "ebay": getattr(mapping, "LOCATION", None),
               "amazon_sp": f"{getattr(mapping, 'FBA_LOCATION_PREFIX', '')}A1PA6795UKMFR9"}[provider]
    assert carried in [loc["id"] for loc in connector.stock_locations()]
