"""Re-pulling one order from its channel (the admin's "re-pull order from channel").

The Connector contract pulls pages, not single records, so a re-pull asks the
channel for its orders changed since the version we hold (`updated_at_min` on
the sandbox/Shopify) and imports those pages through `resource_import`, as a
sync would — the order comes back if it changed, and anything else that
changed meanwhile is imported too. Nothing newer means we already hold the
channel's current version. Each page is its own transaction; no transaction
is open while the provider is called.
"""

from __future__ import annotations

from typing import Any

from commerce.models import Order
from config.errors import NotFound
from connectors import registry

from .resources import RESOURCES, ImportSource, resource_import

MAX_PAGES = 20


def order_repull(*, order_id: int) -> dict[str, Any]:
    """Totals of what the re-pull imported, and whether the order itself came back (`found`)."""
    order = Order.objects.select_related("integration").filter(pk=order_id).first()
    if order is None or order.integration is None:
        raise NotFound("Order not found, or not from a channel.", details={"id": order_id})
    integration, resource = order.integration, RESOURCES["orders"]
    if not registry.supports(integration.provider, resource.capability):
        return {"found": False, "reason": "the channel does not serve orders"}
    connector = registry.connector_for(integration)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "found": False}
    for number, page in enumerate(resource.pages(connector, since=order.external_updated_at, cursor=None), start=1):
        result = resource_import(integration, resource, page.items, source=ImportSource.REPULL, connector=connector)
        for key, value in result.counts().items():
            totals[key] += value
        totals["failed"] += len(result.failed)
        totals["found"] = totals["found"] or order.external_id in result.external_ids
        if number >= MAX_PAGES:
            break
    return totals


def campaigns_repull(connector, *, external_ids: list[str], source: ImportSource = ImportSource.WEBHOOK):
    """Read these campaigns from their ad platform now and import them (a webhook said they changed, without
    saying how). Returns the ImportResult; a platform without single reads imports nothing (the sync catches up)."""
    records = connector.fetch_campaigns(sorted(set(external_ids))) if external_ids else []
    return resource_import(connector.integration, RESOURCES["campaigns"], records, source=source, connector=connector)


def posts_repull(connector, *, external_ids: list[str], source: ImportSource = ImportSource.WEBHOOK):
    """Read these posts from their social platform now and import them (a page webhook said they changed, not
    how). Returns the ImportResult; a platform without single reads imports nothing (the sync catches up)."""
    records = connector.fetch_posts(sorted(set(external_ids))) if external_ids else []
    return resource_import(connector.integration, RESOURCES["posts"], records, source=source, connector=connector)
