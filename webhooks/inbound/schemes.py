"""Signature schemes by name: how to verify a delivery and what its event type and event id are.

A connector names its scheme in `webhook_scheme` (connectors/base.py); the
names understood here are the keys of `SCHEMES`. A connector that overrides
`verify_webhook`/`parse_webhook` is asked directly instead (see services.py);
these are the defaults for connectors that only name a scheme.

Event ids (the dedup key, `IncomingWebhook.external_id`) per scheme:
Shopify `X-Shopify-Webhook-Id`; WooCommerce `{topic}:{resource id}:{date_modified_gmt}`
(WooCommerce never retries, and its delivery id changes per delivery), else
`X-WC-Webhook-Delivery-ID`; Stripe the event's `id`; Slack `event_id`;
Standard Webhooks `webhook-id`; Meta has none, so `sha256:<body hash>` (a
redelivery carries the same body); the generic HMAC scheme reads the headers
named in `config["webhook"]` (`event_type_header`, `event_id_header`).

Fingerprints (replays): Shopify signs the body only, so its event id can be
changed or dropped by whoever captured a delivery. Its scheme also gives a
fingerprint, sha256 of topic, shop and the body's sha256; a delivery with a
fingerprint stored within WEBHOOK_SHOPIFY_REPLAY_WINDOW_HOURS is the same
delivery (services.py). The topic is part of it because Shopify sends
orders/create and orders/paid of one order with byte-identical bodies; a
legitimately repeated identical body on one topic is Shopify's own retry (its
bodies carry `updated_at`), so treating it as one delivery loses nothing.

Handshakes (a provider checking the receive URL, answered before any signature
check and storing nothing): a scheme may have one for connectors that only name
it; Meta's `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` echoes
the challenge as text when the token is the integration's
`credentials["verify_token"]`. A connector's own `webhook_handshake` comes first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import verifiers
from .verifiers import header

Identify = Callable[[Mapping[str, str], bytes, Any, Mapping[str, Any]], tuple[str, str]]
Fingerprint = Callable[[Mapping[str, str], bytes], str]
# (method, headers, query, body, integration) -> (HTTP status, body: a str is sent as text, else JSON) | None
Handshake = Callable[[str, Mapping[str, str], Mapping[str, str], bytes, Any], "tuple[int, Any] | None"]


def _str(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _get(payload: Any, key: str) -> str:
    return _str(payload.get(key)) if isinstance(payload, dict) else ""


def _identify_shopify(headers, body, payload, options) -> tuple[str, str]:
    return header(headers, "X-Shopify-Topic"), header(headers, "X-Shopify-Webhook-Id")


def _fingerprint_shopify(headers, body) -> str:
    topic, shop = header(headers, "X-Shopify-Topic"), header(headers, "X-Shopify-Shop-Domain").lower()
    return hashlib.sha256(f"{topic}\n{shop}\n{hashlib.sha256(body).hexdigest()}".encode()).hexdigest()


def _identify_woocommerce(headers, body, payload, options) -> tuple[str, str]:
    topic = header(headers, "X-WC-Webhook-Topic")
    resource_id, modified = _get(payload, "id"), _get(payload, "date_modified_gmt")
    if topic and resource_id and modified:
        return topic, f"{topic}:{resource_id}:{modified}"
    return topic, header(headers, "X-WC-Webhook-Delivery-ID")


def _identify_stripe(headers, body, payload, options) -> tuple[str, str]:
    return _get(payload, "type"), _get(payload, "id")


def _identify_meta(headers, body, payload, options) -> tuple[str, str]:
    return _get(payload, "object"), f"sha256:{hashlib.sha256(body).hexdigest()}"


def _handshake_meta(method, headers, query, body, integration) -> tuple[int, Any] | None:
    mode, token = query.get("hub.mode", ""), query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if method.upper() != "GET" or mode != "subscribe" or not token or not challenge or len(challenge) > 256:
        return None
    expected = str((integration.credentials or {}).get("verify_token") or "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    return 200, challenge


def _identify_slack(headers, body, payload, options) -> tuple[str, str]:
    event = payload.get("event") if isinstance(payload, dict) else None
    event_type = _get(event, "type") or _get(payload, "type")
    return event_type, _get(payload, "event_id")


def _identify_standard_webhooks(headers, body, payload, options) -> tuple[str, str]:
    return _get(payload, "type"), header(headers, "webhook-id")


def _identify_generic(headers, body, payload, options) -> tuple[str, str]:
    type_header, id_header = options.get("event_type_header"), options.get("event_id_header")
    event_type = header(headers, type_header) if type_header else _get(payload, "type") or _get(payload, "event")
    return event_type, header(headers, id_header) if id_header else ""


@dataclass(frozen=True)
class Scheme:
    name: str
    verify: Callable[..., bool]
    identify: Identify
    signature_header: str
    timestamped: bool = False
    configurable: bool = False  # reads header/encoding/prefix from config["webhook"]
    encoding: str = "hex"  # the configurable schemes' default encoding
    handshake: Handshake | None = None
    fingerprint: Fingerprint | None = None  # for schemes whose event id is not signed (see the module's docstring)

    def check(self, headers: Mapping[str, str], body: bytes, secrets: list[str], options: Mapping[str, Any],
              *, tolerance: int) -> bool:
        kwargs: dict[str, Any] = {"tolerance": tolerance} if self.timestamped else {}
        if self.configurable:
            kwargs.update(
                header_name=options.get("header") or self.signature_header,
                encoding=options.get("encoding") or self.encoding,
                prefix=options.get("prefix") or "",
            )
        return self.verify(headers, body, secrets, **kwargs)

    def signature(self, headers: Mapping[str, str], options: Mapping[str, Any]) -> str:
        name = (options.get("header") if self.configurable else None) or self.signature_header
        return header(headers, name)[:512]


def _generic(name: str, encoding: str) -> Scheme:
    return Scheme(name, verifiers.verify_hmac_sha256, _identify_generic, "X-Signature", configurable=True,
                  encoding=encoding)


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("shopify", verifiers.verify_shopify, _identify_shopify, "X-Shopify-Hmac-Sha256",
               fingerprint=_fingerprint_shopify),
        Scheme("woocommerce", verifiers.verify_woocommerce, _identify_woocommerce, "X-WC-Webhook-Signature"),
        Scheme("stripe", verifiers.verify_stripe, _identify_stripe, "Stripe-Signature", timestamped=True),
        Scheme("meta", verifiers.verify_meta, _identify_meta, "X-Hub-Signature-256", handshake=_handshake_meta),
        Scheme("slack", verifiers.verify_slack, _identify_slack, "X-Slack-Signature", timestamped=True),
        Scheme("standard-webhooks", verifiers.verify_standard_webhooks, _identify_standard_webhooks,
               "webhook-signature", timestamped=True),
        _generic("hmac-sha256", "hex"),
        _generic("hmac-sha256-hex", "hex"),
        _generic("hmac-sha256-base64", "base64"),
    )
}


def get(name: str | None) -> Scheme | None:
    return SCHEMES.get(name or "")
