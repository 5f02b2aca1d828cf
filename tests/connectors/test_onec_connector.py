"""The 1C:Enterprise OData connector against recorded answers (tests/fixtures/onec/), shaped as 1C's standard
OData interface answers (OData v3 JSON: `{"odata.metadata", "value": [...]}`, `odata.error` bodies).

Products and stock come in through the sync engine and the one import path; sales orders go out through the
order export pipeline (syncjobs/order_exports.py), which must leave exactly one 1C document per order however
often the push is retried — including after a POST that timed out once 1C had written the document.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from commerce.models import ChannelLocation, ExternalRef, Order, OrderLine, Product, ResourceType, StockLevel
from config.errors import ValidationError
from connectors import registry
from connectors.errors import ProviderError, ProviderUnavailable
from connectors.onec import mapping
from syncjobs.models import JobStatus, JobType, Trigger
from syncjobs.order_exports import orders_export
from syncjobs.resources import ImportSource, resource_import
from syncjobs.services import sync_job_run, sync_job_start
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

ROOT = "https://erp.example.com/trade/odata/standard.odata"
PRODUCTS, BALANCE = f"{ROOT}/Catalog_Nomenclature", f"{ROOT}/AccumulationRegister_GoodsInWarehouses/Balance"
ORDERS = f"{ROOT}/Document_SalesOrder"
DOC = "c5e8a1d2-6e4f-11ee-8c99-0242ac120002"
W1, W2 = "7b1e0c94-1b2c-11ee-9a41-005056b3c0de", "8c2f1da5-1b2c-11ee-9a41-005056b3c0de"

recorded = Recorded("onec")


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    return IntegrationFactory(
        provider="onec", type="erp", code="erp-1c", api_endpoint=ROOT, api_key="Администратор",
        api_secret="s3cret-pass",
        config={"page_size": 2, "mapping": {"products": {"price": "RetailPrice"},
                                            "orders": {"defaults": {"Organization_Key": "e1a2b3c4-1b2c-11ee-9a41-"
                                                                                        "005056b3c0de"}}}})


def _page(skip: int | None):
    query = {"$format": "json", "$top": "2", "$orderby": "Ref_Key", "$filter": "IsFolder eq false"}
    if skip:
        query["$skip"] = str(skip)
    return [matchers.query_param_matcher(query)]


def _sync(integration, job_type):
    job = sync_job_start(integration=integration, trigger=Trigger.MANUAL, job_type=job_type, enqueue=False)
    sync_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _import_products(integration):
    records = [r for page in ("products__page1", "products__page2", "products__page3")
               for r in recorded(page)["body"]["value"]]
    return resource_import(integration, "products", records, source=ImportSource.SYNC)


# ---------------------------------------------------------------------- products
@responses.activate
def test_products_are_pulled_across_three_pages_with_exact_values(integration):
    for skip, name in ((None, "products__page1"), (2, "products__page2"), (4, "products__page3")):
        recorded.replay("GET", PRODUCTS, name, match=_page(skip))

    job = _sync(integration, JobType.SYNC_PRODUCTS)

    assert job.status == JobStatus.COMPLETED, job.error_message
    assert (job.records_processed, job.records_created, job.records_failed, job.pages_processed) == (5, 5, 0, 3)
    rows = Product.objects.filter(organization=integration.organization)
    products = {p.sku: (p.name, p.price, p.status) for p in rows}
    assert products == {
        "TS-WHITE-M": ("Tricou bumbac alb M", Decimal("59.90"), "active"),
        "TS-BLACK-L": ("Tricou bumbac negru L", Decimal("59.90"), "active"),
        "HD-GREY-XL": ("Hanorac gri XL", Decimal("149.90"), "active"),
        "CAP-OLD": ("Șapcă retrasă", Decimal("25.00"), "inactive"),  # DeletionMark: kept, not sold
        "JK-WINTER-S": ("Geacă de iarnă", Decimal("399.99"), "active"),
    }
    # Ref_Key GUIDs are the external ids of the listing, the variant and the stock item.
    white = Product.objects.get(sku="TS-WHITE-M")
    refs = set(ExternalRef.objects.filter(integration=integration, object_id=white.pk)
               .values_list("resource_type", "external_id"))
    assert refs == {(kind, "0b8e6a3e-5b1d-11ee-8c99-0242ac120002")
                    for kind in (ResourceType.PRODUCT, ResourceType.VARIANT, ResourceType.INVENTORY_ITEM)}
    auth = responses.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "Администратор:s3cret-pass"


@responses.activate
def test_a_second_pull_of_the_same_catalogue_changes_nothing(integration):
    for _ in range(2):
        for skip, name in ((None, "products__page1"), (2, "products__page2"), (4, "products__page3")):
            recorded.replay("GET", PRODUCTS, name, match=_page(skip))
    _sync(integration, JobType.SYNC_PRODUCTS)
    job = _sync(integration, JobType.SYNC_PRODUCTS)
    assert (job.records_created, job.records_updated, job.records_unchanged) == (0, 0, 5)


@responses.activate
def test_an_item_without_its_sku_fails_by_name_and_writes_nothing(integration):
    recorded.replay("GET", PRODUCTS, "products__no_sku", match=_page(None))
    job = _sync(integration, JobType.SYNC_PRODUCTS)
    assert job.records_failed == 1 and not Product.objects.exists()
    assert "has no SKU" in job.metadata["errors"][0]["error"]


def test_the_mapping_comes_from_config_section_by_section(integration):
    integration.config = {"mapping": {"products": {"sku": "Артикул"}}}
    fields = registry.connector_for(integration).fields("products")
    assert fields["sku"] == "Артикул" and fields["entity"] == "Catalog_Nomenclature"  # the rest stays default
    record = {"Ref_Key": "r1", "Артикул": "A-1", "Description": "Item"}
    assert mapping.normalize_product(record, fields)["variants"][0]["sku"] == "A-1"


# ---------------------------------------------------------------------- stock
@responses.activate
def test_stock_is_summed_per_item_and_warehouse_across_pages(integration):
    _import_products(integration)
    ChannelLocation.objects.create(organization=integration.organization, integration=integration, external_id=W1,
                                   erp_location="main")
    stock_query = {"$format": "json", "$top": "2", "$orderby": "Nomenclature_Key,Warehouse_Key"}
    for skip, name in ((None, "stock__balance_page1"), (2, "stock__balance_page2"), (4, "stock__balance_page3")):
        query = {**stock_query, **({"$skip": str(skip)} if skip else {})}
        recorded.replay("GET", BALANCE, name, match=[matchers.query_param_matcher(query)])

    job = _sync(integration, JobType.SYNC_INVENTORY)

    assert job.status == JobStatus.COMPLETED, job.error_message
    on_hand = dict(StockLevel.objects.filter(location="main").values_list("product__sku", "on_hand"))
    # TS-BLACK-L has two characteristics at W1 (3 + 4), one on each page: one level of 7.
    assert on_hand == {"TS-WHITE-M": 12, "TS-BLACK-L": 7}
    assert job.metadata["unmapped_locations"] == [W2]  # reported, never guessed


@responses.activate
def test_a_resumed_stock_pull_starts_at_its_checkpoint(integration, connector):
    stock_query = {"$format": "json", "$top": "2", "$orderby": "Nomenclature_Key,Warehouse_Key"}
    for skip, name in ((None, "stock__balance_page1"), (2, "stock__balance_page2"), (4, "stock__balance_page3")):
        query = {**stock_query, **({"$skip": str(skip)} if skip else {})}
        recorded.replay("GET", BALANCE, name, match=[matchers.query_param_matcher(query)])
    pages = list(connector.iter_inventory(cursor="2"))  # three sums, two a page: the second page only
    assert [(p.items, p.next_cursor) for p in pages] == [
        ([{"item": "1c2f7b4f-5b1d-11ee-8c99-0242ac120002", "warehouse": W2, "quantity": "0"}], None)]


def test_a_fractional_balance_fails_by_name():
    with pytest.raises(mapping.MappingError, match="fractional"):
        mapping.normalize_inventory_level({"item": "i", "warehouse": "w", "quantity": "2.5"})


@responses.activate
def test_warehouses_are_the_stock_locations(integration, connector):
    query = {"$format": "json", "$top": "2", "$orderby": "Ref_Key"}
    recorded.replay("GET", f"{ROOT}/Catalog_Warehouses", "warehouses__list",
                    match=[matchers.query_param_matcher(query)])
    recorded.replay("GET", f"{ROOT}/Catalog_Warehouses", "sales_orders__none",  # an empty list: the last page
                    match=[matchers.query_param_matcher({**query, "$skip": "2"})])
    assert connector.stock_locations() == [{"id": W1, "name": "Depozit central", "pushable": False},
                                           {"id": W2, "name": "Magazin Cluj", "pushable": False}]


# ---------------------------------------------------------------------- sales orders
@pytest.fixture
def order(integration):
    _import_products(integration)
    shop = IntegrationFactory(organization=integration.organization, provider="sandbox", code="shop-ro")
    order = Order.objects.create(organization=integration.organization, integration=shop, external_id="9001",
                                 external_number="1001", currency="RON", subtotal=Decimal("169.70"),
                                 total=Decimal("169.70"), placed_at=datetime(2024, 5, 29, 10, 0, tzinfo=UTC))
    for n, (sku, price) in enumerate((("TS-WHITE-M", "59.90"), ("HD-GREY-XL", "109.80")), start=1):
        OrderLine.objects.create(order=order, external_id=f"l{n}", sku=sku, product=Product.objects.get(sku=sku),
                                 quantity=1, unit_price=Decimal(price), total=Decimal(price))
    integration.created_at = datetime(2024, 1, 1, tzinfo=UTC)
    integration.save(update_fields=["created_at"])
    return order


def _lookup(order):
    query = {"$format": "json", "$top": "2", "$select": "Ref_Key,Number,Date",
             "$filter": f"SwitchyardOrderId eq '{order.pk}' and DeletionMark eq false"}
    return [matchers.query_param_matcher(query)]


@responses.activate
def test_an_order_is_pushed_as_a_sales_order_with_its_lines(integration, order):
    recorded.replay("GET", ORDERS, "sales_orders__none", match=_lookup(order))
    recorded.replay("POST", ORDERS, "sales_orders__created")

    run = orders_export(integration_id=integration.pk)

    assert run.pushed == [order.pk]
    [post] = [c for c in responses.calls if c.request.method == "POST"]
    assert sent_query(post) == {"$format": "json"}
    assert sent_json(post) == {
        "Organization_Key": "e1a2b3c4-1b2c-11ee-9a41-005056b3c0de",
        "Date": "2024-05-29T13:00:00",  # 10:00 UTC on the 1C server's clock (Bucharest, UTC+3 in May)
        "SwitchyardOrderId": str(order.pk),
        "DocumentAmount": 169.7,
        "Comment": "Order 1001 (shop-ro), RON",
        "Goods": [
            {"LineNumber": "1", "Nomenclature_Key": "0b8e6a3e-5b1d-11ee-8c99-0242ac120002", "Quantity": 1,
             "Price": 59.9, "Amount": 59.9},
            {"LineNumber": "2", "Nomenclature_Key": "2d307c50-5b1d-11ee-8c99-0242ac120002", "Quantity": 1,
             "Price": 109.8, "Amount": 109.8},
        ],
    }
    assert ExternalRef.objects.get(integration=integration, resource_type=ResourceType.ORDER).object_id == order.pk
    responses.calls.reset()
    assert orders_export(integration_id=integration.pk).pushed == []  # exported: not due again, no call at all
    assert len(responses.calls) == 0


@responses.activate
def test_the_1c_server_time_zone_is_explicit(integration, order):
    integration.config = {**integration.config, "time_zone": "Asia/Almaty"}  # UTC+5
    integration.save(update_fields=["config"])
    recorded.replay("GET", ORDERS, "sales_orders__none", match=_lookup(order))
    recorded.replay("POST", ORDERS, "sales_orders__created")
    orders_export(integration_id=integration.pk)
    assert sent_json(responses.calls[-1])["Date"] == "2024-05-29T15:00:00"


@responses.activate
def test_a_push_retried_after_a_timeout_that_1c_did_write_makes_one_document(integration, order):
    recorded.replay("GET", ORDERS, "sales_orders__none", match=_lookup(order))
    responses.add("POST", ORDERS, body=requests.ReadTimeout("read timed out"))  # 1C wrote it; we never heard

    with pytest.raises(ProviderUnavailable):  # transient: the task retries with backoff
        orders_export(integration_id=integration.pk)
    assert not ExternalRef.objects.filter(integration=integration, resource_type=ResourceType.ORDER).exists()

    responses.reset()
    recorded.replay("GET", ORDERS, "sales_orders__found", match=_lookup(order))  # the retry looks first
    run = orders_export(integration_id=integration.pk)

    assert run.found == [order.pk] and run.pushed == []
    assert [c.request.method for c in responses.calls] == ["GET"]  # no second POST
    assert ExternalRef.objects.get(integration=integration, resource_type=ResourceType.ORDER).external_id == DOC


@responses.activate
def test_a_push_repeated_after_the_record_was_lost_finds_the_document(integration, order):
    recorded.replay("GET", ORDERS, "sales_orders__none", match=_lookup(order))
    recorded.replay("POST", ORDERS, "sales_orders__created")
    orders_export(integration_id=integration.pk)
    ExternalRef.objects.filter(integration=integration, resource_type=ResourceType.ORDER).delete()  # a crash

    responses.reset()
    recorded.replay("GET", ORDERS, "sales_orders__found", match=_lookup(order))
    assert orders_export(integration_id=integration.pk).found == [order.pk]
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_a_line_whose_product_1c_never_listed_is_refused_by_name(integration, order):
    stranger = Product.objects.create(organization=integration.organization, sku="NOT-IN-1C")
    OrderLine.objects.create(order=order, external_id="l3", sku="NOT-IN-1C", product=stranger, quantity=1,
                             unit_price=Decimal("1"), total=Decimal("1"))
    recorded.replay("GET", ORDERS, "sales_orders__none", match=_lookup(order))

    run = orders_export(integration_id=integration.pk)

    assert "NOT-IN-1C" in run.failed[order.pk]
    assert [c.request.method for c in responses.calls] == ["GET"]
    integration.refresh_from_db()
    assert "NOT-IN-1C" in integration.metadata["order_export"]["failed"][str(order.pk)]


@responses.activate
def test_1c_error_words_reach_the_operator(integration, order):
    recorded.replay("GET", ORDERS, "errors__unknown_property")
    run = orders_export(integration_id=integration.pk)
    assert "SwitchyardOrderId" in run.failed[order.pk]


# ---------------------------------------------------------------------- connection
@responses.activate
def test_connection_names_the_entity_sets_it_found(integration, connector):
    recorded.replay("GET", f"{ROOT}/", "service__root")
    result = connector.test_connection()
    assert result.ok and "Catalog_Nomenclature" in result.detail


@responses.activate
def test_connection_names_entity_sets_1c_does_not_publish(integration, connector):
    recorded.replay("GET", f"{ROOT}/", "service__partial")
    result = connector.test_connection()
    assert not result.ok
    assert "AccumulationRegister_GoodsInWarehouses, Document_SalesOrder" in result.detail


@responses.activate
def test_refused_credentials_are_said_as_such(integration, connector):
    recorded.replay("GET", f"{ROOT}/", "errors__unauthorized")
    result = connector.test_connection()
    assert not result.ok and "refused the credentials" in result.detail


@responses.activate
def test_a_server_that_ignores_skip_is_an_error_not_an_endless_pull(integration, connector):
    recorded.replay("GET", PRODUCTS, "products__page1")  # whatever the $skip
    with pytest.raises(ProviderError, match="paging is not honoured"):
        list(connector.iter_products())


@responses.activate
def test_an_unavailable_server_is_transient(integration, connector):
    recorded.replay("GET", PRODUCTS, "errors__unavailable")
    with pytest.raises(ProviderError) as caught:
        next(connector.iter_products())
    assert caught.value.transient


@pytest.mark.parametrize("endpoint, problem", [
    ("https://erp.example.com/trade/odata", "must end in /odata/standard.odata"),
    ("http://erp.example.com/trade/odata/standard.odata", "must be https"),
])
def test_the_endpoint_is_the_odata_root_over_https(integration, endpoint, problem):
    integration.api_endpoint = endpoint
    with pytest.raises(ValidationError) as caught:
        registry.connector_for(integration).resolved_base_url()
    assert problem in json.dumps(caught.value.details)
