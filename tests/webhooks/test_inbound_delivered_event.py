"""`webhook.delivered`: a processed provider webhook is announced to endpoints that subscribe, in its transaction."""

from __future__ import annotations

import ipaddress

import pytest

from tests.webhooks.test_inbound_support import post, raw_order, receive_url, shopify_delivery
from webhooks.events import CATALOG
from webhooks.inbound.processing import webhook_process
from webhooks.models import IncomingWebhook, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _receive(client, shop, payload, topic):
    body, headers = shopify_delivery(payload, topic=topic)
    response = post(client, receive_url(shop.route_key), body, headers)
    return IncomingWebhook.objects.get(pk=response.json()["id"])


def test_a_completed_webhook_publishes_webhook_delivered(client, org, shop, nudges):
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in",
                                   events=["webhook.delivered"], secret="whsec_test")
    webhook = _receive(client, shop, raw_order(), "orders/create")

    assert webhook_process(webhook_id=webhook.pk) == "completed"

    [delivery] = WebhookDelivery.objects.filter(event="webhook.delivered")
    data = delivery.payload["data"]
    assert data["integration"]["id"] == shop.pk
    assert data["incoming_webhook"]["id"] == webhook.pk and data["incoming_webhook"]["event_type"] == "orders/create"
    assert data["incoming_webhook"]["result"]["orders"]["created"] == 1
    assert "webhook.delivered" in CATALOG


def test_an_ignored_webhook_publishes_nothing(client, org, shop, nudges):
    WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/in", events=["*"],
                                   secret="whsec_test")
    webhook = _receive(client, shop, {"id": 1}, "customers/update")
    assert webhook_process(webhook_id=webhook.pk) == "ignored"
    assert not WebhookDelivery.objects.filter(event="webhook.delivered").exists()


def test_endpoints_can_subscribe_to_it(admin_api, monkeypatch):
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])
    answer = admin_api.post("/api/webhook-endpoints/", {"url": "https://hooks.example.com/x",
                                                        "events": ["webhook.delivered"]}, format="json")
    assert answer.status_code == 201, answer.json()
    types = {e["type"] for e in admin_api.get("/api/webhook-endpoints/event-types/").json()}
    assert {"webhook.delivered", "webhook.failed"} <= types
