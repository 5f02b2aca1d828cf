"""The one import path: a sync page, a webhook and a re-pull each go through `resource_import`, in one vocabulary."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from commerce.models import Order
from connectors import registry
from connectors.base import Connector, Page
from connectors.capabilities import AdsSource, InventorySource, OrdersSource, ProductsSource, ReturnsSource
from connectors.sandbox import mapping as sandbox_mapping
from syncjobs import resources, services
from syncjobs.models import JobType, Trigger
from syncjobs.repull import order_repull
from syncjobs.resources import RESOURCES, ImportSource, resource_import
from syncjobs.tasks import repull_order
from tests.factories import IntegrationFactory
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sandbox"


def raw_order(case: str = "paid", **changes: Any) -> dict:
    order = copy.deepcopy(json.loads((FIXTURES / f"orders__{case}.json").read_text())["body"]["orders"][0])
    order.update(changes)
    return order


class PagedChannel(OrdersSource, Connector):
    """A channel whose order pages are whatever the test put in `orders`, normalized by the sandbox mapping."""

    key = "paged-channel"
    display_name = "Paged channel"
    integration_type = "ecommerce"
    orders: list[dict] = []
    asked_since: list = []

    def iter_orders(self, *, since=None, cursor=None):
        self.asked_since.append(since)
        yield Page(items=list(self.orders), next_cursor=None)

    normalize_order = staticmethod(sandbox_mapping.normalize_order)


@pytest.fixture
def channel(org):
    PagedChannel.orders, PagedChannel.asked_since = [], []
    registry.register(PagedChannel)
    yield IntegrationFactory(organization=org, provider=PagedChannel.key, status="active")
    registry.unregister(PagedChannel.key)


@pytest.fixture
def spy(monkeypatch):
    """Every resource_import call, as (source, resource name, number of records), wherever it is called from."""
    calls: list[tuple[str, str, int]] = []
    real = resources.resource_import

    def recording(integration, resource, records, **kwargs):
        result = real(integration, resource, records, **kwargs)
        calls.append((kwargs["source"], result.resource, len(records)))
        return result

    for module in ("syncjobs.engine", "syncjobs.repull", "webhooks.inbound.handlers"):
        monkeypatch.setattr(f"{module}.resource_import", recording)
    return calls


# ---------------------------------------------------------------------- the three entry points
def test_a_sync_page_goes_through_resource_import(integration, shop, writer, spy):
    shop.add_orders(25)
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    done = services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert spy == [(ImportSource.SYNC, "orders", 10)] * 2 + [(ImportSource.SYNC, "orders", 5)]
    assert done.records_created == 25


def test_a_webhook_goes_through_resource_import(org, spy):
    shop = IntegrationFactory(organization=org, provider="sandbox", status="active")
    webhook = IncomingWebhook.objects.create(
        integration=shop, organization=org, event_type="orders/create", source="sandbox", external_id="wh-1",
        body=json.dumps(raw_order()).encode(),
        headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-1"},
    )
    assert webhook_process(webhook_id=webhook.pk) == "completed"
    assert spy == [(ImportSource.WEBHOOK, "orders", 1)]
    assert IncomingWebhook.objects.get(pk=webhook.pk).metadata["result"] == {
        "orders": {"created": 1, "updated": 0, "unchanged": 0}}


def test_a_repull_goes_through_resource_import_and_finds_the_order(channel, spy):
    first = raw_order("paid")
    resource_import(channel, "orders", [first], source=ImportSource.SYNC)
    order = Order.objects.get()
    newer = raw_order("cancelled", id=first["id"], updated_at="2030-01-01T00:00:00Z")
    PagedChannel.orders = [newer]

    totals = repull_order(order.pk)  # the task, under the name queued messages carry

    assert repull_order.name == "commerce.tasks.repull_order"
    assert spy == [(ImportSource.REPULL, "orders", 1)]
    assert totals == {"created": 0, "updated": 1, "unchanged": 0, "failed": 0, "found": True}
    assert PagedChannel.asked_since == [order.external_updated_at]  # only what changed since our version
    assert Order.objects.get().status == "cancelled"


def test_a_repull_reports_an_unchanged_order_as_not_found_and_counts_unreadable_records(channel):
    resource_import(channel, "orders", [raw_order("paid")], source=ImportSource.SYNC)
    PagedChannel.orders = [raw_order("paid", id=999, currency=None)]  # another order, unreadable
    totals = order_repull(order_id=Order.objects.get().pk)
    assert totals == {"created": 0, "updated": 0, "unchanged": 0, "failed": 1, "found": False}


def test_a_repull_of_a_channel_that_serves_no_orders_says_so(org):
    shop = IntegrationFactory(organization=org, provider="fancourier", type="shipping")
    order = Order.objects.create(organization=org, integration=shop, external_id="1", external_number="#1",
                                 currency="RON", total="1.00", placed_at="2024-01-01T00:00:00Z")
    assert order_repull(order_id=order.pk) == {"found": False, "reason": "the channel does not serve orders"}


# ---------------------------------------------------------------------- resource_import itself
def test_the_table_names_each_resource_once_in_every_vocabulary():
    from connectors.capabilities import MarketingCampaignSource, SocialChannel

    assert list(RESOURCES) == ["products", "inventory", "orders", "returns", "ad_accounts", "campaigns", "ad_sets",
                               "ad_metrics", "social_accounts", "posts", "marketing_campaigns"]
    assert {r.event_resource for r in RESOURCES.values()} == {"product", "inventory_level", "order", "return",
                                                               "ad_account", "campaign", "ad_set", "ad_metrics_day",
                                                               "social_account", "post", "marketing_campaign"}
    for resource in RESOURCES.values():
        assert callable(resource.writer())
        [mixin] = [m for m in (ProductsSource, InventorySource, OrdersSource, ReturnsSource, AdsSource, SocialChannel,
                               MarketingCampaignSource)
                   if m.capability == resource.capability and hasattr(m, resource.pull)]
        assert callable(getattr(mixin, resource.pull)) and callable(getattr(mixin, resource.normalize_with))


def test_unreadable_records_fail_with_their_ids_and_the_others_are_written(channel):
    good, bad = raw_order("paid"), raw_order("pending", id=4242, currency=None)
    result = resource_import(channel, "orders", [bad, good], source=ImportSource.WEBHOOK)
    assert (result.received, result.created, result.processed) == (2, 1, 2)
    [failure] = result.failed
    assert failure["resource"] == "orders" and failure["external_id"] == "4242"
    assert failure["reason"] == "unreadable" and "has no currency" in failure["error"]
    assert result.external_ids == {str(good["id"])}


def test_a_window_skips_records_placed_outside_it(channel):
    record = raw_order("paid")
    placed = sandbox_mapping.normalize_order(record)["placed_at"]
    result = resource_import(channel, "orders", [record], source=ImportSource.SYNC,
                             window=(placed + timedelta(seconds=1), None))
    assert (result.skipped, result.processed, result.created) == (1, 0, 0)
    assert not Order.objects.exists()


def test_the_writer_can_be_replaced_and_its_failures_keep_their_reason(channel):
    written: list[dict] = []

    def write(*, integration, orders):
        written.extend(orders)
        return mock.Mock(created=0, updated=0, unchanged=0, unmapped_locations={"L9"},
                         failed=[{"external_id": "7", "error": "nope", "reason": "unknown_item"}])

    result = resource_import(channel, "orders", [raw_order("paid")], source=ImportSource.SYNC, write=write)
    assert len(written) == 1 and not Order.objects.exists()
    assert result.failed == [{"resource": "orders", "external_id": "7", "error": "nope", "reason": "unknown_item"}]
    assert result.unmapped_locations == {"L9"}
