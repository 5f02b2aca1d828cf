"""Shopify webhooks: which topics we subscribe to, how a delivery is verified, and the events in it.

Verification is `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body
under the app's client secret (webhooks/inbound/verifiers.py's `verify_shopify`,
constant time, several secrets during a rotation). Verify the raw bytes before
any parsing: a body re-serialized by a proxy no longer matches.

Each delivery is one event: type = the topic, external id = `X-Shopify-Webhook-Id`
(the same on every retry of a delivery, so the inbound store deduplicates on
it), resource = what the webhook handlers dispatch on. The body is the REST
representation, so an order event's payload is what `normalize_order` takes.

Topics:
- `TOPICS` are registered per shop on connect (connector.register_webhooks) and
  removed on disconnect: orders created/updated/paid/cancelled/fulfilled,
  refunds, products created/updated/deleted, inventory levels, app/uninstalled.
- `PRIVACY_TOPICS` (customers/data_request, customers/redact, shop/redact) are
  Shopify's mandatory compliance webhooks. They cannot be subscribed through the
  API: they are set once per app in the Partner Dashboard (or shopify.app.toml),
  pointing at `/api/webhooks/shopify/`, which routes them to the integration that
  claimed the shop of `X-Shopify-Shop-Domain` (its OAuth install; integrations/
  routing.py), and to no other. They are verified like any
  other delivery, acknowledged with a 2xx and recorded as IncomingWebhook rows
  (resource `privacy`) for the operator, who has 30 days to act on them.

Shopify retries a failed delivery 8 times over 4 hours and then gives up (and
deletes an API-made subscription after 8 consecutive failures): the scheduled
incremental sync is what reconciles anything missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from webhooks.inbound.verifiers import header, verify_shopify

TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"

TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "refunds/create",
    "products/create",
    "products/update",
    "products/delete",
    "inventory_levels/update",
    "app/uninstalled",
)
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

# A topic's first part → the resource the handlers dispatch on.
RESOURCES = {
    "orders": "order",
    "products": "product",
    "inventory_levels": "inventory_level",
    "inventory_items": "inventory_item",
    "fulfillments": "fulfillment",
    "refunds": "refund",
    "app": "app",
}
PRIVACY_RESOURCE = "privacy"
DEAUTHORIZATION_TOPIC = "app/uninstalled"  # the shop removed the app: its token is dead (handlers disconnect)
DEAUTHORIZATION_RESOURCE = "deauthorization"


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """Whether the signature header matches the raw body under any of `secrets` (empty secrets never match)."""
    return verify_shopify(headers, body, secrets)


def resource_of(topic: str) -> str:
    if topic in PRIVACY_TOPICS:
        return PRIVACY_RESOURCE
    if topic == DEAUTHORIZATION_TOPIC:
        return DEAUTHORIZATION_RESOURCE
    prefix = topic.split("/", 1)[0]
    return RESOURCES.get(prefix, prefix)


def parse(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One event per delivery; ValidationError when the topic, the webhook id or a JSON object body is missing."""
    topic = header(headers, TOPIC_HEADER)
    if not topic:
        raise ValidationError("The webhook has no X-Shopify-Topic header.", details={"headers": [TOPIC_HEADER]})
    external_id = header(headers, WEBHOOK_ID_HEADER)
    if not external_id:
        raise ValidationError("The webhook has no X-Shopify-Webhook-Id header.",
                              details={"headers": [WEBHOOK_ID_HEADER]})
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The webhook body is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict):
        raise ValidationError("The webhook body is not a JSON object.", details={"body": ["not an object"]})
    return [WebhookEvent(event_type=topic, external_id=external_id, resource=resource_of(topic), payload=payload)]

