"""The Shopify connector against recorded Admin REST 2024-01 answers (tests/fixtures/shopify/), one test per fixture.

A fixture is `{"status", "headers", "body"}` as Shopify answers it; webhook
deliveries (test_shopify_webhooks.py) are `{"secret", "headers", "body"}` with the
raw body. Made-up shop hosts resolve to a public address (`public_dns`); the shared setup is shopify_support.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses

from commerce.services import upsert_orders
from config.errors import ValidationError
from connectors import registry
from connectors.errors import ProviderError, ProviderUnavailable, RefreshFailed
from connectors.shopify import client as shopify_client
from connectors.shopify import mapping
from connectors.shopify.connector import ShopifyConnector
from integrations.models import IntegrationLog
from tests.connectors import shopify_support
from tests.connectors.shopify_support import API, SHOP, TOKEN_URL, fixture, replay
from tests.connectors.support import sent_json, sent_query
from tests.factories import IntegrationFactory

integration, connector = shopify_support.integration, shopify_support.connector  # the shared fixtures


# ---------------------------------------------------------------------- declaration
def test_the_registry_knows_shopify_and_what_it_can_do():
    cls = registry.get("shopify")
    assert cls is ShopifyConnector
    assert {c.value for c in cls.capabilities} == {"products", "orders", "inventory", "fulfillments", "returns"}
    assert cls.describe()["auth_kind"] == "oauth2" and cls.oauth.scope_separator == ","
    assert cls.provider_settings["API_VERSION"] == shopify_client.DEFAULT_API_VERSION


def test_the_shop_comes_from_the_config_or_the_api_endpoint(db):
    by_config = ShopifyConnector(IntegrationFactory(provider="shopify", config={"shop_domain": SHOP}))
    assert by_config.resolved_base_url() == f"https://{SHOP}"
    by_endpoint = ShopifyConnector(IntegrationFactory(provider="shopify", api_endpoint=f"https://{SHOP}/"))
    assert by_endpoint.resolved_base_url() == f"https://{SHOP}" and by_endpoint.shop_domain() == SHOP
    with pytest.raises(ValidationError, match="shop domain"):
        ShopifyConnector(IntegrationFactory(provider="shopify", config={"shop_domain": "evil.example.com"})
                         ).resolved_base_url()


# ---------------------------------------------------------------------- orders
@responses.activate
def test_orders__page1(connector):
    replay("GET", f"{API}/orders.json", "orders__page1")
    page = next(connector.iter_orders())
    assert [o["id"] for o in page.items] == [5500000001, 5500000002]
    assert page.next_cursor.startswith("eyJsYXN0X2lkIjo1NTAwMDAwMDAy")
    assert sent_query(responses.calls[0]) == {"status": "any", "limit": "250"}
    assert responses.calls[0].request.headers["X-Shopify-Access-Token"] == "shpat_old_AAAA1111"


@responses.activate
def test_orders__page2(connector):
    replay("GET", f"{API}/orders.json", "orders__page2")
    page = next(connector.iter_orders(cursor="resume-here"))
    assert [o["id"] for o in page.items] == [5500000003, 5500000004]
    assert page.next_cursor.startswith("eyJsYXN0X2lkIjo1NTAwMDAwMDA0")  # the rel="next", not the rel="previous"
    # With a cursor only limit goes along: page_info carries the filters and Shopify refuses anything else.
    assert sent_query(responses.calls[0]) == {"page_info": "resume-here", "limit": "250"}


@responses.activate
def test_orders__page3_last(connector):
    replay("GET", f"{API}/orders.json", "orders__page3_last")
    pages = list(connector.iter_orders(cursor="resume-here"))
    assert len(pages) == 1 and pages[0].next_cursor is None and [o["id"] for o in pages[0].items] == [5500000005]


@responses.activate
def test_a_multi_page_incremental_pull_yields_the_normalized_orders(connector):
    for name in ("orders__page1", "orders__page2", "orders__page3_last"):
        replay("GET", f"{API}/orders.json", name)
    since = datetime(2024, 3, 1, 7, 0, 0, 999, tzinfo=UTC)

    pages = list(connector.iter_orders(since=since))

    assert [p.next_cursor is None for p in pages] == [False, False, True]
    assert sent_query(responses.calls[0]) == {"status": "any", "updated_at_min": "2024-03-01T07:00:00Z",
                                              "limit": "250"}
    assert sent_query(responses.calls[1]) == {"page_info": pages[0].next_cursor, "limit": "250"}
    assert sent_query(responses.calls[2]) == {"page_info": pages[1].next_cursor, "limit": "250"}
    orders = [connector.normalize_order(o) for p in pages for o in p.items]
    assert [(o["number"], o["status"], o["total"]) for o in orders] == [
        ("1001", "paid", Decimal("246.81")),
        ("1002", "partially_fulfilled", Decimal("285.24")),
        ("1003", "pending", Decimal("149.94")),
        ("1004", "fulfilled", Decimal("116.03")),
        ("1005", "pending", Decimal("41.65")),
    ]
    address = {"name": "Ana Popescu", "company": "", "address1": "Strada Lipscani 12", "address2": "Ap. 4",
               "city": "Bucuresti", "province_code": "B", "zip": "030031", "country_code": "RO",
               "phone": "+40721000111"}
    assert orders[0] == {
        "external_id": "5500000001", "number": "1001", "name": "#1001", "status": "paid",
        "financial_status": "paid", "fulfillment_status": "", "currency": "RON",
        "subtotal": Decimal("194.80"), "total_discounts": Decimal("0.00"), "total_tax": Decimal("37.01"),
        "total_shipping": Decimal("15.00"), "total": Decimal("246.81"),
        "customer": {"external_id": "6100000001", "email": "ana.popescu@example.com", "name": "Ana Popescu",
                     "accepts_marketing": None},
        "shipping_address": address, "billing_address": address,
        "placed_at": datetime(2024, 2, 28, 7, 12, tzinfo=UTC),
        "updated_at": datetime(2024, 3, 1, 7, 45, 10, tzinfo=UTC),
        "cancelled_at": None,
        "lines": [
            {"external_id": "14100000001", "sku": "TSH-BLU-M", "title": "Tricou - Albastru / M", "quantity": 2,
             "price": Decimal("79.90"), "total": Decimal("159.80"), "fulfilled_quantity": 0,
             "variant_external_id": "45100000011", "product_external_id": "8100000001"},
            {"external_id": "14100000002", "sku": "CAN-250", "title": "Cana ceramica", "quantity": 1,
             "price": Decimal("35.00"), "total": Decimal("35.00"), "fulfilled_quantity": 0,
             "variant_external_id": "45100000021", "product_external_id": "8100000002"},
        ],
    }
    assert [(line["sku"], line["fulfilled_quantity"]) for line in orders[1]["lines"]] == [
        ("TSH-BLU-M", 1), ("TSH-BLU-L", 0)]
    assert orders[2]["lines"][0]["total"] == Decimal("126.00")  # 4 × 35.00 less the line's 14.00 discount
    assert IntegrationLog.objects.filter(action="list_orders", status_code=200).count() == 3
    # ... and commerce takes them as they are.
    result = upsert_orders(integration=connector.integration, orders=orders)
    assert (result.created, result.failed) == (5, [])


@responses.activate
def test_orders__cancelled(connector):
    replay("GET", f"{API}/orders.json", "orders__cancelled")
    [order] = next(connector.iter_orders()).items
    normalized = connector.normalize_order(order)
    # Cancelled although Shopify also refunded it: a cancellation wins over the money's state.
    assert (normalized["status"], normalized["financial_status"]) == ("cancelled", "refunded")
    assert normalized["cancelled_at"] == datetime(2024, 3, 3, 9, 40, tzinfo=UTC)
    assert normalized["total"] == Decimal("95.08")


@responses.activate
def test_orders__refunded(connector):
    replay("GET", f"{API}/orders.json", "orders__refunded")
    [order] = next(connector.iter_orders()).items
    normalized = connector.normalize_order(order)
    assert (normalized["status"], normalized["fulfillment_status"]) == ("refunded", "fulfilled")
    assert normalized["cancelled_at"] is None and normalized["total"] == Decimal("98.30")


@pytest.mark.parametrize(("financial", "fulfillment", "expected"), [
    (None, None, "pending"), ("pending", None, "pending"), ("authorized", None, "pending"),
    ("partially_paid", "partial", "partially_fulfilled"), ("paid", None, "paid"), ("paid", "restocked", "paid"),
    ("partially_refunded", "fulfilled", "fulfilled"), ("refunded", "fulfilled", "refunded"),
    ("voided", None, "cancelled"),
])
def test_the_status_table(financial, fulfillment, expected):
    assert mapping.order_status({"financial_status": financial, "fulfillment_status": fulfillment}) == expected


def test_an_unknown_financial_status_or_a_broken_amount_is_a_mapping_error_naming_it():
    order = fixture("orders__page1")["body"]["orders"][0]
    with pytest.raises(mapping.MappingError, match="financial_status 'on_hold'"):
        mapping.normalize_order({**order, "financial_status": "on_hold"})
    with pytest.raises(mapping.MappingError, match="total_price"):
        mapping.normalize_order({**order, "total_price": "12,50"})


# ---------------------------------------------------------------------- products and inventory
def test_products__multi_variant(connector):
    """The REST body a products/update webhook carries (the sync reads GraphQL: test_shopify_products.py)."""
    product = connector.normalize_product(fixture("products__multi_variant")["body"]["products"][0])
    assert (product["external_id"], product["title"], product["status"]) == ("8100000001", "Tricou", "active")
    assert [(v["sku"], v["name"], v["price"], v["inventory_item_id"], v["on_hand"]) for v in product["variants"]] == [
        ("TSH-BLU-M", "Tricou — Albastru / M", Decimal("79.90"), "47100000011", 12),
        ("TSH-BLU-L", "Tricou — Albastru / L", Decimal("79.90"), "47100000012", 7),
        ("TSH-BLU-XL", "Tricou — Albastru / XL", Decimal("84.90"), "47100000013", 0),
    ]


@responses.activate
def test_locations__list(connector):
    replay("GET", f"{API}/locations.json", "locations__list")
    replay("GET", f"{API}/inventory_levels.json", "inventory_levels__page1")
    next(connector.iter_inventory())
    assert sent_query(responses.calls[1])["location_ids"] == "72000001,72000002"


@responses.activate
def test_inventory_levels__page1(connector):
    replay("GET", f"{API}/inventory_levels.json", "inventory_levels__page1")
    page = next(connector.iter_inventory(cursor="resume-here"))  # a cursor skips the locations call
    assert len(responses.calls) == 1 and page.next_cursor is None
    levels = [connector.normalize_inventory_level(level) for level in page.items]
    assert [(lv["inventory_item_id"], lv["location_id"], lv["available"]) for lv in levels] == [
        ("47100000011", "72000001", 12), ("47100000012", "72000001", 7), ("47100000013", "72000002", None)]


@responses.activate
def test_inventory_levels__set(connector):
    replay("POST", f"{API}/inventory_levels/set.json", "inventory_levels__set")
    result = connector.push_inventory([{"inventory_item_id": "47100000012", "location_id": 72000001, "available": 5}])
    assert sent_json(responses.calls[0]) == {"inventory_item_id": 47100000012, "location_id": 72000001,
                                             "available": 5}
    assert result["updated"] == 1 and result["levels"][0]["available"] == 5


# ---------------------------------------------------------------------- fulfillment
@responses.activate
def test_fulfillment_orders__open(connector):
    """Only the open fulfillment order holding the wanted line is fulfilled; the exact body Shopify expects."""
    replay("GET", f"{API}/orders/5500000002/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "fulfillments__create")
    connector.push_fulfillment({
        "order_id": "5500000002", "lines": [{"line_item_id": "14100000004", "sku": "TSH-BLU-L", "quantity": 2}],
        "tracking_number": "JD014600003RO", "carrier": "DHL Express", "carrier_code": "",
        "tracking_url": "https://www.dhl.com/ro-en/home/tracking.html?tracking-id=JD014600003RO",
        "notify_customer": False,
    })
    assert sent_json(responses.calls[1]) == {"fulfillment": {
        "line_items_by_fulfillment_order": [
            {"fulfillment_order_id": 6300000001, "fulfillment_order_line_items": [{"id": 6400000001, "quantity": 2}]},
        ],
        "tracking_info": {"number": "JD014600003RO", "company": "DHL Express",
                          "url": "https://www.dhl.com/ro-en/home/tracking.html?tracking-id=JD014600003RO"},
        "notify_customer": False,
    }}


@responses.activate
def test_fulfillments__create(connector):
    replay("GET", f"{API}/orders/5500000002/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "fulfillments__create")
    result = connector.push_fulfillment({"order_id": "5500000002", "tracking_number": "JD014600003RO",
                                         "carrier": "DHL Express"})  # no lines: everything still open
    assert result == {"external_id": "5900000001", "status": "success", "tracking_number": "JD014600003RO",
                      "carrier": "DHL Express", "line_items": fixture("fulfillments__create")["body"]["fulfillment"][
                          "line_items"]}
    assert sent_json(responses.calls[1])["fulfillment"]["line_items_by_fulfillment_order"] == [
        {"fulfillment_order_id": 6300000001, "fulfillment_order_line_items": [{"id": 6400000001, "quantity": 2}]}]


@responses.activate
def test_a_line_that_is_not_open_is_refused_before_anything_is_sent(connector):
    replay("GET", f"{API}/orders/5500000002/fulfillment_orders.json", "fulfillment_orders__open")
    with pytest.raises(ValidationError, match="no open line"):
        connector.push_fulfillment({"order_id": "5500000002", "tracking_number": "X",
                                    "lines": [{"line_item_id": "14100000003", "quantity": 1}]})
    assert len(responses.calls) == 1


# ---------------------------------------------------------------------- auth
@responses.activate
def test_shop__get(connector):
    replay("GET", f"{API}/shop.json", "shop__get")
    result = connector.test_connection()
    assert result.ok and result.detail == "Connected to Acme RO (acme-ro.myshopify.com)."


@responses.activate
def test_oauth__token(connector):
    replay("POST", TOKEN_URL, "oauth__token")
    tokens = connector.exchange_code("the-code")
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == ("shpat_fixture_token_NEW1", None, None)
    assert tokens.scope == ("read_orders", "read_products", "write_inventory")
    assert sent_json(responses.calls[0]) == {"client_id": "shopify-client-id",
                                             "client_secret": "shpss_fixture_client_secret_0001", "code": "the-code"}
    assert "X-Shopify-Access-Token" not in responses.calls[0].request.headers


@responses.activate
def test_oauth__refresh(connector, integration):
    """An expiring offline token: 401 → one refresh (the refresh token rotates) → the call again, new token."""
    integration.refresh_token = "shprt_old_RRRR2222"
    integration.save()
    replay("GET", f"{API}/shop.json", "errors__401")
    replay("POST", TOKEN_URL, "oauth__refresh")
    replay("GET", f"{API}/shop.json", "shop__get")
    assert connector.test_connection().ok
    assert sent_json(responses.calls[1]) == {"client_id": "shopify-client-id",
                                             "client_secret": "shpss_fixture_client_secret_0001",
                                             "grant_type": "refresh_token", "refresh_token": "shprt_old_RRRR2222"}
    assert responses.calls[2].request.headers["X-Shopify-Access-Token"] == "shpat_fixture_token_NEW2"
    integration.refresh_from_db()
    assert (integration.access_token, integration.refresh_token) == ("shpat_fixture_token_NEW2",
                                                                     "shprt_fixture_refresh_NEW2")


@responses.activate
def test_errors__401(connector, integration):
    """A non-expiring token refused (app uninstalled): no refresh possible → pending_auth, a message to reconnect."""
    replay("GET", f"{API}/shop.json", "errors__401")
    with pytest.raises(RefreshFailed) as caught:
        connector.client.shop()
    assert "connect the shop again" in caught.value.message
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert "acme-ro.myshopify.com" in integration.last_error and "connect the shop again" in integration.last_error
    assert len(responses.calls) == 1  # nothing sent to the token endpoint


@responses.activate
def test_revoking_uninstalls_the_app(connector):
    responses.add("DELETE", f"https://{SHOP}/admin/api_permissions/current.json", status=200, json={})
    assert connector.revoke_token() is True
    assert responses.calls[0].request.headers["X-Shopify-Access-Token"] == "shpat_old_AAAA1111"


# ---------------------------------------------------------------------- errors and rate limits
@responses.activate
def test_errors__429(connector, sleeps):
    replay("GET", f"{API}/shop.json", "errors__429")
    replay("GET", f"{API}/shop.json", "shop__get")
    assert connector.test_connection().ok
    assert sleeps == [2.0]  # Retry-After, then the call again
    assert [r.metadata["outcome"] for r in IntegrationLog.objects.order_by("pk")] == ["retry", "ok"]


@responses.activate
def test_a_nearly_full_call_bucket_paces_the_next_call(connector, sleeps):
    recorded = fixture("orders__page1")
    responses.add("GET", f"{API}/orders.json", json=recorded["body"],
                  headers={**recorded["headers"], "X-Shopify-Shop-Api-Call-Limit": "39/40"})
    next(connector.iter_orders())
    assert sleeps == [1.5]  # 39 used, 36 is the mark (40 less 4 headroom): 3 calls to leak at 2/s


@responses.activate
def test_errors__404(connector):
    replay("GET", f"{API}/orders/1/fulfillment_orders.json", "errors__404")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "1", "tracking_number": "X"})
    assert (caught.value.status_code, caught.value.transient) == (404, False)
    assert caught.value.message == "Shopify answered HTTP 404: Not Found"


@responses.activate
def test_errors__422(connector):
    replay("GET", f"{API}/orders/5500000002/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "errors__422")
    with pytest.raises(ProviderError) as caught:
        connector.push_fulfillment({"order_id": "5500000002", "tracking_number": "X"})
    assert (caught.value.status_code, caught.value.transient) == (422, False)
    assert "Invalid fulfillment order line item quantity requested." in caught.value.message


@responses.activate
def test_errors__500(connector, sleeps):
    """A read is retried after a backoff; a fulfillment POST is not (it may have been made): transient for the task."""
    replay("GET", f"{API}/shop.json", "errors__500")
    replay("GET", f"{API}/shop.json", "shop__get")
    assert connector.test_connection().ok and len(sleeps) == 1
    replay("GET", f"{API}/orders/5500000002/fulfillment_orders.json", "fulfillment_orders__open")
    replay("POST", f"{API}/fulfillments.json", "errors__500")
    with pytest.raises(ProviderUnavailable) as caught:
        connector.push_fulfillment({"order_id": "5500000002", "tracking_number": "X"})
    assert caught.value.transient and "Internal Server Error" in caught.value.message
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1


@responses.activate
def test_orders__marketing_consent(connector):
    """The buyer's consent: the customer's email_marketing_consent.state (only `subscribed` is consent; `pending`
    is a double opt-in not confirmed yet, whatever the older flag says), else buyer_accepts_marketing, else unknown."""
    replay("GET", f"{API}/orders.json", "orders__marketing_consent")
    page = next(connector.iter_orders())
    normalized = [connector.normalize_order(o) for o in page.items]
    assert [o["customer"]["accepts_marketing"] for o in normalized] == [True, False, False, None]
