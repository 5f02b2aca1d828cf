"""Trendyol webhooks: how a delivery authenticates, the statuses we subscribe to, and the events in it.

Trendyol signs nothing. When Switchyard registers its webhook it hands Trendyol
credentials it generated, and Trendyol sends them back with every delivery:
`API_KEY` → an `x-api-key` header; `BASIC_AUTHENTICATION` → `Authorization:
Basic base64(username:password)`. The secret (API key or password) is the
integration's encrypted `webhook_secret`; the Basic username (not secret) is
`config["webhook_username"]`. Comparison is constant-time, and only the
authentication type the integration registered is accepted.

A delivery's body is one shipment package (the getShipmentPackages shape). Its
event id, the dedup key, is `{package id}:{status}`: Trendyol re-sends a status
it could not deliver, and a package passes through each status once.
Trendyol stops calling a webhook (passive) after 13 failed deliveries; the
scheduled order sync reconciles what that loses.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.signing import header

API_KEY, BASIC = "API_KEY", "BASIC_AUTHENTICATION"
SUBSCRIBED_STATUSES = ("CREATED", "PICKING", "INVOICED", "SHIPPED", "CANCELLED", "DELIVERED", "UNDELIVERED",
                       "RETURNED", "UNSUPPLIED", "AWAITING", "UNPACKED", "AT_COLLECTION_POINT", "VERIFIED")


def verify(headers: Mapping[str, str], *, auth_type: str, username: str, secret: str) -> bool:
    """Whether the delivery carries the credentials registered with Trendyol (an empty secret never matches)."""
    if not secret:
        return False
    if auth_type == BASIC:
        scheme, _, encoded = header(headers, "Authorization").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user_ok = hmac.compare_digest(given_user.encode(), username.encode())
        password_ok = hmac.compare_digest(given_password.encode(), secret.encode())
        return bool(username) and user_ok and password_ok
    return hmac.compare_digest(header(headers, "x-api-key").encode(), secret.encode())


def parse(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One event per delivery: type `order.<status>`, resource `order`, payload = the package."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The webhook body is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict):
        raise ValidationError("The webhook body is not a JSON object.", details={"body": ["not an object"]})
    package_id = payload.get("id") or payload.get("shipmentPackageId")
    status = payload.get("status") or payload.get("shipmentPackageStatus")
    if not package_id or not status or not payload.get("orderNumber"):
        raise ValidationError("The webhook body is not a Trendyol package (id, orderNumber and status).",
                              details={"body": ["id, orderNumber and status are required"]})
    return [WebhookEvent(event_type=f"order.{str(status).lower()}", external_id=f"{package_id}:{status}",
                         resource="order", payload=payload)]
