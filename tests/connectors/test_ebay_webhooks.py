"""eBay notifications: the GET challenge, the ECDSA `X-EBAY-SIGNATURE` (a key pair made here), dedup, events.

eBay signs with a key it publishes by id; the test plays eBay: it makes a P-256 key pair, serves the public
half from the (mocked) Notification API in eBay's one-line PEM form, and signs the raw body with the private
half, as eBay does.
"""

from __future__ import annotations

import hashlib

import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec

from connectors import registry
from integrations.selectors import integration_receive_url
from tests.connectors import ebay_support
from tests.connectors.ebay_support import API, KID, fixture, raw, signed
from tests.connectors.ebay_support import VERIFICATION_TOKEN as TOKEN
from webhooks.inbound.handlers import handle
from webhooks.inbound.services import webhook_receive

# The shared fixtures, re-bound (not imported by name, so nothing shadows an import).
integration, private_key, ebay_keys = ebay_support.seller, ebay_support.private_key, ebay_support.ebay_keys


# ---------------------------------------------------------------------- the endpoint challenge
def test_the_get_challenge_is_answered_with_the_documented_hash(integration, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    connector = registry.connector_for(integration)
    endpoint = "https://hub.example.com/api/webhooks/receive/ebay-us/"
    assert integration_receive_url(integration) == endpoint
    expected = hashlib.sha256(("a8628072-3d33-45ee-9004-bee86830a22d" + TOKEN + endpoint).encode()).hexdigest()

    answer = connector.webhook_handshake("GET", {}, {"challenge_code": "a8628072-3d33-45ee-9004-bee86830a22d"}, b"",
                                         receive_url=endpoint)

    assert answer == (200, {"challengeResponse": expected})
    assert connector.webhook_handshake("POST", {}, {"challenge_code": "x"}, b"{}", receive_url=endpoint) is None
    assert connector.webhook_handshake("GET", {}, {}, b"", receive_url=endpoint) is None
    integration.config = {"notification_endpoint": "https://ebay-in.example.com/hook"}
    other = hashlib.sha256(("c0de" + TOKEN + "https://ebay-in.example.com/hook").encode()).hexdigest()
    assert connector.webhook_handshake("GET", {}, {"challenge_code": "c0de"}, b"", receive_url=endpoint) == (
        200, {"challengeResponse": other})


def test_without_a_verification_token_no_challenge_is_answered(integration):
    integration.webhook_secret = ""
    assert registry.connector_for(integration).webhook_handshake("GET", {}, {"challenge_code": "x"}, b"",
                                                                 receive_url="https://hub.example.com/x/") is None


# ---------------------------------------------------------------------- the signature
@responses.activate
def test_notification_public_key__get_a_correct_signature_verifies_and_the_key_is_cached(
        integration, private_key, ebay_keys):
    connector = registry.connector_for(integration)
    body = raw("notifications__order_confirmation")
    assert connector.verify_webhook(signed(body, private_key), body)
    assert connector.verify_webhook(signed(body, private_key, digest="SHA256"), body)
    assert ebay_keys.call_count == 1  # cached by kid for an hour
    token_call = responses.calls[0].request
    assert token_call.body == "grant_type=client_credentials&scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope"
    assert responses.calls[1].request.headers["Authorization"] == "Bearer v^1.1#i^1#APP-TOKEN-0003"


@responses.activate
def test_oauth__application_token_a_tampered_body_or_signature_does_not_verify(integration, private_key, ebay_keys):
    connector = registry.connector_for(integration)
    body = raw("notifications__order_confirmation")
    headers = signed(body, private_key)
    assert not connector.verify_webhook(headers, body.replace(b"12-10001-00001", b"12-10001-00009"))
    other_key = ec.generate_private_key(ec.SECP256R1())
    assert not connector.verify_webhook(signed(body, other_key), body)
    assert not connector.verify_webhook({"X-EBAY-SIGNATURE": "not base64 json"}, body)
    assert not connector.verify_webhook({}, body)


@responses.activate
def test_a_key_that_cannot_be_fetched_is_not_verified_not_a_500(integration, private_key):
    responses.add("POST", f"{API}/identity/v1/oauth2/token", json=fixture("oauth__application_token")["body"])
    responses.add("GET", f"{API}/commerce/notification/v1/public_key/{KID}", status=404,
                  json=fixture("errors__404")["body"])
    body = raw("notifications__order_confirmation")
    assert not registry.connector_for(integration).verify_webhook(signed(body, private_key), body)


# ---------------------------------------------------------------------- receiving, dedup, processing
@responses.activate
def test_notifications__order_confirmation_is_stored_once_and_imports_the_order(integration, private_key, ebay_keys):
    responses.add("GET", f"{API}/sell/fulfillment/v1/order/12-10001-00001", json=fixture("orders__get")["body"])
    body = raw("notifications__order_confirmation")

    first = webhook_receive(integrations=[integration], headers=signed(body, private_key), body=body)
    again = webhook_receive(integrations=[integration], headers=signed(body, private_key), body=body)

    assert first.created and not again.created and again.webhook.pk == first.webhook.pk
    webhook = first.webhook
    assert (webhook.event_type, webhook.external_id) == ("ORDER_CONFIRMATION", "49a2e1b7-0d12-4b8e-9f3a-3c2b1a000001")
    outcome = handle(webhook)
    assert outcome.summary == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    assert integration.orders.get().external_id == "12-10001-00001"


def test_notifications__account_deletion_is_an_event_no_handler_takes():
    from connectors.ebay import webhooks

    [event] = webhooks.parse(raw("notifications__account_deletion"))
    assert (event.event_type, event.resource) == ("MARKETPLACE_ACCOUNT_DELETION", "marketplace_account_deletion")
    assert event.external_id == "49a2e1b7-0d12-4b8e-9f3a-3c2b1a000002" and event.payload["username"] == "buyer_one"
    with pytest.raises(Exception, match="not an eBay notification"):
        webhooks.parse(b'{"metadata": {}}')
