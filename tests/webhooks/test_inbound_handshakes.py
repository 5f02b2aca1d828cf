"""Provider handshakes at `/api/webhooks/receive/<code>/`: answered before any signature check, storing nothing.

eBay's `GET ?challenge_code=` (connectors/ebay), WooCommerce's unsigned `webhook_id=N` ping (its own tests, in
tests/connectors/test_woocommerce_webhooks.py), Meta's hub.challenge (the `meta` scheme's). Anything else but a
POST delivery is the 405 envelope.
"""

from __future__ import annotations

import hashlib

from integrations.models import IntegrationLog
from tests.connectors import ebay_support, support
from tests.connectors.ebay_support import VERIFICATION_TOKEN as TOKEN
from tests.factories import IntegrationFactory
from tests.webhooks.inbound_support import receive_url
from webhooks.models import IncomingWebhook

# The eBay integration receiving notifications, re-bound (not imported by name, so nothing shadows an import).
integration, public_dns, sleeps = ebay_support.seller, support.public_dns, support.sleeps


def _nothing_stored() -> bool:
    return not IncomingWebhook.objects.exists() and not IntegrationLog.objects.exists()


def test_ebays_challenge_is_answered_through_the_receive_url(client, integration, settings, nudges):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    code = "a8628072-3d33-45ee-9004-bee86830a22d"
    endpoint = "https://hub.example.com/api/webhooks/receive/ebay-us/"

    response = client.get(receive_url(integration.route_key), {"challenge_code": code})

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {"challengeResponse": hashlib.sha256((code + TOKEN + endpoint).encode()).hexdigest()}
    assert _nothing_stored() and nudges == []


def test_a_get_that_is_no_handshake_is_the_405_envelope(client, integration, shop):
    for response in (client.get(receive_url(integration.route_key)),  # eBay, without a challenge code
                     client.get(receive_url(shop.route_key), {"challenge_code": "x"}),  # a connector without handshakes
                     client.put(receive_url(shop.route_key), b"{}", content_type="application/json")):
        assert response.status_code == 405 and response["Allow"] == "POST"
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert _nothing_stored()


def test_ebay_without_a_verification_token_confirms_nothing(client, integration):
    integration.webhook_secret = ""
    integration.save()
    assert client.get(receive_url(integration.route_key), {"challenge_code": "x"}).status_code == 405


def test_a_get_to_an_unknown_code_is_404(client, db):
    response = client.get(receive_url("no-such-code"), {"challenge_code": "x"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"


def test_metas_check_is_the_same_handshake_at_the_integrations_own_url(client, db, meta_connector):
    meta = IntegrationFactory(provider="test-meta", credentials={"verify_token": "vt-123456"})
    query = {"hub.mode": "subscribe", "hub.verify_token": "vt-123456", "hub.challenge": "1158201444"}
    ok = client.get(receive_url(meta.route_key), query)
    assert ok.status_code == 200 and ok.content == b"1158201444" and ok["Content-Type"].startswith("text/plain")
    assert client.get(receive_url(meta.route_key), {**query, "hub.verify_token": "nope"}).status_code == 405
    assert client.get("/api/webhooks/meta/", {**query, "hub.challenge": "x" * 257}).status_code == 403
    assert _nothing_stored()
