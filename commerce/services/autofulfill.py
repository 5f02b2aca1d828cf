"""Auto-fulfil rules: which of an organization's unshipped orders a rule picks, and what its courier is asked.

A rule's conditions (channel, status paid, every line in stock at the order's
location, destination country) pick orders. Rules are tried by priority; the
first that matches an order wins. Only orders with no shipment yet are
candidates: auto-fulfil ships whole orders.

The run itself — booking the shipment with the courier connector and fulfilling
the order with its tracking number — is the pipeline's (`syncjobs.autofulfill`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q

from accounts.models import Organization

from ..models import AutoFulfillRule, Order, OrderStatus, StockLevel

CANDIDATE_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID)


def _in_stock(order: Order, levels: dict[tuple[int, str], StockLevel]) -> bool:
    """Every line's open quantity is covered: what is sellable plus what this order already holds."""
    needed: dict[int, int] = defaultdict(int)
    held: dict[int, int] = defaultdict(int)
    for line in order.lines.all():
        if line.open_quantity and not line.product_id:
            return False
        if line.product_id:
            needed[line.product_id] += line.open_quantity
            held[line.product_id] += line.reserved_quantity
    for product_id, quantity in needed.items():
        level = levels.get((product_id, order.stock_location))
        if level is None or level.available + held[product_id] < quantity:
            return False
    return True


def rule_matches(rule: AutoFulfillRule, order: Order, levels: dict[tuple[int, str], StockLevel]) -> bool:
    if rule.channel_id is not None and order.integration_id != rule.channel_id:
        return False
    if rule.require_paid and order.status != OrderStatus.PAID:
        return False
    countries = {str(c).upper() for c in rule.destination_countries or []}
    if countries and order.country_code not in countries:
        return False
    return not rule.require_in_stock or _in_stock(order, levels)


def auto_fulfill_matches(*, organization: Organization, order_ids: list[int] | None = None, limit: int = 100
                         ) -> tuple[list[tuple[Order, AutoFulfillRule]], int]:
    """([(order, the first rule by priority that matches it)], how many candidates no rule matched): the
    organization's unshipped orders (or `order_ids`), oldest first. Reads only."""
    rules = [
        r for r in AutoFulfillRule.objects.filter(organization=organization, is_active=True).select_related("courier")
        if r.courier.organization_id == organization.pk
    ]
    orders = Order.objects.filter(organization=organization, status__in=CANDIDATE_STATUSES, fulfillments__isnull=True)
    if order_ids is not None:
        orders = orders.filter(pk__in=order_ids)
    orders = list(orders.select_related("integration").prefetch_related("lines").order_by("placed_at", "pk")[:limit])
    product_ids = {line.product_id for o in orders for line in o.lines.all() if line.product_id}
    levels = {
        (lv.product_id, lv.location): lv
        for lv in StockLevel.objects.filter(product_id__in=product_ids).filter(
            Q(location__in={o.stock_location for o in orders})
        )
    }
    matches, skipped = [], 0
    for order in orders:
        rule = next((r for r in rules if rule_matches(r, order, levels)), None)
        if rule is None:
            skipped += 1
        else:
            matches.append((order, rule))
    return matches, skipped


def shipment_request(order: Order, rule: AutoFulfillRule) -> dict[str, Any]:
    """What a courier's `create_shipment` is handed for a whole order."""
    lines = [{"sku": line.sku, "quantity": line.open_quantity} for line in order.lines.all() if line.open_quantity]
    return {
        "order": {"id": order.pk, "external_number": order.external_number, "currency": order.currency,
                  "total": str(order.total)},
        "lines": lines, "address": order.shipping_address, "carrier_code": rule.carrier_code,
    }
