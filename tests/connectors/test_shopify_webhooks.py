"""Shopify webhooks: verification, the events in a delivery, the inbound store and handlers, subscriptions.

Deliveries are `tests/fixtures/shopify/webhooks__<topic>.json`: `{"secret", "headers", "body"}`
with the raw body as Shopify signed it; subscription answers are `webhooks__list/create`.
"""

from __future__ import annotations

import json

import pytest
import responses

from commerce.models import Order
from config.errors import ValidationError
from connectors.shopify import webhooks
from integrations.models import ClaimProof
from integrations.routing import accounts_claim
from integrations.selectors import integration_receive_url
from integrations.services import integration_webhooks_register, integration_webhooks_unregister
from tests.connectors import shopify_support
from tests.connectors.shopify_support import API, fixture, replay
from tests.connectors.support import Recorded, hmac_base64, hmac_hex, sent_json
from webhooks.inbound.processing import webhook_process
from webhooks.inbound.services import webhook_receive
from webhooks.models import IncomingWebhook

ADDRESS = "https://hub.example.com/api/webhooks/receive/acme-ro/"

integration, connector = shopify_support.integration, shopify_support.connector  # the shared fixtures


def delivery(name: str) -> tuple[dict, bytes]:
    recorded = fixture(name)
    return recorded["headers"], recorded["body"].encode()


# ---------------------------------------------------------------------- one test per delivery
def test_webhooks__orders_cancelled(connector):
    headers, body = delivery("webhooks__orders_cancelled")
    assert connector.verify_webhook(headers, body)
    assert connector.verify_webhook({k.lower(): v for k, v in headers.items()}, body)  # as a framework hands them
    assert not connector.verify_webhook(headers, body.replace(b'"95.08"', b'"9.08"'))  # tampered amount
    assert not connector.verify_webhook({**headers, "X-Shopify-Hmac-Sha256": "bm9wZQ=="}, body)  # tampered signature
    assert not connector.verify_webhook({k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource, event.external_id) == (
        "orders/cancelled", "order", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    assert connector.normalize_order(event.payload)["status"] == "cancelled"


def test_webhooks__refunds_create(connector):
    headers, body = delivery("webhooks__refunds_create")
    assert connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource) == ("refunds/create", "return")  # its restocked lines are a return
    assert event.payload["order_id"] == 5500000007


def test_webhooks__products_update(connector):
    headers, body = delivery("webhooks__products_update")
    assert connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)
    assert event.resource == "product"
    assert [v["sku"] for v in connector.normalize_product(event.payload)["variants"]] == [
        "TSH-BLU-M", "TSH-BLU-L", "TSH-BLU-XL"]


def test_webhooks__customers_redact(connector):
    headers, body = delivery("webhooks__customers_redact")
    assert connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource) == ("customers/redact", "privacy")


def test_the_previous_secret_in_webhook_secret_still_verifies_during_a_rotation(connector):
    headers, body = delivery("webhooks__orders_cancelled")
    connector.integration.api_secret, connector.integration.webhook_secret = "shpss_new", fixture(
        "webhooks__orders_cancelled")["secret"]
    assert connector.verify_webhook(headers, body)
    connector.integration.webhook_secret = ""
    assert not connector.verify_webhook(headers, body)


def test_a_delivery_without_topic_id_or_json_object_is_refused(connector):
    with pytest.raises(ValidationError, match="Topic"):
        connector.parse_webhook({"X-Shopify-Webhook-Id": "1"}, b"{}")
    with pytest.raises(ValidationError, match="Webhook-Id"):
        connector.parse_webhook({"X-Shopify-Topic": "orders/updated"}, b"{}")
    with pytest.raises(ValidationError, match="not a JSON object"):
        connector.parse_webhook({"X-Shopify-Topic": "orders/updated", "X-Shopify-Webhook-Id": "1"}, b"[]")


# ---------------------------------------------------------------------- through the inbound store
def test_a_delivery_is_stored_once_and_imports_the_order(integration):
    headers, body = delivery("webhooks__orders_cancelled")
    first = webhook_receive(integrations=[integration], headers=headers, body=body)
    again = webhook_receive(integrations=[integration], headers=headers, body=body)  # Shopify's retry
    assert first.created and not again.created and again.webhook.pk == first.webhook.pk
    assert first.webhook.external_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"

    assert webhook_process(webhook_id=first.webhook.pk) == "completed"
    order = Order.objects.get(integration=integration, external_id="5500000006")
    assert (order.status, order.external_number) == ("cancelled", "1006")


def test_a_privacy_request_to_the_shop_address_is_acknowledged_and_recorded(client, integration):
    accounts_claim(integration=integration, proof=ClaimProof.OAUTH)  # as its OAuth install did
    recorded = fixture("webhooks__customers_redact")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in recorded["headers"].items() if k != "Content-Type"}
    response = client.post("/api/webhooks/shopify/", data=recorded["body"], content_type="application/json", **extra)
    assert response.status_code == 202, response.content
    webhook = IncomingWebhook.objects.get(pk=response.json()["id"])
    assert (webhook.integration_id, webhook.event_type, webhook.signature_verified) == (
        integration.pk, "customers/redact", True)
    assert json.loads(bytes(webhook.body))["orders_to_redact"] == [5500000001, 5500000006]
    assert webhook_process(webhook_id=webhook.pk) == "ignored"  # kept for the operator; nothing is imported


