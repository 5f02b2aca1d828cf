"""The Amazon SP-API connector against recorded answers (tests/fixtures/amazon_sp/), one test per fixture.

A fixture is `{"status", "headers", "body"}`. Hosts are Amazon's real ones (sellingpartnerapi-na, api.amazon.com):
`connectors.outbound.resolve` is patched to a public address so the outbound check passes, and `responses`
answers before any socket is opened. Token and OAuth tests are in test_amazon_sp_auth.py.
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
from connectors import http, registry
from connectors.amazon_sp import client as amazon_client
from connectors.amazon_sp.connector import AmazonSPConnector
from connectors.errors import ProviderError, ProviderUnavailable, RateLimited
from connectors.sessions import close_sessions
from integrations.models import IntegrationLog, IntegrationStatus
from tests.connectors.amazon_sp_support import BASE, FBA, ORDERS, US, fixture, replay
from tests.connectors.support import sent_json, sent_query
from tests.factories import IntegrationFactory

LISTINGS = f"{BASE}/listings/2021-08-01/items/A2SELLER0001"
FINANCES = f"{BASE}/finances/v0/financialEvents"


def query(**params) -> list:
    return [matchers.query_param_matcher(params, strict_match=False)]


def items_of(order_id: str) -> responses.BaseResponse:
    return replay("GET", f"{ORDERS}/{order_id}/orderItems", f"order_items__{order_id}")


@pytest.fixture(autouse=True)
def orders_v0(settings, monkeypatch):
    """These are the Orders v0 tests (kept while v0 is, behind AMAZON_SP_ORDERS_API; 2026-01-01:
    test_amazon_sp_orders_2026.py). The removal date is moved out of the way so they do not expire with it."""
    settings.PROVIDER_SETTINGS = {**(getattr(settings, "PROVIDER_SETTINGS", None) or {}),
                                  "amazon_sp": {"ORDERS_API": "v0"}}
    monkeypatch.setattr("connectors.amazon_sp.connector.V0_REMOVAL", datetime(9999, 1, 1, tzinfo=UTC))


@pytest.fixture
def integration(db, monkeypatch, public_dns, sleeps):
    monkeypatch.setattr(amazon_client, "OPERATION_LIMITS", {})  # the buckets are the rate limiter's tests' business
    yield IntegrationFactory(
        provider="amazon_sp", status=IntegrationStatus.ACTIVE, access_token="Atza|IwEBIcurrent0001",
        refresh_token="Atzr|IwEBIrefresh0001", expires_at=timezone.now() + timedelta(minutes=50),
        credentials={"client_id": "amzn1.application-oa2-client.0001", "client_secret": "amzn1.oa2-cs.v1.secret"},
        config={"marketplace_ids": [US], "seller_id": "A2SELLER0001"})
    close_sessions()


# ---------------------------------------------------------------------- declaration, hosts, headers
def test_the_registry_knows_amazon_and_what_it_can_do():
    cls = registry.get("amazon_sp")
    assert cls is AmazonSPConnector
    described = cls.describe()
    assert described["capabilities"] == ["fulfillments", "inventory", "orders", "products"]
    assert described["auth_kind"] == "oauth2" and described["webhook_scheme"] is None
    assert described["rate_limit"] == {"requests": 30, "per_seconds": 60.0}  # getOrderItems: 0.5/s, burst 30


def test_the_marketplaces_pick_the_regional_host_and_the_sandbox(db):
    def base(ids, **kwargs):
        return AmazonSPConnector(IntegrationFactory(provider="amazon_sp", config={"marketplace_ids": ids},
                                                    **kwargs)).resolved_base_url()

    assert base([US]) == BASE
    assert base("A1PA6795UKMFR9, A1F83G8C2ARO7P") == "https://sellingpartnerapi-eu.amazon.com"
    assert base(["A1VC38T7YXB528"]) == "https://sellingpartnerapi-fe.amazon.com"
    assert base(["A33AVAJ2PDY3EV"], is_test_mode=True) == "https://sandbox.sellingpartnerapi-eu.amazon.com"
    assert base([US], api_endpoint="https://sp-proxy.example.com/") == "https://sp-proxy.example.com"
    with pytest.raises(ValidationError, match="share a region"):
        base([US, "A1PA6795UKMFR9"])
    with pytest.raises(ValidationError, match="marketplace ids in config"):
        base([])


def test_calls_carry_the_access_token_header(connector):
    assert connector.auth_headers() == {"x-amz-access-token": "Atza|IwEBIcurrent0001"}


# ---------------------------------------------------------------------- the must-show pull
@responses.activate
def test_an_incremental_pull_over_two_pages_and_the_refunds(connector, integration):
    from commerce.services import upsert_orders

    first = replay("GET", ORDERS, "orders__page1", match=query(LastUpdatedAfter="2024-03-01T00:00:00Z"))
    second = replay("GET", ORDERS, "orders__page2_last", match=query(NextToken="MRgZW55IGNhcm5hbCBwbGVhc3VyZS4="))
    for order_id in ("111-0000001-0000001", "111-0000002-0000002", "111-0000003-0000003", "111-0000005-0000005"):
        items_of(order_id)
    replay("GET", FINANCES, "financial_events__page1", match=query(PostedAfter="2024-03-01T00:00:00Z"))
    replay("GET", f"{ORDERS}/111-0000005-0000005", "orders__refunded")
    replay("GET", f"{BASE}/finances/v0/orders/111-0000005-0000005/financialEvents", "financial_events__order_refunded")

    pages = list(connector.iter_orders(since=datetime(2024, 3, 1, tzinfo=UTC)))
    orders = [connector.normalize_order(o) for page in pages for o in page.items]

    assert sent_query(first.calls[0]) == {"MarketplaceIds": US, "MaxResultsPerPage": "100",
                                          "LastUpdatedAfter": "2024-03-01T00:00:00Z"}
    assert sent_query(second.calls[0]) == {"MarketplaceIds": US, "MaxResultsPerPage": "100",
                                           "NextToken": "MRgZW55IGNhcm5hbCBwbGVhc3VyZS4="}  # the token carries filters
    assert [json.loads(p.next_cursor) if p.next_cursor else None for p in pages] == [
        {"phase": "orders", "after": "2024-03-01T00:00:00Z", "next": "MRgZW55IGNhcm5hbCBwbGVhc3VyZS4="},
        {"phase": "refunds", "after": "2024-03-01T00:00:00Z", "next": ""},
        None,
    ]
    assert [(o["number"], o["status"], o["total"]) for o in orders] == [
        ("111-0000001-0000001", "paid", Decimal("49.17")),
        ("111-0000002-0000002", "partially_fulfilled", Decimal("30.49")),
        ("111-0000003-0000003", "fulfilled", Decimal("10.00")),
        ("111-0000005-0000005", "refunded", Decimal("25.00")),
    ]
    assert orders[0] == {
        "external_id": "111-0000001-0000001", "number": "111-0000001-0000001", "name": "", "status": "paid",
        "financial_status": "", "fulfillment_status": "Unshipped", "currency": "USD",
        "subtotal": Decimal("39.98"), "total_discounts": Decimal("0.00"), "total_tax": Decimal("3.20"),
        "total_shipping": Decimal("5.99"), "total": Decimal("49.17"),
        "customer": {"external_id": "", "email": "", "name": ""},
        "shipping_address": {"name": "", "company": "", "address1": "", "address2": "", "city": "SEATTLE",
                             "province_code": "WA", "zip": "98101-1234", "country_code": "US", "phone": ""},
        "billing_address": {},
        "placed_at": datetime(2024, 3, 1, 8, tzinfo=UTC), "updated_at": datetime(2024, 3, 1, 8, 5, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [{"external_id": "10000000000001", "sku": "TS-RED-M", "title": "T-shirt, red, M", "quantity": 2,
                   "price": Decimal("19.99"), "total": Decimal("39.98"), "fulfilled_quantity": 0,
                   "variant_external_id": "TS-RED-M", "product_external_id": "B0TSHIRT0M"}],
    }
    assert [(li["sku"], li["price"], li["total"], li["fulfilled_quantity"]) for li in orders[1]["lines"]] == [
        ("MUG-WHT", Decimal("12.50"), Decimal("12.50"), 1), ("TS-RED-L", Decimal("19.99"), Decimal("17.99"), 0)]
    assert orders[1]["total_discounts"] == Decimal("2.00") and orders[1]["subtotal"] == Decimal("32.49")
    assert orders[3]["financial_status"] == "refunded"

    result = upsert_orders(integration=integration, orders=orders)
    assert (result.created, result.failed) == (4, [])


@responses.activate
def test_orders__page1(connector):
    replay("GET", ORDERS, "orders__page1")
    items_of("111-0000001-0000001")
    items_of("111-0000002-0000002")
    page = next(connector.iter_orders(since=datetime(2024, 3, 1, 9, 30, 15, 999, tzinfo=UTC)))
    assert sent_query(responses.calls[0])["LastUpdatedAfter"] == "2024-03-01T09:30:15Z"
    assert [len(o["OrderItems"]) for o in page.items] == [1, 2]  # each order's items fetched with it


@responses.activate
def test_orders__page2_last_resumes_from_the_stored_token(connector, integration):
    integration.config = {**integration.config, "refunds": False}
    replay("GET", ORDERS, "orders__page2_last")
    items_of("111-0000003-0000003")
    cursor = json.dumps({"phase": "orders", "after": "2024-03-01T00:00:00Z", "next": "TOKEN-2"})
    [page] = list(connector.iter_orders(cursor=cursor))
    assert sent_query(responses.calls[0])["NextToken"] == "TOKEN-2" and page.next_cursor is None
    assert connector.normalize_order(page.items[0])["lines"][0]["price"] == Decimal("3.33")  # 10.00 / 3, to the cent


@responses.activate
def test_orders__cancelled(connector, integration):
    integration.config = {**integration.config, "refunds": False}
    replay("GET", ORDERS, "orders__cancelled")
    items_of("111-0000004-0000004")
    order = connector.normalize_order(next(connector.iter_orders()).items[0])
    assert (order["status"], order["fulfillment_status"]) == ("cancelled", "Canceled")
    assert order["cancelled_at"] == datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
    assert (order["currency"], order["total"]) == ("USD", Decimal("0"))  # no OrderTotal: the marketplace's currency
    assert [(li["quantity"], li["price"]) for li in order["lines"]] == [(1, Decimal("0"))]


def test_order_items__111_0000004_0000004_without_a_known_status_fail_by_name():
    from connectors.amazon_sp.mapping import MappingError, normalize_order

    order = fixture("orders__cancelled")["body"]["payload"]["Orders"][0]
    items = fixture("order_items__111-0000004-0000004")["body"]["payload"]["OrderItems"]
    with pytest.raises(MappingError, match="unknown OrderStatus 'Returned'"):
        normalize_order({**order, "OrderStatus": "Returned", "OrderItems": items})


@responses.activate
def test_orders__refunded_and_financial_events__order_refunded(connector):
    """A webhook-less bare order: normalize_order fetches its items; a refund of every unit makes it refunded."""
    items_of("111-0000005-0000005")
    order = fixture("orders__refunded")["body"]["payload"]
    assert connector.normalize_order(order)["status"] == "fulfilled"
    refunds = fixture("financial_events__order_refunded")["body"]["payload"]["FinancialEvents"]["RefundEventList"]
    half = json.loads(json.dumps(refunds))
    half[0]["ShipmentItemAdjustmentList"][0]["QuantityShipped"] = 1
    assert connector.normalize_order({**order, "Refunds": refunds})["status"] == "refunded"
    partial = connector.normalize_order({**order, "Refunds": half})
    assert (partial["status"], partial["financial_status"]) == ("fulfilled", "partially_refunded")


@responses.activate
def test_financial_events__page1(connector):
    """The refund phase alone (a resumed job): refunded orders are read again, with their items and refunds."""
    replay("GET", FINANCES, "financial_events__page1")
    replay("GET", f"{ORDERS}/111-0000005-0000005", "orders__refunded")
    items_of("111-0000005-0000005")
    replay("GET", f"{BASE}/finances/v0/orders/111-0000005-0000005/financialEvents", "financial_events__order_refunded")
    cursor = json.dumps({"phase": "refunds", "after": "2024-03-05T00:00:00Z", "next": ""})
    [page] = list(connector.iter_orders(cursor=cursor))
    assert sent_query(responses.calls[0]) == {"MaxResultsPerPage": "100", "PostedAfter": "2024-03-05T00:00:00Z"}
    assert [o["AmazonOrderId"] for o in page.items] == ["111-0000005-0000005"] and page.next_cursor is None


@pytest.mark.parametrize("order_id", ["111-0000001-0000001", "111-0000002-0000002", "111-0000003-0000003"])
def test_order_items__of_the_pull_map_every_line(order_id):
    from connectors.amazon_sp.mapping import normalize_line

    items = fixture(f"order_items__{order_id}")["body"]["payload"]["OrderItems"]
    lines = [normalize_line(i, order_id) for i in items]
    assert all(line["sku"] and line["price"] > 0 for line in lines)


# ---------------------------------------------------------------------- listings, stock
@responses.activate
def test_listings__multi_variant_and_listings__by_sku(connector):
    """The page has the parent and one child: the other child is found by SKU, so the product is whole."""
    replay("GET", LISTINGS, "listings__multi_variant", match=query(sortBy="lastUpdatedDate"))
    by_sku = replay("GET", LISTINGS, "listings__by_sku", match=query(identifiers="TS-RED-L"))
    page = next(connector.iter_products(since=datetime(2024, 3, 1, tzinfo=UTC)))
    assert sent_query(responses.calls[0]) == {
        "marketplaceIds": US, "includedData": "summaries,offers,fulfillmentAvailability,relationships",
        "pageSize": "20", "sortBy": "lastUpdatedDate", "sortOrder": "ASC", "lastUpdatedAfter": "2024-03-01T00:00:00Z"}
    assert sent_query(by_sku.calls[0])["identifiersType"] == "SKU"
    [product] = [connector.normalize_product(f) for f in page.items]
    assert product == {
        "external_id": "TS-RED", "title": "T-shirt, red", "status": "active",
        "updated_at": datetime(2024, 3, 1, 11, tzinfo=UTC),
        "variants": [
            {"external_id": "TS-RED-M", "sku": "TS-RED-M", "name": "T-shirt, red, M", "price": Decimal("19.99"),
             "barcode": "", "inventory_item_id": "TS-RED-M", "on_hand": 14, "asin": "B0TSHIRT0M",
             "product_type": "SHIRT"},
            {"external_id": "TS-RED-L", "sku": "TS-RED-L", "name": "T-shirt, red, L", "price": Decimal("21.99"),
             "barcode": "", "inventory_item_id": "TS-RED-L", "on_hand": 0, "asin": "B0TSHIRT0L",
             "product_type": "SHIRT"},
        ],
    }
    assert json.loads(page.next_cursor)["next"].startswith("xsdflkj")


@responses.activate
def test_listings__page2_last(connector, integration):
    from commerce.services import upsert_products

    replay("GET", LISTINGS, "listings__page2_last", match=query(pageToken="TOKEN-L2"))
    [page] = list(connector.iter_products(cursor=json.dumps({"after": "", "next": "TOKEN-L2"})))
    [mug] = [connector.normalize_product(f) for f in page.items]
    assert page.next_cursor is None
    assert (mug["external_id"], mug["status"], [v["sku"] for v in mug["variants"]]) == ("MUG-WHT", "inactive",
                                                                                        ["MUG-WHT"])
    assert upsert_products(integration=integration, products=[mug]).created == 1


@responses.activate
def test_fba_inventory__page1_and_page2_last(connector):
    first = replay("GET", FBA, "fba_inventory__page1", match=query(granularityId=US))
    second = replay("GET", FBA, "fba_inventory__page2_last", match=query(nextToken="seed-token-0001"))
    pages = list(connector.iter_inventory(since=datetime(2024, 3, 3, tzinfo=UTC)))
    levels = [connector.normalize_inventory_level(s) for p in pages for s in p.items]
    assert sent_query(first.calls[0]) == {"details": "true", "granularityType": "Marketplace", "granularityId": US,
                                          "marketplaceIds": US, "startDateTime": "2024-03-03T00:00:00Z"}
    assert sent_query(second.calls[0])["startDateTime"] == "2024-03-03T00:00:00Z"  # repeated with the token
    assert levels == [
        {"inventory_item_id": "TS-RED-M", "location_id": f"AFN:{US}", "available": 40,
         "updated_at": datetime(2024, 3, 3, 6, tzinfo=UTC)},
        {"inventory_item_id": "TS-RED-L", "location_id": f"AFN:{US}", "available": 0, "updated_at": None},
        {"inventory_item_id": "MUG-WHT", "location_id": f"AFN:{US}", "available": 7,
         "updated_at": datetime(2024, 3, 3, 7, tzinfo=UTC)},
    ]
    assert [p.next_cursor is None for p in pages] == [False, True]


@responses.activate
def test_listings__patch_accepted(connector, integration):
    integration.config = {**integration.config, "lead_time_to_ship_max_days": 2}
    patch = replay("PATCH", f"{LISTINGS}/TS-RED-M", "listings__patch_accepted", match=query(marketplaceIds=US))
    result = connector.push_inventory([{"sku": "TS-RED-M", "inventory_item_id": "TS-RED-M", "available": 9}])
    assert sent_json(patch.calls[0]) == {
        "productType": "PRODUCT",
        "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                     "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9,
                                "lead_time_to_ship_max_days": 2}]}]}
    assert result == {"updated": 1, "submission_ids": ["f1dc2914-75dd-11ea-bc55-0242ac130003"]}


@responses.activate
def test_listings__patch_invalid(connector):
    replay("PATCH", f"{LISTINGS}/TS-RED-M", "listings__patch_accepted")
    replay("PATCH", f"{LISTINGS}/MUG-WHT", "listings__patch_invalid")
    with pytest.raises(ProviderError, match="MUG-WHT: 'fulfillment_availability' is required") as caught:
        connector.push_inventory([{"sku": "TS-RED-M", "available": 1}, {"sku": "MUG-WHT", "available": -3}])
    assert not caught.value.transient and len(responses.calls) == 2  # the good SKU was still sent
    assert sent_json(responses.calls[1])["patches"][0]["value"] == [{"fulfillment_channel_code": "DEFAULT",
                                                                     "quantity": 0}]


# ---------------------------------------------------------------------- fulfillment
@responses.activate
def test_order__unshipped_is_confirmed_with_carrier_and_tracking(connector, monkeypatch):
    """The must-show push: the exact confirmShipment body Amazon expects, answered 204."""
    monkeypatch.setattr("connectors.amazon_sp.connector.timezone.now",
                        lambda: datetime(2024, 3, 6, 15, 30, 45, 123456, tzinfo=UTC))
    replay("GET", f"{ORDERS}/111-0000006-0000006", "order__unshipped")
    confirm = responses.add("POST", f"{ORDERS}/111-0000006-0000006/shipmentConfirmation", status=204)

    result = connector.push_fulfillment({
        "order_id": "111-0000006-0000006", "lines": [{"line_item_id": "60000000000001", "quantity": 1}],
        "tracking_number": "1Z999AA10123456784", "carrier": "UPS", "carrier_code": "", "notify_customer": False})

    reference = result["external_id"]
    assert reference.isdigit() and int(reference) > 0
    assert sent_json(confirm.calls[0]) == {
        "marketplaceId": US,
        "packageDetail": {"packageReferenceId": reference, "carrierCode": "UPS",
                          "trackingNumber": "1Z999AA10123456784", "shipDate": "2024-03-06T15:30:45Z",
                          "orderItems": [{"orderItemId": "60000000000001", "quantity": 1}]},
    }
    assert result == {"external_id": reference, "status": "confirmed", "tracking_number": "1Z999AA10123456784",
                      "carrier": "UPS", "line_items": [{"orderItemId": "60000000000001", "quantity": 1}]}


@responses.activate
def test_order_items__111_0000006_0000006_an_unknown_carrier_ships_everything_open_as_other(connector):
    replay("GET", f"{ORDERS}/111-0000006-0000006", "order__unshipped")
    items_of("111-0000006-0000006")
    confirm = responses.add("POST", f"{ORDERS}/111-0000006-0000006/shipmentConfirmation", status=204)
    first = connector.push_fulfillment({"order_id": "111-0000006-0000006", "tracking_number": "FC123456789RO",
                                        "carrier": "FAN Courier", "shipping_method": "Standard"})
    package = sent_json(confirm.calls[0])["packageDetail"]
    assert (package["carrierCode"], package["carrierName"], package["shippingMethod"]) == (
        "Other", "FAN Courier", "Standard")
    assert package["orderItems"] == [{"orderItemId": "60000000000001", "quantity": 1},
                                     {"orderItemId": "60000000000002", "quantity": 1}]
    again = connector.push_fulfillment({"order_id": "111-0000006-0000006", "tracking_number": "FC123456789RO",
                                        "lines": [{"sku": "MUG-WHT", "quantity": 1}]})
    assert again["external_id"] == first["external_id"]  # a retry edits the same package at Amazon


@responses.activate
def test_order__fba_is_refused_before_anything_is_sent(connector):
    replay("GET", f"{ORDERS}/111-0000007-0000007", "order__fba")
    with pytest.raises(ValidationError, match="fulfilled by Amazon"):
        connector.push_fulfillment({"order_id": "111-0000007-0000007", "tracking_number": "X1"})
    assert len(responses.calls) == 1


# ---------------------------------------------------------------------- errors and rate limits, one per fixture
@responses.activate
def test_errors__429_waits_what_the_rate_header_says(connector, sleeps):
    """No Retry-After at SP-API: x-amzn-RateLimit-Limit 0.5/s means one request every 2 s."""
    replay("GET", f"{ORDERS}/111-0000006-0000006", "errors__429")
    replay("GET", f"{ORDERS}/111-0000006-0000006", "order__unshipped")
    replay("GET", f"{ORDERS}/111-0000006-0000006/orderItems", "errors__429")
    items_of("111-0000006-0000006")
    order = connector.normalize_order(connector.client.order("111-0000006-0000006"))
    assert order["number"] == "111-0000006-0000006"
    assert sleeps == [2.0, 2.0]
    rows = list(IntegrationLog.objects.filter(integration=connector.integration).order_by("id")
                .values_list("status_code", "action"))
    assert rows == [(429, "getOrder"), (200, "getOrder"), (429, "getOrderItems"), (200, "getOrderItems")]


@responses.activate
def test_a_slow_operation_longer_than_a_minute_is_handed_to_the_task(connector, sleeps):
    responses.add("GET", f"{BASE}/sellers/v1/marketplaceParticipations", status=429,
                  json=fixture("errors__429")["body"], headers={"x-amzn-RateLimit-Limit": "0.0100"})
    with pytest.raises(RateLimited) as caught:
        connector.client.marketplace_participations()
    assert caught.value.transient and caught.value.retry_after == 100.0 and sleeps == []


def test_getorders_is_paced_on_a_bucket_of_its_own(db, monkeypatch):
    from connectors.ratelimit import InProcessRateLimiter

    limiter = InProcessRateLimiter(clock=lambda: 0.0)
    slept: list[float] = []
    monkeypatch.setattr(amazon_client, "rate_limiter", lambda: limiter)
    monkeypatch.setattr(http, "sleep", slept.append)
    client = amazon_client.AmazonSPClient(http=None, pace_key="amazon_sp:1")  # type: ignore[arg-type]
    client.http = type("Http", (), {"request": staticmethod(lambda *a, **k: None)})()
    for _ in range(21):
        client._call("getOrders", "GET", "/orders/v0/orders")
    assert len(slept) == 1 and round(slept[0]) == 60  # the 21st call waits for getOrders' 1/min refill


@responses.activate
def test_errors__500(connector, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    replay("GET", FBA, "errors__500")
    replay("GET", FBA, "errors__500")
    with pytest.raises(ProviderUnavailable) as caught:
        list(connector.iter_inventory())
    assert caught.value.transient and len(sleeps) == 1
    assert caught.value.provider_message == "We encountered an internal error. Please try again."


@responses.activate
def test_errors__404(connector):
    replay("GET", f"{ORDERS}/111-9999999-9999999", "errors__404")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "111-9999999-9999999", "tracking_number": "X1"})
    assert caught.value.status_code == 404 and not caught.value.transient
    assert "111-9999999-9999999 was not found" in caught.value.message


@responses.activate
def test_errors__422(connector):
    replay("GET", f"{ORDERS}/111-0000006-0000006", "order__unshipped")
    replay("POST", f"{ORDERS}/111-0000006-0000006/shipmentConfirmation", "errors__422")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "111-0000006-0000006", "tracking_number": "bad",
                                    "lines": [{"line_item_id": "60000000000001", "quantity": 1}]})
    assert caught.value.status_code == 422 and not caught.value.transient
    assert caught.value.provider_message == "Request has missing or invalid parameters and cannot be parsed."


@responses.activate
def test_errors__403_role_is_permanent_and_refreshes_nothing(connector, integration):
    replay("GET", FBA, "errors__403_role")
    with pytest.raises(ProviderError) as caught:
        list(connector.iter_inventory())
    assert caught.value.status_code == 403 and len(responses.calls) == 1  # no token refresh for a missing role
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ACTIVE
