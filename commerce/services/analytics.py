"""Fulfilment figures for GET /api/fulfillment/analytics/: a handful of aggregate queries, whatever the volume.

Time to fulfil is stored on each order when it first becomes fulfilled
(`seconds_to_fulfil`), so the averages and the within-24 h / 48 h counts are
plain aggregates on every database, not date arithmetic that differs between
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Avg, Count, Q

from accounts.models import Organization

from ..models import Fulfillment, Order, OrderStatus, PushStatus

DAY = 24 * 3600


def fulfillment_analytics(
    *, organization: Organization, placed_after: datetime | None = None, placed_before: datetime | None = None
) -> dict[str, Any]:
    """Orders by status and channel, fulfilled within 24 h / 48 h, average hours to fulfil, failed pushes.

    The window filters on `placed_at` (after: inclusive, before: exclusive).
    """
    orders = Order.objects.filter(organization=organization)
    if placed_after is not None:
        orders = orders.filter(placed_at__gte=placed_after)
    if placed_before is not None:
        orders = orders.filter(placed_at__lt=placed_before)

    by_status = dict.fromkeys(OrderStatus.values, 0)
    channels: dict[Any, dict[str, Any]] = {}
    rows = orders.values("integration_id", "integration__code", "integration__name", "status").annotate(n=Count("pk"))
    for row in rows.order_by():
        by_status[row["status"]] += row["n"]
        channel = channels.setdefault(row["integration_id"], {
            "integration_id": row["integration_id"], "code": row["integration__code"] or "",
            "name": row["integration__name"] or "", "orders": 0, "by_status": dict.fromkeys(OrderStatus.values, 0),
        })
        channel["orders"] += row["n"]
        channel["by_status"][row["status"]] += row["n"]

    timed = orders.filter(seconds_to_fulfil__isnull=False).aggregate(
        fulfilled=Count("pk"),
        within_24h=Count("pk", filter=Q(seconds_to_fulfil__lte=DAY)),
        within_48h=Count("pk", filter=Q(seconds_to_fulfil__lte=2 * DAY)),
        average_seconds=Avg("seconds_to_fulfil"),
    )
    average = timed["average_seconds"]
    failed_pushes = Fulfillment.objects.filter(
        order__in=orders, push_status=PushStatus.FAILED
    ).count()
    return {
        "orders": sum(by_status.values()),
        "by_status": by_status,
        "by_channel": sorted(channels.values(), key=lambda c: (-c["orders"], c["code"])),
        "fulfilled": timed["fulfilled"],
        "fulfilled_within_24h": timed["within_24h"],
        "fulfilled_within_48h": timed["within_48h"],
        "average_hours_to_fulfil": None if average is None
        else Decimal(str(average / 3600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "failed_pushes": failed_pushes,
    }
