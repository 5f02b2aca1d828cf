"""PayPal webhooks: the transmission headers, verified by PayPal's own verify-webhook-signature call.

PayPal signs with a certificate (`PAYPAL-CERT-URL`, SHA256withRSA); rather than
fetch and check certificates ourselves, the connector asks PayPal
(`POST /v1/notifications/verify-webhook-signature`) with the integration's
webhook id (`config["webhook_id"]`, shown in the app's webhook settings). The
event id (`WH-…`) is the dedup key; PayPal retries a non-2xx up to 25 times
over 3 days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.signing import header

TRANSMISSION_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}
PAYMENT_EVENTS = frozenset({"PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED"})


def transmission(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The verification call's fields from the headers; None when one is missing (nothing to verify)."""
    fields = {name: header(headers, source) for name, source in TRANSMISSION_HEADERS.items()}
    return fields if all(fields.values()) else None


def parse(body: bytes) -> list[WebhookEvent]:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The PayPal event is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict) or not payload.get("id") or not payload.get("event_type"):
        raise ValidationError("The body is not a PayPal event.", details={"body": ["id", "event_type"]})
    event_type = str(payload["event_type"])
    resource = "payment" if event_type in PAYMENT_EVENTS else str(payload.get("resource_type") or "")
    return [WebhookEvent(event_type=event_type, external_id=str(payload["id"]), resource=resource, payload=payload)]
