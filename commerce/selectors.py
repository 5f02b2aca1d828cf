"""Reads of commerce records, always scoped to one organization (another's row is simply not found)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet

from accounts.models import Organization
from config.errors import NotFound

from .models import AWAITING_FULFILLMENT, Order, Product, StockLevel


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def product_list(*, organization: Organization) -> QuerySet[Product]:
    return Product.objects.filter(organization=organization).prefetch_related("stock_levels")


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
