"""Trendyol webhooks (credentials Switchyard registered, no signature) through the receive endpoint, and an
integration created by the API that cannot connect."""

from __future__ import annotations

import base64

import pytest
import responses
from responses import matchers

from connectors import http, registry
from connectors.sessions import close_sessions
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory
from webhooks.inbound.handlers import handle
from webhooks.models import IncomingWebhook

ORDERS = "https://apigw.trendyol.com/integration/order/sellers/123456/orders"

pytestmark = pytest.mark.django_db


fixture = Recorded("trendyol")


def delivery() -> tuple[str, dict[str, str], bytes]:
    recorded = fixture("webhooks__package_shipped")
    return recorded["secret"], recorded["headers"], recorded["body"].encode()


@pytest.fixture
def seller(org, public_dns):
    secret, _, _ = delivery()
    yield IntegrationFactory(organization=org, provider="trendyol", api_key="k", api_secret="s",
                             webhook_secret=secret, config={"seller_id": "123456"})
    close_sessions()


def post(client, route_key: str, body: bytes, headers: dict[str, str]):
    headers = dict(headers)
    return client.post(f"/api/webhooks/receive/{route_key}/", data=body, content_type=headers.pop("Content-Type"),
                       headers=headers)


def test_webhooks__package_shipped(seller):
    secret, headers, body = delivery()
    connector = registry.connector_for(seller)

    assert connector.verify_webhook(headers, body)
    assert not connector.verify_webhook(headers | {"x-api-key": secret[:-1] + "X"}, body)
    assert not connector.verify_webhook({"Content-Type": "application/json"}, body)
    basic = "Basic " + base64.b64encode(f"switchyard-{seller.code}:{secret}".encode()).decode()
    assert not connector.verify_webhook({"Authorization": basic}, body)  # not the type registered
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource, event.external_id) == ("order.shipped", "order", "3003:Shipped")


def test_basic_credentials_verify_only_with_the_right_user_and_password(seller):
    secret, _, body = delivery()
    seller.config = {"seller_id": "123456", "webhook_auth": "BASIC_AUTHENTICATION", "webhook_username": "sy-1"}
    connector = registry.connector_for(seller)

    def auth(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    assert connector.verify_webhook(auth("sy-1", secret), body)
    assert not connector.verify_webhook(auth("sy-2", secret), body)
    assert not connector.verify_webhook(auth("sy-1", secret + "x"), body)
    assert not connector.verify_webhook({"Authorization": "Basic not-base64!"}, body)
    assert not connector.verify_webhook({"x-api-key": secret}, body)


@responses.activate
def test_a_delivery_is_stored_once_and_imports_the_whole_order(client, seller, nudges, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    _, headers, body = delivery()
    assert post(client, seller.route_key, body, headers).status_code == 202
    assert post(client, seller.route_key, body, headers).status_code == 200  # the same package and status: one row
    webhook = IncomingWebhook.objects.get()
    assert (webhook.event_type, webhook.external_id) == ("order.shipped", "3003:Shipped")

    siblings = fixture("orders__by_number_10001")["body"]
    responses.add("GET", ORDERS, json=siblings,
                  match=[matchers.query_param_matcher({"orderNumber": "10001", "size": "200"})])
    outcome = handle(webhook)

    assert outcome.summary == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    order = seller.orders.get()
    assert (order.external_id, order.status) == ("10001", "fulfilled")  # 3001 shipped before, 3003 now
    assert sorted((li.external_id, li.quantity, li.fulfilled_quantity) for li in order.lines.all()) == [
        ("501", 1, 1), ("502", 2, 2)]


def test_a_wrong_key_is_refused(client, seller, nudges):
    _, headers, body = delivery()
    assert post(client, seller.route_key, body, headers | {"x-api-key": "guess"}).status_code == 401
    assert IncomingWebhook.objects.count() == 0


def test_an_integration_created_by_the_api_fails_its_test_readably_without_network(admin_api, public_dns, sleeps):
    response = admin_api.post("/api/integrations/", {
        "name": "Trendyol", "code": "ty-main", "provider": "trendyol", "api_key": "tyKEY123456",
        "api_secret": "tySECRET123456", "config": {"seller_id": "123456"}, "is_test_mode": True}, format="json")
    assert response.status_code == 201, response.content
    integration = Integration.objects.get(code="ty-main")

    result = integration_test_connection(integration=integration)

    assert not result.ok
    assert result.detail.startswith("Could not reach Trendyol: Trendyol could not be reached")
    assert "tySECRET123456" not in result.detail
    integration.refresh_from_db()
    assert integration.last_error == result.detail
