"""Helpers for the incoming-webhook tests: a sandbox shop integration, signed deliveries, recorded orders.

Not a test module: tests/conftest.py loads it as a plugin, so its fixtures (shop, nudges, eager, meta_connector)
are there for every test; the helpers are imported by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest

from config.celery import app
from connectors import registry, schemes
from connectors.base import Connector, ProviderAccount
from connectors.capabilities import WebhookReceiver
from integrations.models import ClaimProof
from integrations.routing import accounts_claim
from tests.connectors.support import sandbox_order
from tests.factories import IntegrationFactory
from webhooks.inbound.tasks import process_incoming_webhook

SECRET = "whsec_inbound_test_secret_0001"
SHOP_DOMAIN = "inbound-test.myshopify.com"


def raw_order(case: str = "paid", **changes: Any) -> dict:
    """A Shopify-shaped order from the recorded sandbox fixtures, with fields replaced."""
    order = sandbox_order(case)
    order.update(changes)
    return order


def shopify_sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_delivery(payload: Any, *, topic: str = "orders/updated", webhook_id: str | None = None,
                     secret: str = SECRET, domain: str = SHOP_DOMAIN) -> tuple[bytes, dict[str, str]]:
    """The body and headers the sandbox (or Shopify) sends for `payload`."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_sign(body, secret),
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-API-Version": "2026-10",
    }
    return body, headers


def post(client, url: str, body: bytes, headers: dict[str, str], content_type: str = "application/json"):
    return client.post(url, data=body, content_type=content_type, headers=headers, REMOTE_ADDR="203.0.113.7")


def receive_url(code: str) -> str:
    return f"/api/webhooks/receive/{code}/"


@pytest.fixture
def shop(org):
    """A sandbox (Shopify-shaped) integration receiving webhooks signed with SECRET."""
    return IntegrationFactory(organization=org, provider="sandbox", webhook_secret=SECRET,
                              config={"shop_domain": SHOP_DOMAIN})


@pytest.fixture
def nudges(monkeypatch):
    """The processing messages sent, as webhook ids (nothing reaches a broker)."""
    sent: list[int] = []

    def apply_async(args, **options):
        sent.append(args[0])

    monkeypatch.setattr(process_incoming_webhook, "apply_async", apply_async)
    return sent


@pytest.fixture
def eager(monkeypatch):
    """Messages run the task in-process at once (Celery's eager mode), as a worker would."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)


# ---------------------------------------------------------------- a Meta-scheme provider


class MetaConnector(WebhookReceiver, Connector):
    key = "test-meta"
    display_name = "Test Meta"
    integration_type = "advertising"
    webhook_scheme = schemes.META
    routed_account_kinds = ("meta.page", "meta.ad_account")

    def routed_accounts(self):
        config = self.integration.config or {}
        return [*(ProviderAccount("meta.page", str(i)) for i in config.get("pages") or []),
                *(ProviderAccount("meta.ad_account", str(i)) for i in config.get("ad_accounts") or [])]


def meta_integration(**fields):
    integration = IntegrationFactory(provider="test-meta", **fields)
    accounts_claim(integration=integration, proof=ClaimProof.STAFF)
    return integration


@pytest.fixture
def meta_connector():
    registry.register(MetaConnector)
    yield MetaConnector
    registry.unregister(MetaConnector.key)
