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
                                              events=["order.updated"], secret="whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=")
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
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event == "order.updated"
    assert delivery.payload["data"]["delivery"] == {
        "carrier": "FAN Courier", "tracking_number": "2347300120337", "status": "delivered",
        "delivered_at": delivered_at.isoformat()}


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
