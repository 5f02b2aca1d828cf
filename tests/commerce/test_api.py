"""The commerce API: tenancy, roles, filters, masking, fulfil / bulk fulfil, status, stock, analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from commerce.models import Fulfillment, Order, OrderStatus, Product, PushStatus, StockLevel
from commerce.services import upsert_orders
from syncjobs.tasks import push_fulfillment
from tests.factories import IntegrationFactory

from .conftest import simple_order

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_push():
    with mock.patch.object(push_fulfillment, "delay"):
        yield


def imported(channel, external_id, **kwargs) -> Order:
    upsert_orders(integration=channel, orders=[simple_order(external_id, updated_at=T0, **kwargs)])
    return Order.objects.get(integration=channel, external_id=external_id)


def test_order_list_masks_personal_data_and_detail_shows_it(viewer_api, channel):
    order = imported(channel, "77")
    listed = viewer_api.get("/api/orders/").json()["results"]
    assert listed[0]["customer_email"] == "b•••@example.com"
    assert listed[0]["destination"] == {"city": "Cluj", "country_code": "RO"}
    assert "shipping_address" not in listed[0]
    detail = viewer_api.get(f"/api/orders/{order.pk}/").json()
    assert detail["customer_email"] == "buyer77@example.com" and detail["total"] == "10.00"
    assert detail["lines"][0]["sku"] == "SKU-1"


def test_another_organizations_order_is_not_found(org, other_org, api_client_for):
    theirs = imported(IntegrationFactory(organization=other_org), "1")
    client = api_client_for(org, "admin")
    for call in (client.get(f"/api/orders/{theirs.pk}/"),
                 client.post(f"/api/orders/{theirs.pk}/fulfill/", {"tracking_number": "A", "carrier": "B"},
                             format="json")):
        assert call.status_code == 404 and call.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert client.get("/api/orders/").json()["results"] == []
    assert not Fulfillment.objects.exists()


def test_order_filters_and_search(viewer_api, channel, second_channel):
    imported(channel, "1", status="paid")
    imported(channel, "2", status="cancelled")
    imported(second_channel, "3", status="paid")

    def ids(query):
        response = viewer_api.get(f"/api/orders/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(o["external_id"] for o in response.json()["results"])

    assert ids("status=paid") == ["1", "3"]
    assert ids(f"integration={channel.pk}") == ["1", "2"]
    assert ids("search=buyer2@") == ["2"]
    assert ids("search=%232") == ["2"]
    assert ids("placed_after=2026-05-01T07:00:00Z&placed_before=2026-05-01T09:00:00Z") == ["1", "2", "3"]
    assert ids("placed_after=2026-05-01T08:00:01Z") == []
    assert viewer_api.get("/api/orders/?status=lost").json()["error"]["code"] == "VALIDATION_ERROR"
    assert ids("") == ["1", "2", "3"]
    pending = viewer_api.get("/api/orders/pending/").json()["results"]
    assert sorted(o["external_id"] for o in pending) == ["1", "3"]


def test_fulfil_endpoint_roles_and_validation(viewer_api, operator_api, channel):
    order = imported(channel, "1")
    url = f"/api/orders/{order.pk}/fulfill/"
    assert viewer_api.post(url, {"tracking_number": "A", "carrier": "B"}, format="json").status_code == 403
    unknown = operator_api.post(url, {"tracking_number": "A", "carrier": "B", "colour": "red"}, format="json")
    assert unknown.status_code == 400 and set(unknown.json()["error"]["details"]) == {"colour"}
    wrong_type = operator_api.post(url, {"tracking_number": 123, "carrier": "B"}, format="json")
    assert wrong_type.status_code == 400 and set(wrong_type.json()["error"]["details"]) == {"tracking_number"}
    assert not Fulfillment.objects.exists()

    created = operator_api.post(url, {"tracking_number": "FC1", "carrier": "Fan"}, format="json")
    assert created.status_code == 201, created.json()
    # The sandbox takes fulfillments, so the tracking push is pending.
    assert created.json()["tracking_number"] == "FC1" and created.json()["push_status"] == PushStatus.PENDING
    again = operator_api.post(url, {"tracking_number": "FC2", "carrier": "Fan"}, format="json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "ORDER_NOT_FULFILLABLE"


def test_bulk_fulfil_with_one_invalid_order_fulfils_the_rest_and_reports_the_bad_one(
        org, other_org, operator_api, channel):
    good = [imported(channel, str(i)) for i in range(3)]
    cancelled = imported(channel, "c", status="cancelled")
    foreign = imported(IntegrationFactory(organization=other_org), "x")
    body = {"orders": [
        {"order_id": good[0].pk, "tracking_number": "T0", "carrier": "Fan"},
        {"order_id": cancelled.pk, "tracking_number": "TC", "carrier": "Fan"},
        {"order_id": good[1].pk, "tracking_number": "T1", "carrier": "Fan"},
        {"order_id": foreign.pk, "tracking_number": "TF", "carrier": "Fan"},
        {"order_id": "nope", "tracking_number": "TN", "carrier": "Fan"},
        {"order_id": good[2].pk, "tracking_number": "T2", "carrier": "Fan"},
    ]}

    response = operator_api.post("/api/orders/bulk-fulfill/", body, format="json")

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["fulfilled"], data["failed"]) == (3, 3)
    outcome = [(r["ok"], (r.get("error") or {}).get("code")) for r in data["results"]]
    assert outcome == [(True, None), (False, "ORDER_NOT_FULFILLABLE"), (True, None), (False, "ORDER_NOT_FOUND"),
                       (False, "VALIDATION_ERROR"), (True, None)]
    assert sorted(Fulfillment.objects.values_list("tracking_number", flat=True)) == ["T0", "T1", "T2"]
    assert set(Order.objects.filter(pk__in=[o.pk for o in good]).values_list("status", flat=True)) == {"fulfilled"}
    assert not foreign.fulfillments.exists()


def test_bulk_fulfil_rejects_a_body_that_is_not_a_list(operator_api):
    response = operator_api.post("/api/orders/bulk-fulfill/", {"orders": []}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_status_change_needs_admin_and_an_allowed_move(operator_api, admin_api, channel):
    order = imported(channel, "1", quantity=2)
    url = f"/api/orders/{order.pk}/status/"
    assert operator_api.put(url, {"status": "cancelled"}, format="json").status_code == 403
    refused = admin_api.put(url, {"status": "fulfilled"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_ERROR"
    done = admin_api.put(url, {"status": "cancelled"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert StockLevel.objects.get().reserved == 0


def test_inventory_list_filters_and_adjust(org, viewer_api, operator_api):
    mug = Product.objects.create(organization=org, sku="MUG")
    cup = Product.objects.create(organization=org, sku="CUP")
    low = StockLevel.objects.create(organization=org, product=mug, location="main", on_hand=3, low_stock_threshold=5)
    StockLevel.objects.create(organization=org, product=cup, location="main", on_hand=50, low_stock_threshold=5)
    StockLevel.objects.create(organization=org, product=cup, location="b", on_hand=9, reserved=8,
                              low_stock_threshold=1)

    def skus(query):
        rows = viewer_api.get(f"/api/inventory/?{query}").json()["results"]
        return sorted((r["product"]["sku"], r["location"]) for r in rows)

    assert skus("low_stock=true") == [("CUP", "b"), ("MUG", "main")]
    assert skus("low_stock=false") == [("CUP", "main")]
    assert skus("sku=CUP&location=b") == [("CUP", "b")]
    assert viewer_api.get("/api/inventory/?low_stock=maybe").status_code == 400

    url = f"/api/inventory/{low.pk}/"
    assert viewer_api.patch(url, {"delta": 5}, format="json").status_code == 403
    answer = operator_api.patch(url, {"delta": 5}, format="json")
    assert answer.status_code == 200 and answer.json()["on_hand"] == 8 and answer.json()["is_low"] is False
    bad = operator_api.patch(url, {"delta": "5"}, format="json")
    assert bad.status_code == 400
    both = operator_api.patch(url, {"delta": 1, "on_hand": 3}, format="json")
    assert both.status_code == 400
    below = operator_api.patch(url, {"delta": -9}, format="json")
    assert below.status_code == 400
    low.refresh_from_db()
    assert low.on_hand == 8


def test_products_list_with_stock(org, viewer_api):
    product = Product.objects.create(organization=org, sku="MUG", name="Mug")
    StockLevel.objects.create(organization=org, product=product, location="main", on_hand=4, reserved=1)
    [row] = viewer_api.get("/api/products/?sku=MUG").json()["results"]
    assert row["stock"] == [{"id": mock.ANY, "location": "main", "on_hand": 4, "reserved": 1, "available": 3,
                             "low_stock_threshold": 0}]


def test_analytics_match_a_hand_built_set(org, viewer_api, channel, second_channel):
    """Six orders placed at T0: fulfilled after 10 h, 30 h and 60 h; one paid, one cancelled; one on channel 2."""
    def make(ext, integration, status, hours=None):
        order = Order.objects.create(organization=org, integration=integration, external_id=ext, currency="RON",
                                     status=status, placed_at=T0)
        if hours is not None:
            order.fulfilled_at = T0 + timedelta(hours=hours)
            order.seconds_to_fulfil = hours * 3600
            order.save()
        return order

    a = make("a", channel, OrderStatus.FULFILLED, 10)
    make("b", channel, OrderStatus.FULFILLED, 30)
    make("c", second_channel, OrderStatus.FULFILLED, 60)
    make("d", channel, OrderStatus.PAID)
    make("e", channel, OrderStatus.CANCELLED)
    make("old", channel, OrderStatus.PAID).__class__.objects.filter(external_id="old").update(
        placed_at=T0 - timedelta(days=30))
    Fulfillment.objects.create(organization=org, order=a, carrier="Fan", tracking_number="1",
                               push_status=PushStatus.FAILED)
    Fulfillment.objects.create(organization=org, order=a, carrier="Fan", tracking_number="2",
                               push_status=PushStatus.PUSHED)
    make("z", IntegrationFactory(), OrderStatus.FULFILLED, 1).__class__.objects.filter(external_id="z").update(
        organization=IntegrationFactory().organization)  # another organization's: never counted

    data = viewer_api.get("/api/fulfillment/analytics/?placed_after=2026-04-30T00:00:00Z").json()

    assert data["orders"] == 5
    assert data["by_status"] == {"pending": 0, "paid": 1, "partially_fulfilled": 0, "fulfilled": 3,
                                 "cancelled": 1, "refunded": 0, "shipped": 0, "in_transit": 0, "delivered": 0,
                                 "delivery_failed": 0, "returned": 0}
    channels = {c["code"]: (c["orders"], c["by_status"]["fulfilled"]) for c in data["by_channel"]}
    assert channels == {channel.code: (4, 2), second_channel.code: (1, 1)}
    assert (data["fulfilled"], data["fulfilled_within_24h"], data["fulfilled_within_48h"]) == (3, 1, 2)
    assert data["average_hours_to_fulfil"] == "33.33"  # (10 + 30 + 60) / 3
    assert data["failed_pushes"] == 1
    assert viewer_api.get("/api/fulfillment/analytics/").json()["orders"] == 6
    assert viewer_api.get("/api/fulfillment/analytics/?placed_after=yesterday").status_code == 400


def test_auto_fulfill_endpoint_is_for_operators(viewer_api, operator_api):
    assert viewer_api.post("/api/orders/auto-fulfill/", {}, format="json").status_code == 403
    answer = operator_api.post("/api/orders/auto-fulfill/", {}, format="json")
    assert answer.status_code == 200 and answer.json() == {"fulfilled": 0, "failed": 0, "skipped": 0, "results": []}
    assert operator_api.post("/api/orders/auto-fulfill/", {"order_ids": ["1"]}, format="json").status_code == 400
