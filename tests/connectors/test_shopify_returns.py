"""Shopify refunds → returns through the one import path: units refunded with `restock_type` `return` restock once
at the mapped location, in a sync and from the `refunds/create` webhook; nothing else restocks."""

from __future__ import annotations

import json
from decimal import Decimal

import responses
from django.utils import timezone

from commerce.models import ChannelLocation, Order, OrderLine, OrderStatus, Product, Return, StockLevel
from connectors import registry
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.shopify_support import API, integration, replay  # noqa: F401 (the fixture)
from tests.connectors.support import sent_query


def imported_order(integration) -> Order:  # noqa: F811
    """Order 5500000008 as imported and shipped: 2 × TRICOU-M and 1 × SOSETE; location 72000002 → warehouse-buc."""
    ChannelLocation.objects.create(organization=integration.organization, integration=integration,
                                   external_id="72000002", erp_location="warehouse-buc")
    order = Order.objects.create(organization=integration.organization, integration=integration,
                                 external_id="5500000008", status=OrderStatus.FULFILLED, currency="RON",
                                 total=Decimal("275"), placed_at=timezone.now())
    for line_id, sku, quantity in (("14100000011", "TRICOU-M", 2), ("14100000012", "SOSETE", 1)):
        product = Product.objects.create(organization=integration.organization, sku=sku)
        OrderLine.objects.create(order=order, external_id=line_id, product=product, sku=sku, quantity=quantity,
                                 unit_price=Decimal("120"), total=Decimal("240"), fulfilled_quantity=quantity)
    return order


def on_hand(sku: str, location: str = "warehouse-buc") -> int:
    level = StockLevel.objects.filter(product__sku=sku, location=location).first()
    return level.on_hand if level else 0


def refunds(integration, **kwargs) -> list[dict]:  # noqa: F811
    return [record for page in registry.connector_for(integration).iter_returns(**kwargs) for record in page.items]


@responses.activate
def test_a_returned_unit_restocks_once_and_a_refund_without_restock_does_not(integration):  # noqa: F811
    order = imported_order(integration)
    replay("GET", f"{API}/orders.json", "orders__returned")
    replay("GET", f"{API}/orders.json", "orders__returned")
    since = timezone.now() - timezone.timedelta(hours=1)

    first = resource_import(integration, "returns", refunds(integration, since=since), source=ImportSource.SYNC)
    again = resource_import(integration, "returns", refunds(integration), source=ImportSource.SYNC)

    query = sent_query(responses.calls[0])
    assert (query["status"], query["fields"]) == ("any", "id,refunds") and "updated_at_min" in query
    assert "updated_at_min" in sent_query(responses.calls[1])  # a first sync too: the last 90 days, not all
    assert (first.created, first.failed) == (1, [])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert (on_hand("TRICOU-M"), on_hand("SOSETE")) == (1, 0)  # the sock was refunded, not sent back
    returned = Return.objects.get()
    assert (returned.order_id, returned.external_id, returned.reason, returned.location) == (
        order.pk, "9200000003", "Wrong size", "warehouse-buc")
    assert [(line.order_line.sku, line.quantity, line.external_id) for line in returned.lines.all()] == [
        ("TRICOU-M", 1, "9300000003")]
    assert OrderLine.objects.get(sku="TRICOU-M").returned_quantity == 1


def test_the_refunds_create_webhook_imports_the_same_return(integration):  # noqa: F811
    from syncjobs.resources import BY_EVENT_RESOURCE as resources
    from webhooks.inbound.handlers import handle_resource

    imported_order(integration)
    connector = registry.connector_for(integration)
    refund = json.load(open("tests/fixtures/shopify/orders__returned.json"))["body"]["orders"][0]["refunds"][0]
    [event] = connector.parse_webhook({"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w-1"},
                                      json.dumps(refund).encode())
    assert event.resource == "return"
    assert handle_resource(connector, resources["return"], [event]) == {
        "returns": {"created": 1, "updated": 0, "unchanged": 0}}
    assert on_hand("TRICOU-M") == 1
    handle_resource(connector, resources["return"], [event])  # Shopify delivers a webhook more than once
    assert on_hand("TRICOU-M") == 1 and Return.objects.count() == 1
