"""adjust_stock and the debounced inventory push: one pending row per channel and product, one latest-figure push
per mapped channel location, and nothing written where the channel already holds the ERP's figure."""

from __future__ import annotations

from unittest import mock

import pytest

from commerce.models import ChannelLocation, ExternalRef, InventoryPush, Product, StockLevel
from commerce.services import adjust_stock
from config.errors import ValidationError
from syncjobs.pushes import inventory_pushes_sweep
from syncjobs.tasks import push_inventory
from tests.factories import IntegrationFactory

from .conftest import events
from .fakes import FakeChannel, ProviderError, ProviderUnavailable

pytestmark = pytest.mark.django_db


def listed(product: Product, *channels) -> None:
    for channel in channels:
        ExternalRef.objects.create(integration=channel, resource_type="variant", external_id=f"v{product.pk}",
                                   object_id=product.pk)
        ExternalRef.objects.create(integration=channel, resource_type="inventory_item", external_id=f"i{product.pk}",
                                   object_id=product.pk)


@pytest.fixture
def mug(org):
    product = Product.objects.create(organization=org, sku="MUG", name="Mug")
    return StockLevel.objects.create(organization=org, product=product, location="main", on_hand=500,
                                     low_stock_threshold=5)


@pytest.fixture
def two_channels(org, fakes):
    """Two channels the ERP owns the stock of, each with its location L1 mapped to the ERP's `main`."""
    channels = [IntegrationFactory(organization=org, provider="fake-channel", status="active", stock_mode="push")
                for _ in range(2)]
    for channel in channels:
        ChannelLocation.objects.create(organization=org, integration=channel, external_id="L1", erp_location="main")
    return channels


def test_a_burst_of_100_changes_on_two_channels_makes_at_most_one_pending_push_per_channel(
        mug, two_channels, django_capture_on_commit_callbacks):
    listed(mug.product, *two_channels)
    with mock.patch.object(push_inventory, "apply_async") as scheduled:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(100):
                adjust_stock(stock_level=mug, delta=-1)

    pending = list(InventoryPush.objects.values_list("integration_id", "product_id"))
    assert sorted(pending) == sorted((c.pk, mug.product_id) for c in two_channels)
    assert sorted(call.args[0][0] for call in scheduled.call_args_list) == sorted(c.pk for c in two_channels)

    for channel in two_channels:
        push_inventory(channel.pk)
    assert FakeChannel.inventory_calls == [
        [{"sku": "MUG", "inventory_item_id": f"i{mug.product_id}", "location_id": "L1", "available": 400}]] * 2
    assert not InventoryPush.objects.exists()


def test_a_change_while_a_push_is_in_flight_is_pushed_again(mug, two_channels):
    listed(mug.product, two_channels[0])
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, on_hand=10)
        original = FakeChannel.push_inventory

        def push_then_change(self, items):
            adjust_stock(stock_level=mug, on_hand=7)  # a sale lands while the channel is being told
            return original(self, items)

        with mock.patch.object(FakeChannel, "push_inventory", push_then_change):
            push_inventory(two_channels[0].pk)
    assert InventoryPush.objects.count() == 1  # still pending: the figure it pushed (10) is not the latest


def test_a_permanent_push_error_stays_on_the_row_for_the_operator(mug, two_channels):
    listed(mug.product, two_channels[0])
    FakeChannel.fail_with = ProviderError("Unknown inventory item.", status_code=422)
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, delta=-1)
    push_inventory(two_channels[0].pk)
    row = InventoryPush.objects.get()
    assert row.attempts == 1 and "Unknown inventory item" in row.last_error


def test_a_transient_push_error_is_retried(mug, two_channels):
    listed(mug.product, two_channels[0])
    FakeChannel.fail_with = ProviderUnavailable("down", status_code=503)
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, delta=-1)
    with mock.patch.object(push_inventory, "retry", side_effect=RuntimeError("retrying")) as retry:
        with pytest.raises(RuntimeError, match="retrying"):
            push_inventory(two_channels[0].pk)
    assert retry.called


