"""Trendyol claims → returns through the one import path: accepted items restock once at the mapped location."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from django.utils import timezone

from commerce.models import ChannelLocation, Order, OrderLine, OrderStatus, Product, Return, StockLevel
from connectors import registry
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint

BASE = "https://apigw.trendyol.com"
CLAIMS = f"{BASE}/integration/order/sellers/123456/claims"
fixture = Recorded("trendyol")


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="trendyol", status=IntegrationStatus.ACTIVE, api_key="tyKEY1111",
                             api_secret="tySECRET2222", config={"seller_id": "123456"})
    close_sessions()


@pytest.fixture
def order(integration) -> Order:
    """Order 10001 as imported: two units of TSHIRT-M shipped; its channel location maps to warehouse-cluj."""
    ChannelLocation.objects.create(organization=integration.organization, integration=integration,
                                   external_id="trendyol", erp_location="warehouse-cluj")
    product = Product.objects.create(organization=integration.organization, sku="TSHIRT-M")
    order = Order.objects.create(organization=integration.organization, integration=integration, external_id="10001",
                                 external_number="10001", status=OrderStatus.DELIVERED, currency="RON",
                                 total=Decimal("249.90"), placed_at=timezone.now())
    OrderLine.objects.create(order=order, external_id="5551001", product=product, sku="TSHIRT-M", quantity=2,
                             unit_price=Decimal("124.95"), total=Decimal("249.90"), fulfilled_quantity=2)
    return order


def claims() -> list[dict]:
    connector = registry.connector_for(Order.objects.get().integration)
    return [claim for page in connector.iter_returns() for claim in page.items]


def on_hand(location: str) -> int:
    level = StockLevel.objects.filter(product__sku="TSHIRT-M", location=location).first()
    return level.on_hand if level else 0


@responses.activate
def test_an_accepted_claim_item_restocks_once_at_the_mapped_location_even_when_reimported(integration, order):
    WebhookEndpoint.objects.create(organization=integration.organization, url="https://erp.example/hook",
                                   events=["*"], secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")
    fixture.replay("GET", CLAIMS, "claims__page0")

    first = resource_import(integration, "returns", claims(), source=ImportSource.SYNC)
    again = resource_import(integration, "returns", claims(), source=ImportSource.SYNC)

    assert (first.created, first.failed) == (1, [])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert on_hand("warehouse-cluj") == 1  # the accepted unit; the one awaiting the seller's decision is not back
    returned = Return.objects.get()
    assert (returned.external_id, returned.source, returned.location) == (
        "f6f6bd2e-7a8d-4c55-9f1a-1d2b3c4d5e6f", "channel", "warehouse-cluj")
    assert list(returned.lines.values_list("external_id", "quantity")) == [("a1b2c3d4-0001-4c55-9f1a-000000000001", 1)]
    assert OrderLine.objects.get().returned_quantity == 1
    assert Order.objects.get().status == "delivered"  # one of two units back: not returned
    events = list(WebhookDelivery.objects.values_list("event", flat=True))
    assert events == ["order.updated"] and WebhookDelivery.objects.get().payload["data"]["return"]["lines"] == [
        {"sku": "TSHIRT-M", "quantity": 1}]
    query = responses.calls[0].request.params
    assert set(query) == {"startDate", "endDate", "page", "size"}


@responses.activate
def test_the_second_item_accepted_later_restocks_then_and_the_order_becomes_returned_once(integration, order):
    WebhookEndpoint.objects.create(organization=integration.organization, url="https://erp.example/hook",
                                   events=["order.returned"], secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")
    body = fixture("claims__page0")["body"]
    responses.add(responses.GET, CLAIMS, json=body)
    resource_import(integration, "returns", claims(), source=ImportSource.SYNC)
    body["content"][0]["items"][0]["claimItems"][1]["claimItemStatus"] = {"name": "Accepted"}
    responses.replace(responses.GET, CLAIMS, json=body)

    later = resource_import(integration, "returns", claims(), source=ImportSource.SYNC)
    resource_import(integration, "returns", claims(), source=ImportSource.SYNC)

    assert later.updated == 1
    assert on_hand("warehouse-cluj") == 2
    order.refresh_from_db()
    assert (order.status, order.returned_at is not None) == ("returned", True)
    assert WebhookDelivery.objects.filter(event="order.returned").count() == 1


@responses.activate
def test_a_claim_for_an_order_not_imported_yet_fails_and_restocks_nothing(integration, order):
    body = fixture("claims__page0")["body"]
    body["content"][0]["orderNumber"] = "99999"
    responses.add(responses.GET, CLAIMS, json=body)
    result = resource_import(integration, "returns", claims(), source=ImportSource.SYNC)
    assert [f["reason"] for f in result.failed] == ["unknown_order"]
    assert on_hand("warehouse-cluj") == 0 and not Return.objects.exists()


# ---------------------------------------------------------------------- the common label, delivery confirmation
LABEL = f"{BASE}/integration/sellers/123456/common-label/7330029876543"


@responses.activate
def test_the_common_label_is_asked_for_then_read_as_zpl(integration):
    responses.add(responses.POST, LABEL, status=200)
    fixture.replay("GET", LABEL, "common_label__get")

    label = registry.connector_for(integration).fetch_label({"tracking_number": "7330029876543"})

    assert label["content_type"] == "x-application/zpl" and label["content"].startswith(b"^XA")
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]
    assert json.loads(responses.calls[0].request.body) == {"format": "ZPL", "boxQuantity": 1}


@responses.activate
def test_delivery_is_confirmed_only_for_seller_delivered_packages(integration):
    connector = registry.connector_for(integration)
    assert connector.push_delivery({"tracking_number": "7330029876543"}) is None and not responses.calls
    integration.config = {**integration.config, "confirm_delivery": True}
    integration.save()
    responses.add(responses.PUT, f"{BASE}/integration/order/sellers/123456/manual-deliver/7330029876543")
    assert registry.connector_for(integration).push_delivery({"tracking_number": "7330029876543"}) == {
        "confirmed": "7330029876543"}
