"""Reads of commerce records, always scoped to one organization (another's row is simply not found)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import Organization
from config.errors import NotFound

from .models import (
    AWAITING_FULFILLMENT,
    ChannelLocation,
    ChannelStock,
    Order,
    Product,
    ProductAttribute,
    ProductImage,
    StockLevel,
)


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def product_list(*, organization: Organization) -> QuerySet[Product]:
    return Product.objects.filter(organization=organization).prefetch_related(
        "stock_levels",
        Prefetch("images", ProductImage.objects.select_related("integration")),
        Prefetch("attributes", ProductAttribute.objects.select_related("integration")),
    )


def stock_level_list(*, organization: Organization) -> QuerySet[StockLevel]:
    return StockLevel.objects.filter(organization=organization).select_related("product")


def stock_level_low(queryset: QuerySet[StockLevel]) -> QuerySet[StockLevel]:
    """Levels whose sellable stock (on_hand − reserved) is at or below their threshold."""
    return queryset.filter(on_hand__lte=F("reserved") + F("low_stock_threshold"))


def stock_level_get(*, organization: Organization, stock_level_id: Any) -> StockLevel:
    pk = _as_id(stock_level_id)
    level = None if pk is None else stock_level_list(organization=organization).filter(pk=pk).first()
    if level is None:
        raise NotFound("Stock level not found.", details={"id": str(stock_level_id)}, code="STOCK_LEVEL_NOT_FOUND")
    return level


def order_list(*, organization: Organization) -> QuerySet[Order]:
    return Order.objects.filter(organization=organization).select_related("integration")


def order_pending_list(*, organization: Organization) -> QuerySet[Order]:
    """Orders waiting to be shipped: paid, or partly shipped."""
    return order_list(organization=organization).filter(status__in=AWAITING_FULFILLMENT)


def order_get(*, organization: Organization, order_id: Any) -> Order:
    """The organization's order; ORDER_NOT_FOUND (404) otherwise, whoever else owns it."""
    pk = _as_id(order_id)
    order = None if pk is None else order_list(organization=organization).filter(pk=pk).first()
    if order is None:
        raise NotFound("Order not found.", details={"id": str(order_id)}, code="ORDER_NOT_FOUND")
    return order


def order_detail(*, organization: Organization, order_id: Any) -> Order:
    order = order_get(organization=organization, order_id=order_id)
    return (
        Order.objects.select_related("integration")
        .prefetch_related("lines", "fulfillments__lines__order_line")
        .get(pk=order.pk)
    )


# ---------------------------------------------------------------------- channel locations and drift
def channel_location_list(*, organization: Organization) -> QuerySet[ChannelLocation]:
    return ChannelLocation.objects.filter(organization=organization).select_related("integration")


def channel_location_get(*, organization: Organization, location_id: Any) -> ChannelLocation:
    pk = _as_id(location_id)
    found = None if pk is None else channel_location_list(organization=organization).filter(pk=pk).first()
    if found is None:
        raise NotFound("Channel location not found.", details={"id": str(location_id)},
                       code="CHANNEL_LOCATION_NOT_FOUND")
    return found


@dataclass(frozen=True)
class Drift:
    """Where a channel's level differs from the ERP's for a mapped location, and since when at least."""

    integration_id: int
    integration_code: str
    stock_mode: str
    channel_location: str
    erp_location: str
    sku: str
    channel_quantity: int | None
    erp_quantity: int
    since: datetime | None

    @property
    def difference(self) -> int | None:
        return None if self.channel_quantity is None else self.channel_quantity - self.erp_quantity

    @property
    def age_seconds(self) -> int | None:
        return None if self.since is None else max(0, int((timezone.now() - self.since).total_seconds()))


def stock_drift(*, organization: Organization, integration_id: int | None = None) -> list[Drift]:
    """Every mapped (channel location, product) whose channel level is not the ERP's sellable quantity there.

    The ERP's quantity is what a push would write: on_hand − reserved at the
    mapped ERP location, never below zero. `since` is the later of the two
    figures' last change: the drift is at least that old.
    """
    rows = (ChannelStock.objects.filter(organization=organization).exclude(channel_location__erp_location="")
            .select_related("integration", "channel_location", "product").order_by("integration_id", "pk"))
    if integration_id is not None:
        rows = rows.filter(integration_id=integration_id)
    rows = list(rows)
    levels = {
        (p, loc): (max(0, on_hand - reserved), updated)
        for p, loc, on_hand, reserved, updated in StockLevel.objects.filter(
            organization=organization, product_id__in={r.product_id for r in rows},
            location__in={r.channel_location.erp_location for r in rows},
        ).values_list("product_id", "location", "on_hand", "reserved", "updated_at")
    }
    found = []
    for row in rows:
        erp_quantity, erp_changed = levels.get((row.product_id, row.channel_location.erp_location), (0, None))
        if row.channel_quantity == erp_quantity:
            continue
        stamps = [t for t in (row.reported_at, erp_changed, row.updated_at) if t is not None]
        found.append(Drift(
            integration_id=row.integration_id, integration_code=row.integration.code,
            stock_mode=row.integration.stock_mode, channel_location=row.channel_location.external_id,
            erp_location=row.channel_location.erp_location, sku=row.product.sku,
            channel_quantity=row.channel_quantity, erp_quantity=erp_quantity, since=max(stamps) if stamps else None,
        ))
    return found
