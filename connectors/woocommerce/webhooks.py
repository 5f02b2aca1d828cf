"""WooCommerce webhooks: the topics we subscribe to, verification, and the events in a delivery.

Verification: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw
body under the webhook's secret (`verify`, constant time); `SCHEME` is what the
connector declares.
Switchyard generates that secret when it registers the webhooks and keeps it,
encrypted, in the integration's `webhook_secret`.

Dedup: WooCommerce never retries and gives every delivery a new
`X-WC-Webhook-Delivery-ID`, so the event id is `{topic}:{resource id}:{date_modified_gmt}`
(the same change delivered twice — e.g. by two webhooks on overlapping topics — is one event);
a deletion's body is only `{"id"}`, so it falls back to the delivery id.

Products: a product with nothing to import — a simple product without a SKU,
a variable product without variations — is an event of no resource, which no
handler takes: the delivery is kept and marked "ignored", not "failed". A
variable product's variations arrive as ids; the connector's
`normalize_product` fetches them when the event is processed.

The creation ping: when a webhook is created WooCommerce POSTs the form body
`webhook_id=<id>` — unsigned, and it wants exactly HTTP 200. The receive view
asks the connector's `webhook_handshake` before verifying anything, and `ping_answer`
answers 200 for exactly that body without a signature header; nothing is
stored (`verify` never accepts an unsigned body, so it can never make a row),
and `parse` returns no events for a ping should one ever arrive signed.
WooCommerce ignores the ping's outcome when a webhook is created through the
REST API (as `register_webhooks` does), but the admin screen shows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.schemes import Scheme, field_of
from connectors.signing import header, verify_body_hmac

from . import mapping

TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"
TOPICS = (
    "order.created", "order.updated", "order.deleted", "order.restored",
    "product.created", "product.updated", "product.deleted", "product.restored",
)
_PING = re.compile(rb"^webhook_id=\d+$")


SIGNATURE_HEADER = "X-WC-Webhook-Signature"


def is_ping(body: bytes) -> bool:
    return bool(_PING.match(body.strip()))


def ping_answer(method: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any] | None:
    """(200, …) for the unsigned creation ping (a POST of exactly `webhook_id=<digits>`); None for anything else."""
    if method.upper() != "POST" or header(headers, SIGNATURE_HEADER) or not _PING.fullmatch(body):
        return None
    return 200, {"ping": "ok"}


def verify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    return verify_body_hmac(header(headers, SIGNATURE_HEADER), body, secrets, encoding="base64")


def identify(headers: Mapping[str, str], body: bytes, payload: Any, options: Mapping[str, Any]) -> tuple[str, str]:
    """(topic, event id) as `parse` gives them, also for a body `parse` refuses (so a failed row dedupes too)."""
    topic = header(headers, TOPIC_HEADER)
    resource_id, modified = field_of(payload, "id"), field_of(payload, "date_modified_gmt")
    if topic and resource_id and modified:
        return topic, f"{topic}:{resource_id}:{modified}"
    return topic, header(headers, DELIVERY_ID_HEADER)


def parse(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One event per delivery: type = the topic (`order.updated`), resource = `order`/`product`/…."""
    if is_ping(body):
        return []
    topic = header(headers, TOPIC_HEADER)
    if not topic or "." not in topic:
        raise ValidationError("The webhook has no X-WC-Webhook-Topic header.", details={"headers": [TOPIC_HEADER]})
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The webhook body is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict):
        raise ValidationError("The webhook body is not a JSON object.", details={"body": ["not an object"]})
    resource_id, modified = payload.get("id"), payload.get("date_modified_gmt")
    if resource_id and modified:
        external_id = f"{topic}:{resource_id}:{modified}"
    else:
        external_id = header(headers, DELIVERY_ID_HEADER)
    if not external_id:
        raise ValidationError("The webhook has neither a resource id with date_modified_gmt nor a delivery id.",
                              details={"headers": [DELIVERY_ID_HEADER]})
    resource = topic.split(".", 1)[0]
    if resource == "product" and not mapping.has_importable_variants(payload):
        resource = ""  # no SKU, no variations: nothing to import, so no handler takes it ("ignored")
    return [WebhookEvent(event_type=topic, external_id=external_id, resource=resource, payload=payload)]


SCHEME = Scheme("woocommerce", verify, identify, SIGNATURE_HEADER)
