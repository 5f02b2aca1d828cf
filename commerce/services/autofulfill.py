"""Auto-fulfil: ship paid orders with a courier by the organization's rules, without a person in the loop.

A rule's conditions (channel, status paid, every line in stock at the order's
location, destination country) pick orders; its action books a shipment with a
courier connector (`create_shipment`, Capability.SHIPMENTS) and fulfils the
order with the tracking number it returns. Rules are tried by priority; the
first that matches an order wins. Only orders with no shipment yet are
candidates: auto-fulfil ships whole orders.

The courier is called outside any transaction; each order is fulfilled in its
own, so one failure (courier refused, order changed meanwhile) is reported and
the run goes on. One run per organization at a time (a cache lock), so two
clicks cannot book two shipments for one order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from rest_framework import status as http

from accounts.models import Organization
from config.errors import ApplicationError
from connectors import registry
from connectors.base import Capability

from ..models import AutoFulfillRule, Order, OrderStatus, StockLevel
from .fulfillment import fulfill

logger = logging.getLogger(__name__)

CANDIDATE_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID)
LOCK_SECONDS = 300


class AutoFulfillRunning(ApplicationError):
    code = "AUTO_FULFILL_RUNNING"
    http_status = http.HTTP_409_CONFLICT
    default_message = "Auto-fulfil is already running for this organization."


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


def auto_fulfill(*, organization: Organization, order_ids: list[int] | None = None, limit: int = 100) -> dict[str, Any]:
    """Apply the organization's active rules to its unshipped orders (or to `order_ids`); per-order results."""
    lock = f"commerce:auto-fulfill:{organization.pk}"
    if not cache.add(lock, 1, timeout=LOCK_SECONDS):
        raise AutoFulfillRunning()
    try:
        return _run(organization, order_ids, limit)
    finally:
        cache.delete(lock)


def _run(organization: Organization, order_ids: list[int] | None, limit: int) -> dict[str, Any]:
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
    results, skipped = [], 0
    for order in orders:
        rule = next((r for r in rules if rule_matches(r, order, levels)), None)
        if rule is None:
            skipped += 1
            continue
        results.append(_ship(order, rule))
    return {"fulfilled": sum(1 for r in results if r["ok"]), "failed": sum(1 for r in results if not r["ok"]),
            "skipped": skipped, "results": results}


def _ship(order: Order, rule: AutoFulfillRule) -> dict[str, Any]:
    courier = rule.courier
    base = {"order_id": order.pk, "rule_id": rule.pk}
    if not (registry.is_registered(courier.provider) and registry.supports(courier.provider, Capability.SHIPMENTS)):
        return {**base, "ok": False, "error": {"code": "CAPABILITY_NOT_SUPPORTED",
                                               "message": f"{courier.name} cannot create shipments."}}
    lines = [{"sku": line.sku, "quantity": line.open_quantity} for line in order.lines.all() if line.open_quantity]
    shipment = {
        "order": {"id": order.pk, "external_number": order.external_number, "currency": order.currency,
                  "total": str(order.total)},
        "lines": lines, "address": order.shipping_address, "carrier_code": rule.carrier_code,
    }
    try:
        booked = registry.connector_for(courier).create_shipment(shipment)
        tracking = str((booked or {}).get("tracking_number") or "")
        fulfillment = fulfill(order=order, tracking_number=tracking,
                              carrier=str(booked.get("carrier") or courier.name), carrier_code=rule.carrier_code)
    except ApplicationError as exc:
        logger.info("auto-fulfil of order %s by rule %s failed: %s", order.pk, rule.pk, exc.code)
        return {**base, "ok": False, "error": {"code": exc.code, "message": exc.message}}
    return {**base, "ok": True, "fulfillment_id": fulfillment.pk, "tracking_number": fulfillment.tracking_number,
            "carrier": fulfillment.carrier}
