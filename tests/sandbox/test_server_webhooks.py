"""The sandbox's signed webhooks."""

import base64
import hashlib
import hmac
import json

from sandbox.data import API_VERSION
from sandbox.server import SandboxServer
from sandbox.webhooks import WebhookSender
from tests.sandbox.conftest import ShopClient
from tests.sandbox.receiver import WebhookReceiver


def test_touched_orders_are_posted_signed_with_shopify_headers():
    with WebhookReceiver() as receiver, SandboxServer(port=0, seed=3, orders=50, products=5,
                                                      webhook_url=receiver.url, webhook_secret="whsec-test") as sandbox:
        ids = sandbox.touch_orders(3)
        assert sandbox.webhooks.flush()
        received = receiver.wait_for(3)
    updated = [(h, b) for h, b in received if h["X-Shopify-Topic"] == "orders/updated"]
    assert sorted(json.loads(b)["id"] for _, b in updated) == sorted(ids)
    for headers, body in received:
        expected = base64.b64encode(hmac.new(b"whsec-test", body, hashlib.sha256).digest()).decode()
        assert headers["X-Shopify-Hmac-Sha256"] == expected
        assert headers["X-Shopify-Shop-Domain"] == "sandbox-3.myshopify.com"
        assert headers["X-Shopify-API-Version"] == API_VERSION
        assert headers["X-Shopify-Webhook-Id"] and headers["X-Shopify-Triggered-At"].endswith("Z")
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in received}) == len(received)


def test_stock_and_fulfilment_changes_send_their_topics():
    with WebhookReceiver() as receiver, SandboxServer(port=0, seed=3, orders=50, products=5,
                                                      webhook_url=receiver.url) as sandbox:
        shop = ShopClient(sandbox, sandbox.issue_tokens()["access_token"])
        level = shop.get("inventory_levels.json", location_ids=str(sandbox.data.locations[0].id), limit=1)
        item = level.json()["inventory_levels"][0]["inventory_item_id"]
        shop.post("inventory_levels/set.json", {"location_id": sandbox.data.locations[0].id,
                                                "inventory_item_id": item, "available": 3})
        assert sandbox.webhooks.flush()
        headers, body = receiver.wait_for(1)[0]
    assert headers["X-Shopify-Topic"] == "inventory_levels/update" and json.loads(body)["available"] == 3
    # Shopify signs with the app's client secret when no separate webhook secret is set.
    expected = base64.b64encode(hmac.new(b"sandbox-client-secret", body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected


def test_a_failing_receiver_is_logged_not_raised(caplog):
    with WebhookReceiver(status=500) as receiver:
        sender = WebhookSender(url=receiver.url, secret="s", shop_domain="x.myshopify.com")
        sender.start()
        sender.send("orders/updated", {"id": 1})
        sender.send("orders/updated", {"id": 2})
        assert sender.flush()
        sender.stop()
    assert [d["status"] for d in sender.deliveries] == [500, 500]
    assert "answered 500" in caplog.text


def test_an_unreachable_receiver_is_recorded():
    sender = WebhookSender(url="http://127.0.0.1:9/hooks", secret="s", shop_domain="x.myshopify.com", timeout=1)
    sender.start()
    sender.send("orders/updated", {"id": 1})
    assert sender.flush()
    sender.stop()
    assert sender.deliveries[0]["status"] is None and sender.deliveries[0]["error"]


def test_a_redirect_counts_as_a_failure():
    with WebhookReceiver(status=301) as receiver:
        sender = WebhookSender(url=receiver.url, secret="s", shop_domain="x.myshopify.com")
        sender.start()
        sender.send("orders/updated", {"id": 1})
        assert sender.flush()
        sender.stop()
    assert sender.deliveries[0]["status"] == 301 and sender.deliveries[0]["error"] == "HTTP 301"


def test_the_connector_verifies_and_parses_what_the_sandbox_sends():
    from connectors.sandbox.connector import SandboxConnector
    from integrations.models import Integration

    with WebhookReceiver() as receiver, SandboxServer(port=0, seed=3, orders=50, products=5,
                                                      webhook_url=receiver.url, webhook_secret="whsec-e2e") as sandbox:
        [touched] = sandbox.touch_orders(1)
        assert sandbox.webhooks.flush()
        received = receiver.wait_for(1)
    connector = SandboxConnector(Integration(provider="sandbox", webhook_secret="whsec-e2e"))
    wrong = SandboxConnector(Integration(provider="sandbox", webhook_secret="another"))
    for headers, body in received:
        assert connector.verify_webhook(headers, body)
        assert not wrong.verify_webhook(headers, body)
    events = [e for headers, body in received for e in connector.parse_webhook(headers, body)]
    assert touched in {e.payload["id"] for e in events if e.event_type == "orders/updated"}
