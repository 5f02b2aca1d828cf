"""FAN Courier tracking (the beat task), and a FAN Courier integration made through the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from commerce.models import Order, OrderStatus
from connectors import http
from connectors.fancourier.models import Shipment
from connectors.fancourier.tasks import track_integration_awbs, track_open_awbs
from connectors.sessions import close_sessions
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors.http_fakes import fake_public_dns
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint

BASE = "https://api.fancourier.ro"


fixture = Recorded("fancourier")
replay = fixture.replay


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def integration(db, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    fake_public_dns(monkeypatch)
    row = IntegrationFactory(provider="fancourier", type="shipping", api_key="shop-user", api_secret="fc-pass-PPPP9999",
                             config={"client_id": "7032158"})
    yield row
    close_sessions()


@pytest.fixture
def shipment(integration) -> Shipment:
    order = Order.objects.create(organization=integration.organization, external_id="1042", external_number="#1042",
                                 status=OrderStatus.FULFILLED, currency="RON", total=Decimal("249.90"),
                                 placed_at=timezone.now())
    return Shipment.objects.create(organization=integration.organization, integration=integration, order=order,
                                   awb_number="2347300120337", service="Standard")


@responses.activate
def test_tracking__in_transit_updates_an_open_awb_and_keeps_it_open(integration, shipment):
    replay("POST", f"{BASE}/login", "login__success")
    replay("GET", f"{BASE}/reports/awb/tracking", "tracking__in_transit")

    counts = track_integration_awbs(integration.pk)

    assert counts == {"checked": 1, "changed": 1, "delivered": 0, "failed": 0}
    assert parse_qs(urlsplit(responses.calls[1].request.url).query) == {
        "clientId": ["7032158"], "awb[]": ["2347300120337"], "language": ["ro"]}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_code, shipment.is_open, shipment.delivered_at) == (
        "in_transit", "H10", True, None)
    assert shipment.status_at == datetime(2026, 5, 1, 22, 10, tzinfo=ZoneInfo("Europe/Bucharest"))


@responses.activate
def test_tracking__delivered_marks_the_order_delivered_once(integration, shipment, monkeypatch):
    endpoint = WebhookEndpoint.objects.create(organization=integration.organization, url="https://erp.example/hook",
                                              events=["order.updated", "order.delivered", "order.shipped"],
                                              secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")
    replay("POST", f"{BASE}/login", "login__success")
    replay("GET", f"{BASE}/reports/awb/tracking", "tracking__delivered")

    queued: list[int] = []
    monkeypatch.setattr(track_integration_awbs, "delay", queued.append)
    assert track_open_awbs() == {"integrations": 1} and queued == [integration.pk]

    assert track_integration_awbs(integration.pk) == {"checked": 1, "changed": 1, "delivered": 1, "failed": 0}
    assert track_integration_awbs(integration.pk) == {"checked": 0, "changed": 0, "delivered": 0, "failed": 0}

    shipment.refresh_from_db()
    delivered_at = datetime(2026, 5, 2, 13, 5, tzinfo=ZoneInfo("Europe/Bucharest"))
    assert (shipment.status, shipment.status_code, shipment.is_open) == ("delivered", "S2", False)
    assert shipment.delivered_at == delivered_at
    assert len([c for c in responses.calls if "tracking" in c.request.url]) == 1
    assert sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event", flat=True)) == [
        "order.delivered", "order.shipped"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event="order.delivered")
    assert delivery.payload["data"]["order"]["status"] == "delivered"
    assert delivery.payload["data"]["tracking"]["tracking_number"] == "2347300120337"
    assert delivery.payload["data"]["tracking"]["delivered_at"] == delivered_at.isoformat()
    order = Order.objects.get(pk=shipment.order_id)
    assert (order.status, order.delivered_at, order.tracking_at) == ("delivered", delivered_at, delivered_at)


def test_a_fancourier_integration_made_through_the_api_fails_its_test_readably_without_network(admin_api, org,
                                                                                                  settings):
    settings.PROVIDER_MAX_RETRIES = 0
    response = admin_api.post("/api/integrations/", {
        "name": "FAN", "code": "fan", "provider": "fancourier", "api_key": "shop-user", "api_secret": "secret-pass-1",
        "config": {"client_id": "7032158"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "shipping"

    result = integration_test_connection(integration=Integration.objects.get(code="fan"))

    assert not result.ok
    assert result.detail.startswith("Could not use FAN Courier: ")
    assert "Traceback" not in result.detail and "secret-pass-1" not in result.detail
    assert Integration.objects.get(code="fan").last_error == result.detail


# ---------------------------------------------------------------------- the order's lifecycle from tracking
def _events(org, name: str) -> int:
    return WebhookDelivery.objects.filter(endpoint__organization=org, event=name).count()


@pytest.fixture
def subscriber(integration):
    return WebhookEndpoint.objects.create(organization=integration.organization, url="https://erp.example/hook",
                                          events=["*"], secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")


@responses.activate
def test_tracking_moves_the_order_shipped_in_transit_delivered_each_event_once(integration, shipment, subscriber):
    from commerce.models import TrackingEvent

    replay("POST", f"{BASE}/login", "login__success")
    replay("GET", f"{BASE}/reports/awb/tracking", "tracking__in_transit")
    track_integration_awbs(integration.pk)
    order = Order.objects.get(pk=shipment.order_id)
    assert order.status == "in_transit"
    assert order.shipped_at == datetime(2026, 5, 1, 18, 58, tzinfo=ZoneInfo("Europe/Bucharest"))
    assert (_events(integration.organization, "order.shipped"), _events(integration.organization,
                                                                         "order.delivered")) == (1, 0)

    responses.replace(responses.GET, f"{BASE}/reports/awb/tracking",
                      json=fixture("tracking__delivered")["body"])  # C0 again, then H1, S1, S2
    track_integration_awbs(integration.pk)
    order.refresh_from_db()
    assert order.status == "delivered"
    assert list(TrackingEvent.objects.filter(order=order).order_by("occurred_at").values_list("code", "applied")) == [
        ("C0", True), ("H10", True), ("H1", True), ("S1", True), ("S2", True)]  # C0 stored once
    assert (_events(integration.organization, "order.shipped"), _events(integration.organization,
                                                                         "order.delivered")) == (1, 1)


def test_a_replayed_tracking_answer_changes_nothing_and_an_older_event_is_ignored(integration, shipment, subscriber):
    from commerce.models import TrackingEvent
    from connectors.fancourier.tracking import order_events
    from connectors.payments import order_book

    record = fixture("tracking__delivered")["body"]["data"][0]
    book = order_book()
    first = book.order_tracking_record(order_id=shipment.order_id, integration_id=integration.pk,
                                       tracking_number="2347300120337", events=order_events(record))
    assert (first["stored"], first["applied"], first["status"]) == (4, 4, "delivered")
    again = book.order_tracking_record(order_id=shipment.order_id, integration_id=integration.pk,
                                       tracking_number="2347300120337", events=order_events(record))
    assert (again["stored"], again["applied"], again["ignored"], again["status"]) == (0, 0, 4, "delivered")

    late = {"events": [{"id": "H10", "name": "In tranzit", "location": "Turda", "date": "2026-05-02 08:00:00"}]}
    older = book.order_tracking_record(order_id=shipment.order_id, integration_id=integration.pk,
                                       tracking_number="2347300120337", events=order_events(late))
    assert (older["stored"], older["applied"], older["status"]) == (1, 0, "delivered")
    assert TrackingEvent.objects.get(code="H10").applied is False
    org = integration.organization
    assert (_events(org, "order.shipped"), _events(org, "order.delivered"), _events(org, "order.updated")) == (1, 1, 0)


def test_a_refused_parcel_goes_delivery_failed_then_returned_with_one_returned_event(integration, shipment,
                                                                                     subscriber):
    from connectors.fancourier.tracking import order_events
    from connectors.payments import order_book

    record = fixture("tracking__returned_after_failed")["body"]["data"][0]
    events = order_events(record)
    book = order_book()
    book.order_tracking_record(order_id=shipment.order_id, integration_id=integration.pk,
                               tracking_number="2347300120337", events=events[:3])
    assert Order.objects.get(pk=shipment.order_id).status == "delivery_failed"  # S6 refused → exception
    book.order_tracking_record(order_id=shipment.order_id, integration_id=integration.pk,
                               tracking_number="2347300120337", events=events)
    order = Order.objects.get(pk=shipment.order_id)
    assert (order.status, order.delivered_at) == ("returned", None)
    org = integration.organization
    assert (_events(org, "order.shipped"), _events(org, "order.delivered"), _events(org, "order.returned")) == (1, 0, 1)


def test_tracking_does_not_move_an_order_with_lines_still_to_ship(integration, shipment):
    from connectors.fancourier.tracking import order_events
    from connectors.payments import order_book

    Order.objects.filter(pk=shipment.order_id).update(status=OrderStatus.PARTIALLY_FULFILLED)
    outcome = order_book().order_tracking_record(
        order_id=shipment.order_id, integration_id=integration.pk, tracking_number="2347300120337",
        events=order_events(fixture("tracking__delivered")["body"]["data"][0]))
    assert (outcome["stored"], outcome["applied"], outcome["status"]) == (4, 0, "partially_fulfilled")
