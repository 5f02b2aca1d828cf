"""SendGrid's Signed Event Webhook: ECDSA (P-256, SHA-256) over `timestamp + raw body`, checked with `cryptography`.

Headers: `X-Twilio-Email-Event-Webhook-Signature` (base64 of the DER signature) and
`X-Twilio-Email-Event-Webhook-Timestamp`. The verification key is the one SendGrid shows under Mail Settings →
Signed Event Webhook, base64 of its DER SubjectPublicKeyInfo; it goes in the integration's `webhook_secret`.
A timestamp older than the tolerance is refused (a replay); SendGrid's SDK checks no window, so a delivery
retried by SendGrid is re-signed with a new timestamp. The body is a JSON array of events, each with its own
`sg_event_id`; the delivery's id is the hash of its body (a retry sends the same batch).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from config.errors import ValidationError
from connectors import signing
from connectors.base import WebhookEvent
from connectors.schemes import Scheme
from connectors.signing import header

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
RESOURCE = "email_event"


def public_key(encoded: str) -> ec.EllipticCurvePublicKey | None:
    try:
        key = load_der_public_key(base64.b64decode(encoded.strip(), validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify(headers: Mapping[str, str], body: bytes, secrets: list[str], *,
           tolerance: int = signing.DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    timestamp, signature = header(headers, TIMESTAMP), header(headers, SIGNATURE)
    if not signature or signing.fresh(timestamp, tolerance=tolerance, now=now, future=False) is None:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    for encoded in signing.usable(secrets):
        key = public_key(encoded)
        if key is None:
            continue
        try:
            key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return True
    return False


def identify(headers, body, payload, options) -> tuple[str, str]:
    return "events", f"sha256:{hashlib.sha256(body).hexdigest()}"


SCHEME = Scheme("sendgrid-ecdsa", verify, identify, SIGNATURE, timestamped=True)


def parse(body: bytes) -> list[WebhookEvent]:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The SendGrid event batch is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
        raise ValidationError("A SendGrid event batch is a JSON array of objects.", details={"body": ["array"]})
    return [WebhookEvent(event_type=str(e.get("event") or ""), external_id=str(e.get("sg_event_id") or ""),
                         resource=RESOURCE, payload=e) for e in payload]
