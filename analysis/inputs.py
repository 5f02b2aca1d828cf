"""The figures an analysis looks at, computed by the ERP (never by the model) from its own records.

Every number a suggestion rests on is here, so the rule-based analyzer and the model see the same question and
the model only has to judge, not to count. What leaves for the model is exactly `Inputs.data`: campaign names,
SKUs and product names, amounts and counts. No customer field is ever read (orders are aggregated by line and
channel; names, emails, phones and addresses are not selected), which tests/analysis/test_inputs.py checks on
the request body itself.

Windows end on `as_of` (today, UTC, by default) and include it: the last 7 and the last 30 days.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from accounts.models import Organization
from ads.models import Campaign, CampaignMetricsDay, DeliveryStatus
from commerce.models import OrderLine, OrderStatus, Product, ProductStatus, StockLevel

from .models import AnalysisKind

SOLD_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED)
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Inputs:
    kind: str
    as_of: date
    data: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical(self.data).encode()).hexdigest()


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP))


def ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(CENTS, rounding=ROUND_HALF_UP))


def _window(as_of: date, days: int) -> tuple[date, date]:
    return as_of - timedelta(days=days - 1), as_of


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def compute(kind: str, *, organization: Organization, scope: dict[str, Any] | None = None,
            as_of: date | None = None) -> Inputs:
    as_of = as_of or timezone.now().date()
    builder = {AnalysisKind.CAMPAIGNS: campaign_inputs, AnalysisKind.PRICING: pricing_inputs,
               AnalysisKind.STOCK: stock_inputs}[AnalysisKind(kind)]
    return Inputs(kind=kind, as_of=as_of, data=builder(organization, scope or {}, as_of))


# ------------------------------------------------------------------ campaigns
def _totals(rows, first: date, last: date) -> dict[str, Any]:
    picked = [r for r in rows if first <= r.date <= last]
    spend = sum((r.spend for r in picked), Decimal(0))
    value = sum((r.conversion_value for r in picked), Decimal(0))
    conversions = sum((r.conversions for r in picked), Decimal(0))
    return {"spend": money(spend), "conversions": str(conversions.normalize() if conversions else 0),
            "conversion_value": money(value), "roas": ratio(value, spend)}


def campaign_inputs(organization: Organization, scope: dict[str, Any], as_of: date) -> dict[str, Any]:
    """Per campaign: budget, and spend / conversions / conversion value / ROAS over 7 and 30 days, and the
    trend (7-day ROAS against the 30-day one, in percent)."""
    campaigns = Campaign.objects.filter(organization=organization,
                                        status__in=(DeliveryStatus.ACTIVE, DeliveryStatus.PAUSED))
    if scope.get("ad_account"):
        campaigns = campaigns.filter(ad_account_id=scope["ad_account"])
    if scope.get("campaigns"):
        campaigns = campaigns.filter(pk__in=scope["campaigns"])
    first30, _ = _window(as_of, 30)
    first7, _ = _window(as_of, 7)
    metrics: dict[int, list[CampaignMetricsDay]] = {}
    for row in CampaignMetricsDay.objects.filter(campaign__in=campaigns, date__gte=first30, date__lte=as_of):
        metrics.setdefault(row.campaign_id, []).append(row)
    out = []
    for campaign in campaigns.order_by("id"):
        rows = metrics.get(campaign.pk, [])
        last7, last30 = _totals(rows, first7, as_of), _totals(rows, first30, as_of)
        trend = None
        if last7["roas"] is not None and last30["roas"] not in (None, "0.00"):
            trend = str(((Decimal(last7["roas"]) / Decimal(last30["roas"]) - 1) * 100).quantize(
                Decimal("0.1"), rounding=ROUND_HALF_UP))
        out.append({"id": campaign.pk, "name": campaign.name, "status": campaign.status,
                    "currency": campaign.currency, "daily_budget": money(campaign.daily_budget),
                    "days_with_data": len(rows), "last_7_days": last7, "last_30_days": last30,
                    "roas_trend_percent": trend})
    return {"as_of": as_of.isoformat(), "roas_low": str(settings.AI_ROAS_LOW),
            "roas_high": str(settings.AI_ROAS_HIGH), "campaigns": out}


# ------------------------------------------------------------------ products
def _products(organization: Organization, scope: dict[str, Any]):
    products = Product.objects.filter(organization=organization, status=ProductStatus.ACTIVE)
    if scope.get("skus"):
        products = products.filter(sku__in=scope["skus"])
    return products.order_by("sku")


def _sold_lines(organization: Organization, as_of: date, days: int):
    first, _ = _window(as_of, days)
    return OrderLine.objects.filter(order__organization=organization, order__status__in=SOLD_STATUSES,
                                    order__placed_at__gte=_start(first),
                                    order__placed_at__lt=_start(as_of + timedelta(days=1)),
                                    product__isnull=False)


def pricing_inputs(organization: Organization, scope: dict[str, Any], as_of: date) -> dict[str, Any]:
    """Per SKU: the ERP price and, per channel, the average unit price it actually sold at over 30 days."""
    products = list(_products(organization, scope).filter(price__isnull=False))
    by_channel: dict[int, list[dict[str, Any]]] = {}
    rows = (_sold_lines(organization, as_of, 30).filter(product__in=products)
            .values("product_id", "order__integration__code", "order__currency")
            .annotate(units=Sum("quantity"), lines=Count("id"), average=Avg("unit_price"))
            .order_by("product_id", "order__integration__code"))
    for row in rows:
        by_channel.setdefault(row["product_id"], []).append({
            "channel": row["order__integration__code"] or "manual", "currency": row["order__currency"],
            "average_unit_price": money(row["average"]), "units_sold_30d": row["units"]})
    return {"as_of": as_of.isoformat(), "outlier_percent": str(settings.AI_PRICE_OUTLIER_PERCENT),
            "products": [{"id": p.pk, "sku": p.sku, "name": p.name, "price": money(p.price),
                          "currency": p.currency, "channels": by_channel.get(p.pk, [])} for p in products]}


def stock_inputs(organization: Organization, scope: dict[str, Any], as_of: date) -> dict[str, Any]:
    """Per SKU: sellable stock summed over every location, units sold per day over 30 days (and 7), and the
    days that stock covers at the 30-day pace."""
    products = list(_products(organization, scope))
    stock = {row["product_id"]: row for row in StockLevel.objects.filter(product__in=products).values(
        "product_id").annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"), locations=Count("id"))}
    sold = _sold_lines(organization, as_of, 30).filter(product__in=products).values("product_id").annotate(
        units30=Sum("quantity"), units7=Sum("quantity", filter=Q(
            order__placed_at__gte=_start(_window(as_of, 7)[0]))))
    sold_by = {row["product_id"]: row for row in sold}
    out = []
    for product in products:
        levels = stock.get(product.pk) or {"on_hand": 0, "reserved": 0, "locations": 0}
        sales = sold_by.get(product.pk) or {"units30": 0, "units7": 0}
        available = int(levels["on_hand"] or 0) - int(levels["reserved"] or 0)
        velocity = Decimal(sales["units30"] or 0) / 30
        cover = None if not velocity else (Decimal(max(available, 0)) / velocity).quantize(Decimal("0.1"))
        out.append({"id": product.pk, "sku": product.sku, "name": product.name, "available": available,
                    "locations": levels["locations"], "units_sold_7d": sales["units7"] or 0,
                    "units_sold_30d": sales["units30"] or 0,
                    "units_per_day": str(velocity.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
                    "cover_days": None if cover is None else str(cover)})
    return {"as_of": as_of.isoformat(), "lead_time_days": settings.AI_REORDER_LEAD_TIME_DAYS, "products": out}
