"""Auto-fulfil: ship paid orders with a courier by the organization's rules, without a person in the loop.

Commerce picks the orders and their rules (`auto_fulfill_matches`); for each,
this books a shipment with the rule's courier connector (`create_shipment`,
Capability.SHIPMENTS) and fulfils the order with the tracking number it
returns (commerce's `fulfill`, which queues the tracking push to the order's
channel).

The courier is called outside any transaction; each order is fulfilled in its
own, so one failure (courier refused, order changed meanwhile) is reported and
the run goes on. One run per organization at a time (a cache lock), so two
clicks cannot book two shipments for one order.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from rest_framework import status as http

from accounts.models import Organization
from commerce.models import AutoFulfillRule, Order
from commerce.services.autofulfill import auto_fulfill_matches, shipment_request
from commerce.services.fulfillment import fulfill
from config.errors import ApplicationError
from connectors import registry
from connectors.base import Capability

logger = logging.getLogger(__name__)

LOCK_SECONDS = 300


class AutoFulfillRunning(ApplicationError):
    code = "AUTO_FULFILL_RUNNING"
    http_status = http.HTTP_409_CONFLICT
    default_message = "Auto-fulfil is already running for this organization."


def auto_fulfill(*, organization: Organization, order_ids: list[int] | None = None, limit: int = 100) -> dict[str, Any]:
    """Apply the organization's active rules to its unshipped orders (or to `order_ids`); per-order results."""
    lock = f"commerce:auto-fulfill:{organization.pk}"
    if not cache.add(lock, 1, timeout=LOCK_SECONDS):
        raise AutoFulfillRunning()
    try:
        matches, skipped = auto_fulfill_matches(organization=organization, order_ids=order_ids, limit=limit)
        results = [_ship(order, rule) for order, rule in matches]
    finally:
        cache.delete(lock)
    return {"fulfilled": sum(1 for r in results if r["ok"]), "failed": sum(1 for r in results if not r["ok"]),
            "skipped": skipped, "results": results}


def _ship(order: Order, rule: AutoFulfillRule) -> dict[str, Any]:
    courier = rule.courier
    base = {"order_id": order.pk, "rule_id": rule.pk}
    if not (registry.is_registered(courier.provider) and registry.supports(courier.provider, Capability.SHIPMENTS)):
        return {**base, "ok": False, "error": {"code": "CAPABILITY_NOT_SUPPORTED",
                                               "message": f"{courier.name} cannot create shipments."}}
    try:
        booked = registry.connector_for(courier).create_shipment(shipment_request(order, rule))
        tracking = str((booked or {}).get("tracking_number") or "")
        fulfillment = fulfill(order=order, tracking_number=tracking,
                              carrier=str(booked.get("carrier") or courier.name), carrier_code=rule.carrier_code,
                              courier=courier)
    except ApplicationError as exc:
        logger.info("auto-fulfil of order %s by rule %s failed: %s", order.pk, rule.pk, exc.code)
        return {**base, "ok": False, "error": {"code": exc.code, "message": exc.message}}
    return {**base, "ok": True, "fulfillment_id": fulfillment.pk, "tracking_number": fulfillment.tracking_number,
            "carrier": fulfillment.carrier}
