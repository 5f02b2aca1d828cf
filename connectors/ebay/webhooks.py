"""eBay notifications: the endpoint challenge, the `X-EBAY-SIGNATURE` check, and the events in a delivery.

Endpoint validation: when a destination is saved, eBay calls it with `GET ?challenge_code=X` and expects
200 `{"challengeResponse": hex(SHA-256(challengeCode + verificationToken + endpointURL))}`; the token is the
one entered at eBay (the integration's `webhook_secret`), the URL exactly the one eBay was given.

Signature: the header is base64 of `{"alg": "ecdsa", "kid", "signature", "digest"}`. The public key of
`kid` comes from the Notification API (connector.py fetches and caches it); `signature` is the base64 DER
ECDSA signature of the raw body under `digest` (eBay's own SDKs verify with SHA1; SHA256 is accepted when
the header says so). Anything malformed is "not verified", never an exception.

Events: one per delivery, dedup key `notification.notificationId` (eBay retries a delivery it did not get
a 2xx for, with the same id). Order topics carry the order id; `normalize_order` fetches the order.
AUTHORIZATION_REVOCATION is an application-level topic: every seller's revocation reaches the one
destination, so it is resource `deauthorization` (the handlers disconnect) only when its `username` or
`userId` is one of the integration's `accounts`; otherwise `authorization_revocation`, recorded and ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.schemes import Scheme
from connectors.signing import header

SIGNATURE_HEADER = "X-EBAY-SIGNATURE"
DEAUTHORIZATION_TOPIC = "AUTHORIZATION_REVOCATION"
ORDER_TOPICS = frozenset({"ORDER_CONFIRMATION", "ITEM_MARKED_SHIPPED", "ORDER_CANCELLATION_ACTIVITY",
                          "ORDER_RETURN_ACTIVITY", "ITEM_SOLD", "ITEM_MARKED_PAID"})
DIGESTS = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256}
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----(.+?)-----END PUBLIC KEY-----", re.S)


def challenge_response(challenge_code: str, verification_token: str, endpoint_url: str) -> str:
    return hashlib.sha256((challenge_code + verification_token + endpoint_url).encode()).hexdigest()


def signature_header(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The decoded `X-EBAY-SIGNATURE` (with a `kid` and a `signature`), or None when absent or malformed."""
    raw = header(headers, SIGNATURE_HEADER)
    if not raw:
        return None
    try:
        decoded = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(decoded, dict) or not decoded.get("kid") or not decoded.get("signature"):
        return None
    return decoded


def load_public_key(pem: str) -> ec.EllipticCurvePublicKey | None:
    """eBay answers the key as one line (`-----BEGIN PUBLIC KEY-----MFkw…-----END PUBLIC KEY-----`)."""
    found = _PEM.search(pem or "")
    try:
        der = base64.b64decode("".join((found.group(1) if found else pem or "").split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify(signature: dict[str, Any], body: bytes, public_key_pem: str) -> bool:
    """Whether `signature` (the decoded header) is the key's ECDSA signature of the raw body."""
    if str(signature.get("alg") or "ecdsa").lower() != "ecdsa":
        return False
    digest = DIGESTS.get(str(signature.get("digest") or "SHA1").upper().replace("-", ""))
    key = load_public_key(public_key_pem)
    if digest is None or key is None:
        return False
    try:
        key.verify(base64.b64decode(str(signature["signature"]), validate=True), body, ec.ECDSA(digest()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def parse(body: bytes, *, accounts: frozenset[str] = frozenset()) -> list[WebhookEvent]:
    """One event: type = the topic; order topics → resource `order` with `{"orderId"}` as the payload.

    `accounts`: the eBay usernames/user ids of the integration, for its AUTHORIZATION_REVOCATION.
    """
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The notification body is not JSON.", details={"body": ["not JSON"]}) from None
    metadata = payload.get("metadata") if isinstance(payload, dict) else None
    notification = payload.get("notification") if isinstance(payload, dict) else None
    if not isinstance(metadata, dict) or not isinstance(notification, dict) or not notification.get("notificationId"):
        raise ValidationError("The body is not an eBay notification (metadata.topic, notification.notificationId).",
                              details={"body": ["metadata and notification.notificationId are required"]})
    topic = str(metadata.get("topic") or "")
    data = notification.get("data") if isinstance(notification.get("data"), dict) else {}
    order_id = data.get("orderId") or (data.get("order") or {}).get("orderId")
    if topic in ORDER_TOPICS and order_id:
        return [WebhookEvent(event_type=topic, external_id=str(notification["notificationId"]), resource="order",
                             payload={"orderId": str(order_id)})]
    revoked = {str(data.get(key) or "") for key in ("username", "userId")} - {""}
    if topic == DEAUTHORIZATION_TOPIC and revoked & accounts:
        return [WebhookEvent(event_type=topic, external_id=str(notification["notificationId"]),
                             resource="deauthorization", payload=data)]
    return [WebhookEvent(event_type=topic, external_id=str(notification["notificationId"]),
                         resource=topic.lower(), payload=data)]


# The name /api/providers/ shows; the connector verifies (ECDSA with a fetched key) and parses itself.
SCHEME = Scheme("ebay")
