"""Shopify webhooks: which topics we subscribe to, how a delivery is verified, and the events in it.

Verification is `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body
under the app's client secret (`verify`, constant time, several secrets during
a rotation). Verify the raw bytes before any parsing: a body re-serialized by a
proxy no longer matches. `SCHEME` is what the connector declares: verify,
identify, the replay fingerprint and the app-level address.

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
  pointing at `/api/webhooks/shopify/` (`SCHEME.app_route`), which routes them to
  the integration that claimed the shop of `X-Shopify-Shop-Domain` (its OAuth
  install; integrations/routing.py), and to no other. They are verified like any
  other delivery, acknowledged with a 2xx and recorded as IncomingWebhook rows
  (resource `privacy`) for the operator, who has 30 days to act on them.

Shopify retries a failed delivery 8 times over 4 hours and then gives up (and
deletes an API-made subscription after 8 consecutive failures): the scheduled
incremental sync is what reconciles anything missed.

Replays: Shopify signs the body only, so its webhook id can be changed or
dropped by whoever captured a delivery. The scheme's fingerprint is the sha256
of topic, shop and the body's sha256; a delivery whose fingerprint was stored
within the connector's replay window (SHOPIFY_REPLAY_WINDOW_HOURS, 48: Shopify
retries for 4 h, 48 h before 2024-09) is the same delivery (webhooks/inbound/
services.py). The topic is part of it because Shopify sends orders/create and
orders/paid of one order with byte-identical bodies; a legitimately repeated
identical body on one topic is Shopify's own retry (its bodies carry
`updated_at`), so treating it as one delivery loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from config.schema import webhook_post
from connectors.base import WebhookEvent
from connectors.schemes import AppRoute, Scheme
from connectors.signing import header, verify_body_hmac

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
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
    "refunds": "return",  # a refund's restocked lines are a return (connector.iter_returns)
    "app": "app",
}
PRIVACY_RESOURCE = "privacy"
DEAUTHORIZATION_TOPIC = "app/uninstalled"  # the shop removed the app: its token is dead (handlers disconnect)
DEAUTHORIZATION_RESOURCE = "deauthorization"


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """Whether the signature header matches the raw body under any of `secrets` (empty secrets never match).

    Several secrets: after a rotation Shopify may sign with the old secret for up to an hour.
    """
    return verify_body_hmac(header(headers, SIGNATURE_HEADER), body, secrets, encoding="base64")


def identify(headers: Mapping[str, str], body: bytes, payload: Any, options: Mapping[str, Any]) -> tuple[str, str]:
    return header(headers, TOPIC_HEADER), header(headers, WEBHOOK_ID_HEADER)


def fingerprint(headers: Mapping[str, str], body: bytes) -> str:
    """sha256 of topic, shop and the body's sha256: the same for a replay whatever webhook id it carries."""
    topic, shop = header(headers, TOPIC_HEADER), header(headers, SHOP_DOMAIN_HEADER).lower()
    return hashlib.sha256(f"{topic}\n{shop}\n{hashlib.sha256(body).hexdigest()}".encode()).hexdigest()


def shop_of(headers: Mapping[str, str], body: bytes) -> set[str]:
    """The shop an app-level delivery is for (`X-Shopify-Shop-Domain`, lower case); none when absent."""
    domain = header(headers, SHOP_DOMAIN_HEADER).lower()
    return {domain} if domain else set()


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



APP_ROUTE = AppRoute("shopify", shop_of, openapi={
    "post": webhook_post("Receive a Shopify webhook",
                         "Shopify's app-level webhooks (the privacy topics). Routed to the one integration "
                         "that claimed the shop of `X-Shopify-Shop-Domain` (its OAuth install, or a "
                         "superuser); a shop nobody claimed is 404 and nothing is stored. Signed with "
                         "`X-Shopify-Hmac-Sha256`.", []),
})
SCHEME = Scheme("shopify", verify, identify, SIGNATURE_HEADER, fingerprint=fingerprint, app_route=APP_ROUTE)
