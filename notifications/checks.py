"""Conditions no event opens or clears, checked on beat's clock (`notifications.tasks.check_conditions`).

- order.stuck: an order paid (or partly shipped) and still unfulfilled `stuck_after_hours` after it was placed
  opens a condition per order; it clears when the order is fulfilled, cancelled or refunded.
- inventory.low_stock clears when the stock level is above its threshold again (commerce publishes the fall,
  not the recovery).
- endpoint.disabled clears when the endpoint is switched back on (or deleted).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from commerce.models import AWAITING_FULFILLMENT, Order, StockLevel
from webhooks.models import WebhookEndpoint

from .models import Condition, NotificationRule, TriggerKind
from .services import condition_clear, reading_apply
from .triggers import OPEN, Reading, console_url

STUCK_LIMIT = 200  # stuck orders opened per rule and pass (the oldest first); the next pass takes the rest


def check_conditions(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"opened": 0, "cleared": 0}
    for rule in NotificationRule.objects.filter(is_active=True).select_related("integration"):
        if TriggerKind.ORDER_STUCK in (rule.triggers or []):
            opened, cleared = _stuck_orders(rule, now)
            counts["opened"] += opened
            counts["cleared"] += cleared
    open_ = Condition.objects.filter(cleared_at__isnull=True,
                                     trigger__in=[TriggerKind.LOW_STOCK, TriggerKind.ENDPOINT_DISABLED])
    for condition in open_.select_related("rule"):
        if not _still_wrong(condition):
            counts["cleared"] += condition_clear(condition=condition, now=now) is not None
    return counts


def _stuck_orders(rule: NotificationRule, now: datetime) -> tuple[int, int]:
    cutoff = now - timedelta(hours=rule.stuck_after_hours)
    stuck = (Order.objects.filter(organization_id=rule.organization_id, status__in=AWAITING_FULFILLMENT,
                                  placed_at__lt=cutoff)
             .order_by("placed_at").values("id", "external_number", "placed_at", "integration__code")[:STUCK_LIMIT])
    stuck_keys = {f"order:{o['id']}": o for o in stuck}
    open_ = {c.key: c for c in Condition.objects.filter(rule=rule, trigger=TriggerKind.ORDER_STUCK,
                                                        cleared_at__isnull=True)}
    opened = 0
    for key, order in stuck_keys.items():
        if key in open_:
            continue
        hours = int((now - order["placed_at"]).total_seconds() // 3600)
        reading_apply(rule=rule, now=now, found=Reading(
            TriggerKind.ORDER_STUCK, OPEN, key, f"Order {order['external_number']} unfulfilled for {hours} h",
            f"Placed {order['placed_at']:%Y-%m-%d %H:%M} UTC; still not shipped.",
            (("Order", str(order["external_number"])), ("Channel", str(order["integration__code"] or "manual"))),
            console_url(f"commerce/order/{order['id']}/change/"), {"order_id": order["id"]}))
        opened += 1
    cleared = 0
    if open_:
        still = set(Order.objects.filter(pk__in=[int(k.split(":")[1]) for k in open_],
                                         status__in=AWAITING_FULFILLMENT).values_list("id", flat=True))
        for key, condition in open_.items():
            if int(key.split(":")[1]) not in still:
                cleared += condition_clear(condition=condition, now=now) is not None
    return opened, cleared


def _still_wrong(condition: Condition) -> bool:
    subject = condition.subject or {}
    if condition.trigger == TriggerKind.ENDPOINT_DISABLED:
        endpoint_id = (subject.get("endpoint") or {}).get("id")
        return WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=False).exists()
    product_id, location = (subject.get("product") or {}).get("id"), subject.get("location")
    level = StockLevel.objects.filter(Q(organization_id=condition.rule.organization_id), product_id=product_id,
                                      location=location).first()
    return level is not None and level.is_low