def test_the_sweeper_finds_a_push_whose_message_was_lost(mug, two_channels, settings):
    settings.COMMERCE_INVENTORY_PUSH_DELAY_SECONDS = 0
    listed(mug.product, two_channels[0])
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, delta=-1)
    InventoryPush.objects.update(requested_at=InventoryPush.objects.get().requested_at.replace(year=2020))
    with mock.patch.object(push_inventory, "delay") as delay:
        assert inventory_pushes_sweep() == {"inventory_channels": 1}
    delay.assert_called_once_with(two_channels[0].pk)


def test_channels_that_do_not_list_the_sku_get_nothing(mug, two_channels):
    with mock.patch.object(push_inventory, "apply_async") as scheduled:
        adjust_stock(stock_level=mug, delta=-1)
    assert not InventoryPush.objects.exists() and not scheduled.called


def test_low_stock_is_published_once_when_sellable_stock_falls_to_the_threshold(org, mug, endpoint):
    adjust_stock(stock_level=mug, on_hand=7)
    adjust_stock(stock_level=mug, delta=-2)  # 5: at the threshold
    adjust_stock(stock_level=mug, delta=-1)  # 4: still low, no second event

    published = events(org, "inventory.low_stock")
    assert len(published) == 1
    assert published[0]["product"]["sku"] == "MUG" and published[0]["available"] == 5
    assert published[0]["low_stock_threshold"] == 5


def test_bad_adjustments_change_nothing(mug):
    with pytest.raises(ValidationError):
        adjust_stock(stock_level=mug, on_hand=-1)
    with pytest.raises(ValidationError):
        adjust_stock(stock_level=mug, delta=-501)
    with pytest.raises(ValidationError):
        adjust_stock(stock_level=mug, delta=1, on_hand=3)
    mug.refresh_from_db()
    assert mug.on_hand == 500


def test_a_figure_the_channel_already_holds_is_not_written_again(mug, two_channels):
    channel = two_channels[0]
    listed(mug.product, channel)
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, on_hand=10)
        push_inventory(channel.pk)
        adjust_stock(stock_level=mug, on_hand=11)
        adjust_stock(stock_level=mug, on_hand=10)  # back where the channel is: nothing to tell it
        push_inventory(channel.pk)
    assert [item["available"] for call in FakeChannel.inventory_calls for item in call] == [10]
    assert not InventoryPush.objects.exists()


def test_each_mapped_location_is_told_its_own_quantity_and_an_unmapped_one_nothing(org, mug, two_channels):
    channel = two_channels[0]
    listed(mug.product, channel)
    ChannelLocation.objects.create(organization=org, integration=channel, external_id="L2", erp_location="shop")
    ChannelLocation.objects.create(organization=org, integration=channel, external_id="L3")  # not mapped
    StockLevel.objects.create(organization=org, product=mug.product, location="shop", on_hand=7, reserved=2)
    StockLevel.objects.create(organization=org, product=mug.product, location="elsewhere", on_hand=99)
    with mock.patch.object(push_inventory, "apply_async"):
        adjust_stock(stock_level=mug, on_hand=40)
        push_inventory(channel.pk)
    sent = {item["location_id"]: item["available"] for call in FakeChannel.inventory_calls for item in call}
    assert sent == {"L1": 40, "L2": 5}  # never a sum over locations, never an unmapped location


@pytest.mark.parametrize("mode", ["import", "off"])
def test_a_channel_that_is_not_in_push_mode_is_never_written(mug, two_channels, mode):
    channel = two_channels[0]
    listed(mug.product, channel)
    channel.stock_mode = mode
    channel.save()
    with mock.patch.object(push_inventory, "apply_async") as scheduled:
        adjust_stock(stock_level=mug, delta=-1)
    assert not InventoryPush.objects.filter(integration=channel).exists() and not scheduled.called
    InventoryPush.objects.create(organization=channel.organization, integration=channel, product=mug.product,
                                 requested_at=mug.updated_at)  # a row left from before the switch
    push_inventory(channel.pk)
    assert FakeChannel.inventory_calls == [] and not InventoryPush.objects.filter(integration=channel).exists()
