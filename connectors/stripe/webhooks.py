"""Stripe webhooks: verify `Stripe-Signature` and parse an event; `SCHEME` is what the connector declares.

`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` is the hex HMAC-SHA256 of
`"{t}.{body}"` under the endpoint's `whsec_…` secret. Every `v1` is a candidate
(Stripe sends several while an endpoint secret is rolled); `v0` and unknown
schemes are ignored. As in Stripe's SDK, only a timestamp older than the
tolerance (WEBHOOK_SIGNATURE_TOLERANCE_SECONDS) is refused: a future one is not.

The event id (`evt_…`) is the dedup key: Stripe retries for days and may send
an event twice, and the receive endpoint stores one row per id. Events the
connector acts on get the resource "payment"; the others keep their object's
name (payment_intent, charge, refund…) and are stored, then ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.schemes import Scheme, field_of
from connectors.signing import DEFAULT_TOLERANCE, any_equal, fresh, header, hex_hmacs

SIGNATURE_HEADER = "Stripe-Signature"

PAYMENT_EVENTS = frozenset({
    "payment_intent.succeeded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "charge.succeeded",
    "charge.refunded",
})


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str], *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> bool:
    """Whether one `v1` of the header is the HMAC of `"{t}.{body}"` under one of `secrets`, `t` not too old."""
    timestamp, candidates = "", []
    for item in header(headers, SIGNATURE_HEADER).split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1" and value:
            candidates.append(value.strip().lower().encode())
    if not candidates or fresh(timestamp, tolerance=tolerance, now=now, future=False) is None:
        return False
    expected = hex_hmacs(timestamp.encode() + b"." + body, secrets)
    return any(any_equal(given, expected) for given in candidates)


def identify(headers: Mapping[str, str], body: bytes, payload: Any, options: Mapping[str, Any]) -> tuple[str, str]:
    return field_of(payload, "type"), field_of(payload, "id")


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


SCHEME = Scheme("stripe", verify, identify, SIGNATURE_HEADER, timestamped=True)
