"""Shopify deliveries through the real receive endpoint into commerce: products, stock levels, app/uninstalled.

The product delivery is the recorded fixture (tests/fixtures/shopify/webhooks__products_update.json, signed with
the app's client secret); stock levels and the uninstall are signed here with the same secret.
"""

from __future__ import annotations

import json
from decimal import Decimal

from commerce.models import ChannelLocation, ExternalRef, Product, StockLevel
from integrations.models import Integration
from tests.connectors.test_shopify_connector import fixture, integration, sleeps  # noqa: F401
from tests.integrations.oauth_fakes import published, subscribe_all
from tests.webhooks.test_inbound_support import nudges, post, receive_url, shopify_delivery  # noqa: F401
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook

SECRET = "shpss_fixture_client_secret_0001"  # the integration fixture's api_secret, Shopify's signing key
SKUS = ["TSH-BLU-L", "TSH-BLU-M", "TSH-BLU-XL"]


def _deliver(client, integration, body: bytes, headers: dict):  # noqa: F811
    response = post(client, receive_url(integration.route_key), body, headers)
    assert response.status_code in (200, 202), response.content
    return response


def _products_update(client, integration, *, webhook_id: str | None = None):  # noqa: F811
    recorded = fixture("webhooks__products_update")
    headers = {k: v for k, v in recorded["headers"].items() if k != "Content-Type"}
    if webhook_id:  # the same change, delivered again under another delivery id (a second subscription)
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return _deliver(client, integration, recorded["body"].encode(), headers)


def _process(response) -> str:
    return webhook_process(webhook_id=response.json()["id"])


def _level(available: int, updated_at: str, *, item: int = 47100000011, webhook_id: str | None = None):
    payload = {"inventory_item_id": item, "location_id": 72000001, "available": available, "updated_at": updated_at,
               "admin_graphql_api_id": f"gid://shopify/InventoryLevel/72000001?inventory_item_id={item}"}
    return shopify_delivery(payload, topic="inventory_levels/update", secret=SECRET, webhook_id=webhook_id,
                            domain="acme-ro.myshopify.com")


def test_a_product_webhook_lands_in_commerce_once_however_often_it_is_delivered(client, integration, nudges):  # noqa: F811
    first = _products_update(client, integration)
    assert first.status_code == 202
    assert _process(first) == "completed"
    webhook = IncomingWebhook.objects.get(pk=first.json()["id"])
    assert webhook.metadata["result"] == {"products": {"created": 1, "updated": 0, "unchanged": 0}}
    assert sorted(Product.objects.filter(organization=integration.organization).values_list("sku", flat=True)) == SKUS
    assert Product.objects.get(sku="TSH-BLU-XL").price == Decimal("84.90")

    retried = _products_update(client, integration)  # Shopify's retry: same delivery id
    assert retried.status_code == 200 and retried.json() == {"id": webhook.pk, "status": "completed",
                                                               "duplicate": True}
    again = _products_update(client, integration, webhook_id="another-delivery-of-the-same-change")
    assert again.status_code == 200 and again.json()["id"] == webhook.pk  # same topic, shop and body: one delivery
    assert IncomingWebhook.objects.count() == 1 and Product.objects.count() == 3
    assert ExternalRef.objects.filter(integration=integration, resource_type="product").count() == 1


def test_a_stock_level_webhook_sets_on_hand_once(client, integration, nudges):  # noqa: F811
    ChannelLocation.objects.create(organization=integration.organization, integration=integration,
                                   external_id="72000001", erp_location="warehouse-ro")
    assert _process(_products_update(client, integration)) == "completed"
    body, headers = _level(9, "2024-03-06T10:00:00+02:00", webhook_id="level-1")
    first = _deliver(client, integration, body, headers)
    assert _process(first) == "completed"
    level = StockLevel.objects.get(product__sku="TSH-BLU-M")
    assert (level.location, level.on_hand) == ("warehouse-ro", 9)

    assert _deliver(client, integration, body, headers).json()["duplicate"] is True  # retried delivery
    body, headers = _level(9, "2024-03-06T10:00:00+02:00", webhook_id="level-1-again")  # same change, new id
    assert _deliver(client, integration, body, headers).json() == {"id": first.json()["id"], "status": "completed",
                                                                   "duplicate": True}
    older_body, older_headers = _level(4, "2024-03-06T09:00:00+02:00", webhook_id="level-0-late")  # out of order
    late = _deliver(client, integration, older_body, older_headers)
    assert _process(late) == "completed"
    assert IncomingWebhook.objects.get(pk=late.json()["id"]).metadata["result"]["inventory"]["unchanged"] == 1
    assert list(StockLevel.objects.values_list("on_hand", flat=True)) == [9]


