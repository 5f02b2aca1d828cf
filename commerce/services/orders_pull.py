"""Re-pulling one order from its channel (the admin's "re-pull order from channel").

The Connector contract pulls pages, not single records, so a re-pull asks the
channel for its orders changed since the version we hold (`updated_at_min` on
the sandbox/Shopify) and imports those pages with `upsert_orders` — the order
comes back if it changed, and anything else that changed meanwhile is imported
too, which is what a sync would do anyway. Nothing newer means we already hold
the channel's current version. Each page is its own transaction; no
transaction is open while the provider is called.
"""

from __future__ import annotations

from typing import Any

from config.errors import NotFound
from connectors import registry
from connectors.base import Capability

from ..models import Order
from .orders import upsert_orders

MAX_PAGES = 20


def order_repull(*, order_id: int) -> dict[str, Any]:
    order = Order.objects.select_related("integration").filter(pk=order_id).first()
    if order is None or order.integration is None:
        raise NotFound("Order not found, or not from a channel.", details={"id": order_id})
    integration = order.integration
    if not registry.supports(integration.provider, Capability.ORDERS):
        return {"found": False, "reason": "the channel does not serve orders"}
    connector = registry.connector_for(integration)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "found": False}
    for number, page in enumerate(connector.iter_orders(since=order.external_updated_at), start=1):
        normalized, failed = [], 0
        for record in page.items:
            try:
                normalized.append(connector.normalize_order(record))
            except ValueError:
                failed += 1
        result = upsert_orders(integration=integration, orders=normalized)
        totals["created"] += result.created
        totals["updated"] += result.updated
        totals["unchanged"] += result.unchanged
        totals["failed"] += failed + len(result.failed)
        totals["found"] = totals["found"] or any(r.get("external_id") == order.external_id for r in normalized)
        if number >= MAX_PAGES:
            break
    return totals