def test_a_tampered_delivery_is_refused_at_the_door(client, integration):
    recorded = fixture("webhooks__orders_cancelled")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in recorded["headers"].items() if k != "Content-Type"}
    response = client.post("/api/webhooks/receive/acme-ro/", data=recorded["body"].replace('"95.08"', '"9.08"'),
                           content_type="application/json", **extra)
    assert response.status_code == 401 and not IncomingWebhook.objects.exists()


# ---------------------------------------------------------------------- subscriptions
@responses.activate
def test_webhooks__list(connector, settings):
    """Connect: every topic not yet delivered to this integration's address is subscribed; the rest are kept."""
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    replay("GET", f"{API}/webhooks.json", "webhooks__list")
    replay("POST", f"{API}/webhooks.json", "webhooks__create")
    created = connector.register_webhooks(ADDRESS)
    expected = [t for t in webhooks.TOPICS if t not in ("orders/create", "orders/updated")]
    assert created == expected
    posts = [sent_json(c) for c in responses.calls if c.request.method == "POST"]
    assert posts[0] == {"webhook": {"topic": "orders/paid", "address": ADDRESS, "format": "json"}}
    assert [p["webhook"]["topic"] for p in posts] == expected


@responses.activate
def test_webhooks__create(connector, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com/"
    responses.add("GET", f"{API}/webhooks.json", json={"webhooks": []})
    replay("POST", f"{API}/webhooks.json", "webhooks__create")
    assert connector.register_webhooks(ADDRESS) == list(webhooks.TOPICS)
    assert not set(webhooks.PRIVACY_TOPICS) & set(webhooks.TOPICS)  # set in the Partner Dashboard, not by API


@responses.activate
def test_disconnect_removes_only_this_integrations_subscriptions(connector, settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    replay("GET", f"{API}/webhooks.json", "webhooks__list")
    responses.add("DELETE", f"{API}/webhooks/1100000001.json", status=200, json={})
    responses.add("DELETE", f"{API}/webhooks/1100000002.json", status=404, json={"errors": "Not Found"})
    assert connector.unregister_webhooks(ADDRESS) == 2
    deleted = [c.request.url for c in responses.calls if c.request.method == "DELETE"]
    assert deleted == [f"{API}/webhooks/1100000001.json", f"{API}/webhooks/1100000002.json"]


@responses.activate
def test_subscriptions_get_the_integrations_receive_url_from_the_caller(connector, settings):
    """Subscribe and unsubscribe are handed integration_receive_url (the one definition of an integration's
    inbound address, which eBay's challenge and WooCommerce get too) by the services that call them."""
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    replay("GET", f"{API}/webhooks.json", "webhooks__list")
    replay("POST", f"{API}/webhooks.json", "webhooks__create")
    responses.add("DELETE", f"{API}/webhooks/1100000001.json", status=200, json={})
    responses.add("DELETE", f"{API}/webhooks/1100000002.json", status=200, json={})

    shop = connector.integration
    assert integration_receive_url(shop) == ADDRESS
    assert integration_webhooks_register(integration=shop) == [
        t for t in webhooks.TOPICS if t not in ("orders/create", "orders/updated")]
    assert integration_webhooks_unregister(integration=shop) == ""
    posted = {sent_json(c)["webhook"]["address"] for c in responses.calls if c.request.method == "POST"}
    assert posted == {ADDRESS}
    assert len([c for c in responses.calls if c.request.method == "DELETE"]) == 2


def test_subscriptions_need_an_https_public_address(connector, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    with pytest.raises(ValidationError, match="HTTPS"):
        connector.register_webhooks(integration_receive_url(connector.integration))


# ---------------------------------------------------------------- Shopify


def test_shopify_recorded_delivery_verifies_and_tampering_does_not():
    recorded = Recorded("sandbox")("webhooks__orders_updated")
    body, headers, secret = recorded["body"].encode(), recorded["headers"], recorded["secret"]
    assert webhooks.verify(headers, body, [secret])
    assert webhooks.verify({k.lower(): v for k, v in headers.items()}, body, [secret])
    assert not webhooks.verify(headers, body + b" ", [secret])
    assert not webhooks.verify(headers, json.dumps(json.loads(body)).encode(), [secret])  # re-serialized
    assert not webhooks.verify(headers, body, ["another-secret"])
    assert not webhooks.verify({}, body, [secret])
    assert not webhooks.verify(headers, body, [""])
    assert not webhooks.verify(headers, body, [])


def test_shopify_accepts_the_old_secret_during_a_rotation():
    body = b'{"id":1}'
    headers = {"X-Shopify-Hmac-Sha256": hmac_base64("old-secret", body)}
    assert webhooks.verify(headers, body, ["new-secret", "old-secret"])
    assert not webhooks.verify(headers, body, ["new-secret"])


def test_shopify_rejects_a_hex_digest_and_garbage():
    body = b'{"id":1}'
    assert not webhooks.verify({"X-Shopify-Hmac-Sha256": hmac_hex("s", body)}, body, ["s"])
    assert not webhooks.verify({"X-Shopify-Hmac-Sha256": "not base64 at all €"}, body, ["s"])