def test_a_stock_level_before_its_product_is_retried_not_failed(client, integration, nudges):  # noqa: F811
    body, headers = _level(3, "2024-03-06T10:00:00+02:00", item=47100000099)
    response = _deliver(client, integration, body, headers)
    assert _process(response) == "pending"  # retried with backoff: the product webhook may still be on its way
    webhook = IncomingWebhook.objects.get(pk=response.json()["id"])
    assert webhook.retry_count == 1 and webhook.error_message.startswith("NotImportedYet: ")
    assert "47100000099@72000001 is not imported yet" in webhook.error_message
    assert not StockLevel.objects.exists()


def test_product_and_stock_webhooks_of_a_connector_without_the_capability_are_ignored(client, integration, nudges,  # noqa: F811
                                                                                    monkeypatch):
    from connectors.shopify.connector import ShopifyConnector

    monkeypatch.setattr(ShopifyConnector, "capabilities", frozenset())
    assert _process(_products_update(client, integration)) == "ignored"
    assert not Product.objects.exists()


def test_app_uninstalled_disconnects_the_integration_once_without_calling_shopify(client, integration, nudges):  # noqa: F811
    Integration.objects.filter(pk=integration.pk).update(refresh_token="shprt_RRRR2222", scope=["read_orders"])
    subscribe_all(integration.organization)
    shop = {"id": 690933842, "name": "Acme RO", "domain": "acme.ro", "myshopify_domain": "acme-ro.myshopify.com"}
    body, headers = shopify_delivery(shop, topic="app/uninstalled", secret=SECRET, webhook_id="uninstall-1",
                                     domain="acme-ro.myshopify.com")
    assert _process(_deliver(client, integration, body, headers)) == "completed"  # no HTTP mock: no call made

    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.access_token, row.refresh_token, row.scope) == ("pending_auth", "", "", [])
    assert row.api_secret == SECRET  # the app's credentials stay: reconnecting needs them
    [event] = published(integration.organization, "integration.disconnected")
    assert event["reason"] == "deauthorized" and event["revoked"] is False
    assert event["integration"]["id"] == integration.pk

    reinstalled = {**shop, "name": "Acme RO (reinstalled)"}  # a later uninstall: the identical body is a replay
    body, headers = shopify_delivery(reinstalled, topic="app/uninstalled", secret=SECRET, webhook_id="uninstall-2",
                                     domain="acme-ro.myshopify.com")
    second = _deliver(client, integration, body, headers)
    assert _process(second) == "completed"
    assert IncomingWebhook.objects.get(pk=second.json()["id"]).metadata["result"]["deauthorization"][
        "already_disconnected"] is True
    assert len(published(integration.organization, "integration.disconnected")) == 1
    assert json.loads(bytes(IncomingWebhook.objects.get(external_id="uninstall-1").body))["id"] == 690933842


def test_a_stock_level_at_an_unmapped_location_is_recorded_and_sets_nothing(client, integration, nudges):  # noqa: F811
    assert _process(_products_update(client, integration)) == "completed"
    body, headers = _level(9, "2024-03-06T10:00:00+02:00", webhook_id="level-unmapped")
    webhook = _deliver(client, integration, body, headers)
    assert _process(webhook) == "completed"
    assert not StockLevel.objects.exists()
    location = ChannelLocation.objects.get(integration=integration)
    assert (location.external_id, location.erp_location) == ("72000001", "")
    assert location.stock.get().channel_quantity == 9
