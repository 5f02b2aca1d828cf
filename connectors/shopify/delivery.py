"""Telling Shopify a parcel was delivered: a fulfillment event with status `delivered`.

`POST /admin/api/{version}/orders/{order_id}/fulfillments/{fulfillment_id}/events.json
{"event": {"status": "delivered", "happened_at": "…"}}` → 201 `{"fulfillment_event": {id, status, …}}`.
Shopify then shows the order as delivered and may notify the customer. The fulfillment id is the one our
tracking push created (`Fulfillment.external_id`); a shipment that never reached Shopify has none and is
skipped. (GraphQL's `fulfillmentEventCreate(status: DELIVERED)` is the same event.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import ShopifyClient


def fulfillment_delivered(client: ShopifyClient, *, order_id: str, fulfillment_id: str,
                          happened_at: datetime | None) -> dict[str, Any] | None:
    if not order_id or not fulfillment_id:
        return None
    event: dict[str, Any] = {"status": "delivered"}
    if happened_at is not None:
        event["happened_at"] = happened_at.isoformat()
    response = client._call("POST", f"{client.api_root}/orders/{order_id}/fulfillments/{fulfillment_id}/events.json",
                            action="create_fulfillment_event", json={"event": event})
    return dict(response.json().get("fulfillment_event") or {})
