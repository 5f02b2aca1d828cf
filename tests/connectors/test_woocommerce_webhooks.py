"""WooCommerce webhooks through the receive endpoint, and an integration created by the API that cannot connect.

Webhook fixtures are `{"secret", "headers", "body"}` with the raw body as WooCommerce signs it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses

from commerce.models import ExternalRef, Product
from connectors import registry
from connectors.sessions import close_sessions
from connectors.woocommerce import webhooks as wc_webhooks
from integrations.models import Integration, IntegrationLog
from integrations.services import integration_test_connection
from tests.connectors.support import Recorded, hmac_base64
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import published, subscribe_all
from webhooks.inbound.handlers import handle
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

API = "https://shop.example.com/wp-json/wc/v3"

pytestmark = pytest.mark.django_db


fixture = Recorded("woocommerce")
replay = fixture.replay


def delivery(name: str) -> tuple[str, dict[str, str], bytes]:
    recorded = fixture(name)
    return recorded["secret"], recorded["headers"], recorded["body"].encode()


@pytest.fixture
def store(org):
    secret, _, _ = delivery("webhooks__order_updated")
    return IntegrationFactory(organization=org, provider="woocommerce", api_endpoint="https://shop.example.com",
                              api_key="ck_1", api_secret="cs_1", webhook_secret=secret)


def post(client, route_key: str, body: bytes, headers: dict[str, str]):
    headers = dict(headers)
    content_type = headers.pop("Content-Type")
    return client.post(f"/api/webhooks/receive/{route_key}/", data=body, content_type=content_type, headers=headers)


def test_webhooks__order_updated(store):
    secret, headers, body = delivery("webhooks__order_updated")
    connector = registry.connector_for(store)

    assert connector.verify_webhook(headers, body)
    assert not connector.verify_webhook(headers, body.replace(b'"total":"145.90"', b'"total":"1.00"'))
    assert not connector.verify_webhook(headers | {"X-WC-Webhook-Signature": "AAAA" + headers[
        "X-WC-Webhook-Signature"][4:]}, body)
    assert not connector.verify_webhook({k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource, event.external_id) == (
        "order.updated", "order", "order.updated:1001:2024-03-07T10:00:00")


def test_a_signed_delivery_is_stored_once_and_imports_the_order(client, store, nudges):
    _, headers, body = delivery("webhooks__order_updated")

    first = post(client, store.route_key, body, headers)
    again = post(client, store.route_key, body, headers | {"X-WC-Webhook-Delivery-ID": "another-delivery"})

    assert first.status_code == 202 and again.status_code == 200 and again.json()["duplicate"] is True
    webhook = IncomingWebhook.objects.get()
    assert webhook.external_id == "order.updated:1001:2024-03-07T10:00:00" and webhook.event_type == "order.updated"
    outcome = handle(webhook)
    assert outcome.summary == {"orders": {"created": 1, "updated": 0, "unchanged": 0}}
    order = store.orders.get()
    assert (order.external_id, order.status, order.total) == ("1001", "fulfilled", Decimal("145.90"))


@pytest.fixture
def store_api(store, public_dns, sleeps):
    """The store's REST API reachable (answered by `responses`): public DNS, no backoff sleeps."""
    subscribe_all(store.organization)
    yield store
    close_sessions()


def test_webhooks__product_updated_variable(store):
    _, headers, body = delivery("webhooks__product_updated_variable")
    connector = registry.connector_for(store)
    assert connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource, event.external_id) == (
        "product.updated", "product", "product.updated:40:2024-03-08T09:30:00")
    assert event.payload["variations"] == [43, 44]  # ids: the variations themselves are fetched when processed


@responses.activate
def test_a_variable_product_webhook_fetches_its_variations_and_imports_them(client, store_api, nudges):
    """The payload lists variation ids; processing fetches them (the pull's code) and imports each SKU."""
    variations = replay("GET", f"{API}/products/40/variations", "products__variations_multi")
    _, headers, body = delivery("webhooks__product_updated_variable")

    assert post(client, store_api.route_key, body, headers).status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert webhook_process(webhook_id=webhook.pk) == "completed"

    webhook.refresh_from_db()
    assert webhook.metadata["result"] == {"products": {"created": 1, "updated": 0, "unchanged": 0}}
    assert variations.call_count == 1
    assert dict(Product.objects.values_list("sku", "name")) == {
        "TSHIRT-M-BLUE": "Tricou bumbac — M / Albastru", "TSHIRT-L-BLACK": "Tricou bumbac — L / Negru"}
    assert set(ExternalRef.objects.filter(integration=store_api, resource_type="inventory_item")
               .values_list("external_id", flat=True)) == {"40:43", "40:44"}
    assert published(store_api.organization, "webhook.failed") == []


