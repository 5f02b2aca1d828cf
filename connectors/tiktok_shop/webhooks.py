"""TikTok Shop webhooks: the `Authorization` signature and the events in a delivery.

TikTok signs a delivery with the app secret: `Authorization` = hex HMAC-SHA256(key=app_secret,
message=app_key + raw body). That is the generic HMAC verifier (connectors/signing.py) over
`app_key + body`, so no HMAC is re-implemented here. Body: `{"type", "tts_notification_id", "shop_id",
"timestamp", "data"}`; `tts_notification_id` is the dedup key (TikTok re-sends an unacknowledged delivery
with the same id). Type 1 (ORDER_STATUS_CHANGE) brings `data.order_id`, `order_status`, `update_time`:
`normalize_order` fetches the order. Type 6 (SELLER_DEAUTHORIZATION) of this integration's shop
(`config["shop_id"]`, which the shop lookup saves) is resource `deauthorization` (the handlers disconnect);
of another shop, or when the shop is not known yet, it stays `seller_deauthorization` (TikTok sends app-level
events for every shop of the app to one address). Other types are recorded and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from config.errors import ValidationError
from connectors.base import WebhookEvent
from connectors.schemes import Scheme
from connectors.signing import verify_hmac_sha256

SIGNATURE_HEADER = "Authorization"
TYPES = {1: "ORDER_STATUS_CHANGE", 2: "REVERSE_ORDER_STATUS_CHANGE", 3: "RECIPIENT_ADDRESS_UPDATE",
         4: "PACKAGE_UPDATE", 5: "PRODUCT_STATUS_CHANGE", 6: "SELLER_DEAUTHORIZATION",
         7: "UPCOMING_AUTHORIZATION_EXPIRATION"}
ORDER_TYPES = frozenset({1, 3, 4})
DEAUTHORIZATION_TYPE = 6


def verify(headers: Mapping[str, str], body: bytes, *, app_key: str, secrets: Iterable[str]) -> bool:
    if not app_key:
        return False
    return verify_hmac_sha256(headers, app_key.encode() + body, secrets, header_name=SIGNATURE_HEADER,
                              encoding="hex")


def parse(body: bytes, *, shop_id: str = "") -> list[WebhookEvent]:
    """The events of a delivery; `shop_id` is the integration's shop, for the deauthorization of that shop."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ValidationError("The webhook body is not JSON.", details={"body": ["not JSON"]}) from None
    if not isinstance(payload, dict) or not payload.get("tts_notification_id") or "type" not in payload:
        raise ValidationError("The body is not a TikTok Shop webhook (type, tts_notification_id).",
                              details={"body": ["type and tts_notification_id are required"]})
    kind = int(payload["type"]) if str(payload["type"]).isdigit() else 0
    name = TYPES.get(kind, f"TYPE_{payload['type']}")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    external_id = str(payload["tts_notification_id"])
    if kind in ORDER_TYPES and data.get("order_id"):
        return [WebhookEvent(event_type=name, external_id=external_id, resource="order",
                             payload={"id": str(data["order_id"]), "status": data.get("order_status"),
                                      "update_time": data.get("update_time")})]
    if kind == DEAUTHORIZATION_TYPE and shop_id and str(payload.get("shop_id") or "") == shop_id:
        return [WebhookEvent(event_type=name, external_id=external_id, resource="deauthorization",
                             payload={**data, "shop_id": shop_id})]
    return [WebhookEvent(event_type=name, external_id=external_id, resource=name.lower(), payload=data)]


# The name /api/providers/ shows; the connector verifies with its app key and secret, and parses, itself.
SCHEME = Scheme("tiktok_shop")
