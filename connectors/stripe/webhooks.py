"""Stripe webhooks: verify `Stripe-Signature` (webhooks/inbound/verifiers.verify_stripe) and parse an event.

The event id (`evt_…`) is the dedup key: Stripe retries for days and may send
an event twice, and the receive endpoint stores one row per id. Events the
connector acts on get the resource "payment"; the others keep their object's
name (payment_intent, charge, refund…) and are stored, then ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from config.errors import ValidationError
from connectors.base import WebhookEvent
from webhooks.inbound.verifiers import verify_stripe

PAYMENT_EVENTS = frozenset({
    "payment_intent.succeeded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "charge.succeeded",
    "charge.refunded",
})


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    return verify_stripe(headers, body, secrets, tolerance=settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS)


def parse(body: bytes) -> list[WebhookEvent]:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The Stripe event is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise ValidationError("The body is not a Stripe event.", details={"body": ["object must be event"]})
    event_type, event_id = str(payload.get("type") or ""), str(payload.get("id") or "")
    if not event_type or not event_id:
        raise ValidationError("The Stripe event has no id or type.", details={"body": ["id", "type"]})
    resource = "payment" if event_type in PAYMENT_EVENTS else event_type.split(".", 1)[0]
    return [WebhookEvent(event_type=event_type, external_id=event_id, resource=resource, payload=payload)]
