"""Which orders an ERP integration should receive, what it is handed, and what it answered.

An order export writes the organization's orders into an ERP or accounting system (an `OrderSink` connector:
syncjobs/order_exports.py makes the calls). Here are the decisions, which are commerce's:

- **Which orders**: the organization's orders from any other integration, placed since the integration's
  `config["export_orders_since"]` (ISO 8601; default: when the integration was created, so connecting an ERP
  never floods it with history), not cancelled, and not exported to it yet. Oldest first.
- **Exported** means an ExternalRef (integration, `order`, the document's id at the ERP → our order): the
  same record an import keeps, read the other way round. It is written only after the ERP answered, so a
  crash in between leaves the order due again, and the connector's own lookup by our order id (which the ERP
  stores) keeps the retry from making a second document.
- **Lines** carry the product's id at that ERP (`external_product_id`): the variant ExternalRef its own
  product import left. A product the ERP never listed has none, which the connector refuses by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from integrations.models import Integration

from ..models import ExternalRef, Order, OrderStatus, ResourceType


def _since(integration: Integration) -> datetime:
    value = (integration.config or {}).get("export_orders_since") if isinstance(integration.config, dict) else None
    if value:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return integration.created_at


def order_exports_due(*, integration: Integration, limit: int = 100) -> list[Order]:
    exported = ExternalRef.objects.filter(integration=integration, resource_type=ResourceType.ORDER,
                                          object_id=OuterRef("pk"))
    return list(
        Order.objects.filter(organization_id=integration.organization_id, placed_at__gte=_since(integration))
        .exclude(integration=integration)
        .exclude(status=OrderStatus.CANCELLED)
        .exclude(Exists(exported))
        .select_related("integration")
        .prefetch_related("lines")
        .order_by("placed_at", "pk")[:limit]
    )


def order_export_body(*, integration: Integration, order: Order) -> dict[str, Any]:
    """What `OrderSink.push_order` is handed (connectors/capabilities.py names the keys)."""
    lines = list(order.lines.all())
    product_ids = {line.product_id for line in lines if line.product_id}
    refs = dict(ExternalRef.objects.filter(integration=integration, resource_type=ResourceType.VARIANT,
                                           object_id__in=product_ids).values_list("object_id", "external_id"))
    return {
        "id": order.pk,
        "external_number": order.external_number or order.name,
        "channel": order.integration.code if order.integration_id else "",
        "currency": order.currency,
        "placed_at": order.placed_at,
        "subtotal": order.subtotal,
        "total": order.total,
        "total_tax": order.total_tax,
        "total_shipping": order.total_shipping,
        "total_discounts": order.total_discounts,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "lines": [{"sku": line.sku, "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price,
                   "total": line.total, "external_product_id": refs.get(line.product_id, "")} for line in lines],
    }


def order_export_record(*, integration: Integration, order_id: int, external_id: str) -> None:
    """Remember that the ERP holds order `order_id` as `external_id` (idempotent)."""
    ExternalRef.objects.update_or_create(integration=integration, resource_type=ResourceType.ORDER,
                                         external_id=str(external_id)[:255], defaults={"object_id": order_id})
