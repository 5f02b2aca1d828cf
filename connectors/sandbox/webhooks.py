"""Sandbox (Shopify-style) webhooks: verify `X-Shopify-Hmac-Sha256` and turn a delivery into events.

The signature is the base64 HMAC-SHA256 of the raw body under the webhook
secret, compared in constant time. What can go wrong: a body re-serialized by a
proxy no longer matches (verify the raw bytes, before any JSON parsing); a
missing or non-base64 header is simply "not verified".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.signing import header, verify_body_hmac

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"

RESOURCES = {
    "orders": "order",
    "products": "product",
    "inventory_levels": "inventory_level",
    "inventory_items": "inventory_item",
    "fulfillments": "fulfillment",
    "refunds": "refund",
    "customers": "customer",
    "app": "app",
    "shop": "shop",
}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """Whether the signature header matches the body under any of `secrets` (empty secrets never match)."""
    return verify_body_hmac(header(headers, SIGNATURE_HEADER), body, secrets, encoding="base64")


def parse(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One event per delivery: type = the topic, external id = the webhook id (Shopify's dedup key)."""
    topic = header(headers, TOPIC_HEADER)
    if not topic:
        raise ValidationError("The webhook has no X-Shopify-Topic header.", details={"headers": [TOPIC_HEADER]})
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The webhook body is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict):
        raise ValidationError("The webhook body is not a JSON object.", details={"body": ["not an object"]})
    external_id = header(headers, WEBHOOK_ID_HEADER) or header(headers, EVENT_ID_HEADER)
    if not external_id:
        raise ValidationError("The webhook has no X-Shopify-Webhook-Id header.",
                              details={"headers": [WEBHOOK_ID_HEADER]})
    prefix = topic.split("/", 1)[0]
    return [WebhookEvent(event_type=topic, external_id=external_id, resource=RESOURCES.get(prefix, prefix),
                         payload=payload)]