def test_webhooks__product_updated_no_sku(store):
    """A simple product without a SKU has no variant the ERP could key a Product by: an event no handler takes."""
    _, headers, body = delivery("webhooks__product_updated_no_sku")
    connector = registry.connector_for(store)
    assert connector.verify_webhook(headers, body)
    [event] = connector.parse_webhook(headers, body)
    assert (event.event_type, event.resource, event.external_id) == (
        "product.updated", "", "product.updated:70:2024-03-08T10:05:00")
    assert connector.normalize_product(event.payload)["variants"] == []


@responses.activate
def test_a_product_without_a_sku_is_ignored_not_failed(client, store_api, nudges):
    _, headers, body = delivery("webhooks__product_updated_no_sku")

    assert post(client, store_api.route_key, body, headers).status_code == 202
    webhook = IncomingWebhook.objects.get()
    assert webhook_process(webhook_id=webhook.pk) == "ignored"

    webhook.refresh_from_db()
    assert (webhook.status, webhook.error_message) == ("ignored", "")
    assert not Product.objects.exists() and len(responses.calls) == 0
    assert published(store_api.organization, "webhook.failed") == []


def test_a_tampered_delivery_is_refused(client, store, nudges):
    _, headers, body = delivery("webhooks__order_updated")
    response = post(client, store.route_key, body.replace(b"Ana", b"Eve"), headers)
    assert response.status_code == 401 and IncomingWebhook.objects.count() == 0


def test_webhooks__ping(client, store, nudges):
    """The creation ping is unsigned: the receive view answers it as a handshake, exactly 200, storing nothing;
    it never verifies, and parse yields no events should one be signed."""
    _, headers, body = delivery("webhooks__ping")
    connector = registry.connector_for(store)
    assert not connector.verify_webhook(headers, body)
    assert connector.parse_webhook(headers, body) == []
    assert post(client, store.route_key, body, headers).status_code == 200
    assert IncomingWebhook.objects.count() == 0 and nudges == []
    assert not IntegrationLog.objects.exists()


@pytest.mark.parametrize("body, signed", [(b"webhook_id=142", True), (b"webhook_id=142&x=1", False),
                                          (b"webhook_id=abc", False), (b"webhook_id=142\n", False)])
def test_only_an_exact_unsigned_ping_is_a_handshake(client, store, nudges, body, signed):
    """A signature header or any other body is a delivery like any other: verified, and refused (401) here."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-WC-Webhook-Signature"] = "bm90LWEtc2lnbmF0dXJl"
    assert post(client, store.route_key, body, headers).status_code == 401
    assert IncomingWebhook.objects.count() == 0


def test_an_integration_created_by_the_api_fails_its_test_readably_without_network(admin_api, public_dns, sleeps):
    response = admin_api.post("/api/integrations/", {
        "name": "Woo shop", "code": "woo-shop", "provider": "woocommerce", "api_endpoint": "https://shop.example.com",
        "api_key": "ck_abcdef123456", "api_secret": "cs_abcdef123456"}, format="json")
    assert response.status_code == 201, response.content
    integration = Integration.objects.get(code="woo-shop")
    assert integration.type == "ecommerce"

    result = integration_test_connection(integration=integration)

    assert not result.ok
    assert result.detail.startswith("Could not reach the WooCommerce store: WooCommerce could not be reached")
    assert "Traceback" not in result.detail and "cs_abcdef123456" not in result.detail
    integration.refresh_from_db()
    assert integration.last_error == result.detail


# ---------------------------------------------------------------- WooCommerce


def test_woocommerce_base64_hmac_of_the_body():
    body = b'{"id":727,"status":"processing","date_modified_gmt":"2026-05-01T09:30:00"}'
    headers = {"X-WC-Webhook-Signature": hmac_base64("wc-secret", body), "X-WC-Webhook-Topic": "order.updated"}
    assert wc_webhooks.verify(headers, body, ["wc-secret"])
    assert not wc_webhooks.verify(headers, body.replace(b"727", b"728"), ["wc-secret"])
    assert not wc_webhooks.verify({"X-Shopify-Hmac-Sha256": headers["X-WC-Webhook-Signature"]}, body,
                                            ["wc-secret"])
