"""Amazon orders on Orders API 2026-01-01 (tests/fixtures/amazon_sp/orders_2026__*, order_2026__*).

The fixtures follow amzn/selling-partner-api-models `orders_2026-01-01.json`: searchOrders answers
`{orders, pagination: {nextToken}, lastUpdatedBefore}`; an order carries `orderId`, `createdTime`,
`lastUpdatedTime`, `salesChannel`, `recipient.deliveryAddress`, `proceeds.grandTotal`, `fulfillment`
(`fulfillmentStatus`, `fulfilledBy`) and its `orderItems` (`product`, `quantityOrdered`, per-item
`proceeds.breakdowns` ITEM/TAX/SHIPPING/DISCOUNT, `fulfillment.quantityFulfilled`). The next page is asked
for with the answer's `nextToken` as `paginationToken`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone
from responses import matchers

from config.errors import ValidationError
from connectors import registry
from connectors.amazon_sp import client as amazon_client
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.amazon_sp_support import BASE, US, replay
from tests.connectors.support import sent_json, sent_query
from tests.factories import IntegrationFactory

SEARCH = f"{BASE}/orders/2026-01-01/orders"
V0 = f"{BASE}/orders/v0/orders"
TOKEN = "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"


@pytest.fixture
def integration(db, monkeypatch, public_dns, sleeps):
    monkeypatch.setattr(amazon_client, "OPERATION_LIMITS", {})
    yield IntegrationFactory(
        provider="amazon_sp", status=IntegrationStatus.ACTIVE, access_token="Atza|IwEBIcurrent0001",
        refresh_token="Atzr|IwEBIrefresh0001", expires_at=timezone.now() + timedelta(minutes=50),
        credentials={"client_id": "amzn1.application-oa2-client.0001", "client_secret": "amzn1.oa2-cs.v1.secret"},
        config={"marketplace_ids": [US], "seller_id": "A2SELLER0001", "refunds": False})
    close_sessions()


@responses.activate
def test_orders_2026__two_pages_follow_the_pagination_token(connector):
    replay("GET", SEARCH, "orders_2026__page1",
           match=[matchers.query_param_matcher({"lastUpdatedAfter": "2026-11-01T00:00:00Z"}, strict_match=False)])
    replay("GET", SEARCH, "orders_2026__page2_last",
           match=[matchers.query_param_matcher({"paginationToken": TOKEN}, strict_match=False)])
    pages = list(connector.iter_orders(since=datetime(2026, 11, 1, tzinfo=UTC)))

    first, second = (sent_query(call) for call in responses.calls)
    assert first == {"marketplaceIds": US, "lastUpdatedAfter": "2026-11-01T00:00:00Z", "maxResultsPerPage": "100",
                     "includedData": "FULFILLMENT,PROCEEDS,RECIPIENT"}
    assert second == {**first, "paginationToken": TOKEN}
    assert json.loads(pages[0].next_cursor) == {"phase": "orders", "after": "2026-11-01T00:00:00Z", "next": TOKEN}
    assert pages[1].next_cursor is None
    assert [o["orderId"] for page in pages for o in page.items] == [
        "112-2026001-0000001", "112-2026002-0000002", "112-2026003-0000003", "112-2026004-0000004"]
    assert len(responses.calls) == 2  # items come inline: no getOrderItems call per order


@responses.activate
def test_orders_2026__page1_maps_money_lines_and_status_exactly(connector):
    replay("GET", SEARCH, "orders_2026__page1")
    page = next(connector.iter_orders(since=datetime(2026, 11, 1, tzinfo=UTC)))
    unshipped, partial = (connector.normalize_order(o) for o in page.items)
    assert (unshipped["external_id"], unshipped["status"], unshipped["fulfillment_status"]) == (
        "112-2026001-0000001", "paid", "Unshipped")
    assert (unshipped["currency"], unshipped["subtotal"], unshipped["total_tax"], unshipped["total_shipping"],
            unshipped["total_discounts"], unshipped["total"]) == (
        "USD", Decimal("33.00"), Decimal("2.97"), Decimal("4.99"), Decimal("5.00"), Decimal("35.96"))
    assert [(li["external_id"], li["sku"], li["quantity"], li["price"], li["total"]) for li in unshipped["lines"]] == [
        ("60000000000001", "MUG-BLUE", 2, Decimal("12.50"), Decimal("20.00")),
        ("60000000000002", "TEA-GREEN", 1, Decimal("8.00"), Decimal("8.00"))]
    assert unshipped["placed_at"] == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert unshipped["shipping_address"]["city"] == "SEATTLE" and unshipped["shipping_address"]["country_code"] == "US"
    assert (partial["status"], partial["lines"][0]["fulfilled_quantity"]) == ("partially_fulfilled", 1)


@responses.activate
def test_orders_2026__page2_last_cancelled_and_fba(connector):
    replay("GET", SEARCH, "orders_2026__page2_last")
    cursor = json.dumps({"phase": "orders", "after": "2026-11-01T00:00:00Z", "next": TOKEN})
    [page] = list(connector.iter_orders(cursor=cursor))
    cancelled, fba = (connector.normalize_order(o) for o in page.items)
    assert (cancelled["status"], cancelled["cancelled_at"]) == ("cancelled", datetime(2026, 11, 4, 9, 30, tzinfo=UTC))
    assert fba["status"] == "fulfilled"


@responses.activate
def test_order_2026__unshipped_is_confirmed_through_v0_confirm_shipment(connector):
    """2026-01-01 has no writes: the order is read there, the shipment confirmed on v0's confirmShipment."""
    replay("GET", f"{SEARCH}/112-2026001-0000001", "order_2026__unshipped")
    confirm = responses.add("POST", f"{V0}/112-2026001-0000001/shipmentConfirmation", status=204)
    result = connector.push_fulfillment({"order_id": "112-2026001-0000001", "tracking_number": "1Z999AA10123456784",
                                         "carrier": "UPS", "lines": [{"sku": "TEA-GREEN", "quantity": 1}]})
    assert sent_query(responses.calls[0]) == {"includedData": "FULFILLMENT,PROCEEDS,RECIPIENT"}
    body = sent_json(confirm.calls[0])
    assert body["marketplaceId"] == US
    assert body["packageDetail"]["orderItems"] == [{"orderItemId": "60000000000002", "quantity": 1}]
    assert result["status"] == "confirmed" and len(responses.calls) == 2


