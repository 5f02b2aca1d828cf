"""Trendyol returns (claims), the common label, and the delivery confirmation of seller-delivered packages.

Claims: `GET /integration/order/sellers/{sellerId}/claims?startDate=&endDate=(ms, claim date)&page=&size=`
→ `{totalElements, totalPages, page, size, content: [{id, orderNumber, orderDate, claimDate, lastModifiedDate,
items: [{orderLine: {id, barcode, merchantSku, productName, price}, claimItems: [{id, orderLineItemId,
claimItemStatus: {name}, customerClaimItemReason: {name, code}, resolved}]}]}]}`. One claim item is one unit;
`orderLine.id` is the line id of the order's packages (our OrderLine.external_id).

Which items restock: those Trendyol reports `Accepted` (the seller approved the return: the parcel arrived and
was checked). `Created`/`WaitingInAction` (on its way, or arrived and awaiting the seller's decision),
`Rejected`, `Cancelled`, `Unresolved` do not; an item accepted later restocks on the sync that sees it, once
(its id is the line's key).

Common label (`POST …/sellers/{sellerId}/common-label/{cargoTrackingNumber}` {"format":"ZPL"} then `GET` the
same path → `{"data":[{"label":"^XA…^XZ","format":"ZPL"}]}`): Trendyol serves it as ZPL only, for thermal
printers; it is stored as `x-application/zpl` and cannot be merged into a PDF batch.

Delivery confirmation (`PUT …/order/sellers/{sellerId}/manual-deliver/{cargoTrackingNumber}`) exists for
packages the seller delivers with its own service; Trendyol's contracted carriers report delivery themselves.
So it is sent only when the integration's `config["confirm_delivery"]` is true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from config.errors import ValidationError
from connectors.base import Page
from connectors.errors import ProviderError
from connectors.mapping import MappingError, required

if TYPE_CHECKING:
    from .client import TrendyolClient

CLAIMS_PAGE_SIZE = 50
CLAIMS_LOOKBACK = timedelta(days=30)
RESTOCKED_STATUSES = frozenset({"accepted"})
ZPL = "x-application/zpl"


def claims_pages(client: TrendyolClient, *, since: datetime | None, cursor: str | None) -> Iterator[Page]:
    if cursor:
        try:
            state = json.loads(cursor)
            int(state["page"])
        except (ValueError, TypeError, KeyError):
            raise ValidationError("The Trendyol claims cursor is unreadable; start the sync without it.",
                                  details={"cursor": ["not a claims cursor"]}) from None
    else:
        now = timezone.now()
        start = max(since, now - CLAIMS_LOOKBACK) if since else now - CLAIMS_LOOKBACK
        state = {"page": 0, "start": int(start.timestamp() * 1000), "end": int(now.timestamp() * 1000)}
    page = int(state["page"])
    while True:
        body = client.http.get(f"/integration/order/sellers/{client.seller}/claims", action="list_claims",
                               params={"startDate": state["start"], "endDate": state["end"], "page": page,
                                       "size": CLAIMS_PAGE_SIZE}).json()
        claims = list(body.get("content") or [])
        done = page + 1 >= int(body.get("totalPages") or 0) or not claims
        yield Page(items=claims, next_cursor=None if done else json.dumps({**state, "page": page + 1}))
        if done:
            return
        page += 1


def normalize_claim(claim: dict[str, Any]) -> dict[str, Any]:
    """One claim → the shape commerce's `upsert_returns` takes (see ReturnsSource.normalize_return)."""
    claim_id = str(claim.get("id") or claim.get("claimId") or "")
    if not claim_id:
        raise MappingError("claim has no id.")
    where = f"claim {claim_id}"
    lines, reasons = [], []
    for item in claim.get("items") or []:
        order_line = required(item, "orderLine", where)
        for claim_item in item.get("claimItems") or []:
            status = str((claim_item.get("claimItemStatus") or {}).get("name") or "")
            reason = (claim_item.get("customerClaimItemReason") or {}).get("name")
            if reason and reason not in reasons:
                reasons.append(str(reason))
            lines.append({
                "external_id": str(required(claim_item, "id", where)),
                "order_line_external_id": str(required(order_line, "id", where)),
                "sku": str(order_line.get("merchantSku") or order_line.get("barcode") or ""),
                "quantity": 1,
                "status": status,
                "received": status.lower() in RESTOCKED_STATUSES,
            })
    claimed = claim.get("claimDate")
    return {
        "external_id": claim_id,
        "order_external_id": str(required(claim, "orderNumber", where)),
        "reason": "; ".join(reasons)[:300],
        "requested_at": datetime.fromtimestamp(int(claimed) / 1000, tz=UTC) if claimed else None,
        "lines": lines,
    }


def common_label(client: TrendyolClient, tracking_number: str) -> dict[str, Any]:
    """Ask for the label (idempotent at Trendyol: a second request for the same number is accepted or 409), then
    read it; ProviderError when Trendyol has not generated it yet (try again in a moment)."""
    path = f"/integration/sellers/{client.seller}/common-label/{tracking_number}"
    try:
        client.http.post(path, action="create_common_label", json={"format": "ZPL", "boxQuantity": 1})
    except ProviderError as exc:
        if exc.status_code != 409:
            raise
    body = client.http.get(path, action="get_common_label").json()
    labels = [row.get("label") for row in (body.get("data") or []) if isinstance(row, dict) and row.get("label")]
    if not labels:
        raise ProviderError(f"Trendyol has no common label for {tracking_number} yet; try again shortly.",
                            status_code=404)
    return {"content": "\n".join(labels).encode(), "content_type": ZPL}


def manual_deliver(client: TrendyolClient, tracking_number: str) -> None:
    client.http.put(f"/integration/order/sellers/{client.seller}/manual-deliver/{tracking_number}",
                    action="manual_deliver")
