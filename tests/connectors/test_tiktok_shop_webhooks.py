"""TikTok Shop webhooks: `Authorization` = hex HMAC-SHA256(app_secret, app_key + body), dedup, events."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from pathlib import Path

import pytest
import responses

from connectors import http, outbound, registry
from connectors.sessions import close_sessions
from connectors.tiktok_shop import client as tts_client
from connectors.tiktok_shop import webhooks
from integrations.models import IntegrationStatus
from tests.factories import IntegrationFactory
from webhooks.inbound.handlers import handle
from webhooks.inbound.services import webhook_receive

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiktok_shop"
APP_KEY, APP_SECRET = "6abcdefghijk1", "tts-app-secret-0123456789abcdef"
API = "https://open-api.tiktokglobalshop.com"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def raw(name: str) -> bytes:
    return json.dumps(fixture(name)["body"], separators=(",", ":")).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """Computed here, independently: hex HMAC-SHA256 keyed with the app secret over app_key + body."""
    digest = hmac.new(secret.encode(), APP_KEY.encode() + body, hashlib.sha256).hexdigest()
    return {"Authorization": digest, "Content-Type": "application/json"}


@pytest.fixture
def integration(db, monkeypatch):
    monkeypatch.setattr(outbound, "resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    monkeypatch.setattr(tts_client, "clock", lambda: 1709300000)
    yield IntegrationFactory(provider="tiktok_shop", status=IntegrationStatus.ACTIVE, api_key=APP_KEY,
                             api_secret=APP_SECRET, access_token="ROW_AccessToken_0000",
                             config={"shop_cipher": "ROW_Mfxq0QAAAADY9jhQTMr4JXq4U19IpM5-"})
    close_sessions()


def test_a_correct_signature_verifies_and_a_tampered_one_does_not(integration):
    connector = registry.connector_for(integration)
    body = raw("webhooks__order_status_change")
    assert connector.verify_webhook(signed(body), body)
    assert not connector.verify_webhook(signed(body), body.replace(b"AWAITING_SHIPMENT", b"CANCELLED"))
    assert not connector.verify_webhook(signed(body, "someone-elses-secret"), body)
    assert not connector.verify_webhook({}, body)


@responses.activate
def test_webhooks__order_status_change_is_stored_once_and_imports_the_order(integration):
    responses.add("GET", f"{API}/order/202309/orders", json=fixture("orders__get")["body"])
    responses.add("POST", f"{API}/return_refund/202309/returns/search", json=fixture("returns__none")["body"])
    body = raw("webhooks__order_status_change")

    first = webhook_receive(integrations=[integration], headers=signed(body), body=body)
    again = webhook_receive(integrations=[integration], headers=signed(body), body=body)

    assert first.created and not again.created and again.webhook.pk == first.webhook.pk
    assert (first.webhook.event_type, first.webhook.external_id) == ("ORDER_STATUS_CHANGE", "7327112393057371910")
    assert handle(first.webhook).summary == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    assert integration.orders.get().external_id == "576461413038785001"


def test_webhooks__seller_deauthorization_is_recorded_and_ignored():
    [event] = webhooks.parse(raw("webhooks__seller_deauthorization"))
    assert (event.event_type, event.resource, event.external_id) == (
        "SELLER_DEAUTHORIZATION", "seller_deauthorization", "7327112393057371911")
    with pytest.raises(Exception, match="not a TikTok Shop webhook"):
        webhooks.parse(b'{"type": 1}')