@responses.activate
def test_order_2026__fba_is_refused_before_anything_is_sent(connector):
    replay("GET", f"{SEARCH}/112-2026004-0000004", "order_2026__fba")
    with pytest.raises(ValidationError, match="fulfilled by Amazon"):
        connector.push_fulfillment({"order_id": "112-2026004-0000004", "tracking_number": "X1"})
    assert len(responses.calls) == 1


@responses.activate
def test_v0_stays_behind_the_setting_until_its_removal_date(integration, settings, monkeypatch):
    settings.PROVIDER_SETTINGS = {"amazon_sp": {"ORDERS_API": "v0"}}
    removal = "connectors.amazon_sp.connector.V0_REMOVAL"
    monkeypatch.setattr(removal, timezone.now() + timedelta(days=1))  # the day before the removal
    replay("GET", V0, "orders__page2_last")
    replay("GET", f"{V0}/111-0000003-0000003/orderItems", "order_items__111-0000003-0000003")
    connector = registry.connector_for(integration)
    next(connector.iter_orders(since=datetime(2026, 11, 1, tzinfo=UTC)))
    assert responses.calls[0].request.url.startswith(V0)

    monkeypatch.setattr(removal, timezone.now() - timedelta(seconds=1))  # the removal date has come
    with pytest.raises(ValidationError, match="removed Orders v0 on .*: set AMAZON_SP_ORDERS_API to 2026-01-01"):
        next(connector.iter_orders(since=datetime(2026, 11, 1, tzinfo=UTC)))


def test_an_unknown_orders_api_is_refused(integration, settings):
    settings.PROVIDER_SETTINGS = {"amazon_sp": {"ORDERS_API": "2025-01-01"}}
    with pytest.raises(ValidationError, match="AMAZON_SP_ORDERS_API must be 2026-01-01 or v0"):
        registry.connector_for(integration).orders_api()


def test_search_orders_is_paced_on_its_own_bucket():
    policy = amazon_client.OPERATION_LIMITS["searchOrders"]
    assert policy.requests == 20 and round(policy.requests / policy.per_seconds, 4) == 0.0056


def test_the_removal_date_is_amazons():
    from connectors.amazon_sp.connector import V0_REMOVAL

    assert V0_REMOVAL == datetime(2027, 3, 27, tzinfo=UTC)
