"""Reads of the ads records: tenant-scoped lists, a campaign's days of figures, spend per day for the console.

ROAS: orders in the ERP carry no UTM or ad campaign id (commerce.Order has no such field and no connector maps
`landing_site`/`note_attributes`), so revenue cannot be attributed to campaigns from order data. The ROAS shown is
the platform's own: conversion value ÷ spend of the campaign's days (Meta's purchase values).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from accounts.models import Organization
from config.errors import NotFound

from .models import AdAccount, Campaign, CampaignMetricsDay


class CampaignNotFound(NotFound):
    code = "CAMPAIGN_NOT_FOUND"
    default_message = "Campaign not found."


def ad_account_list(*, organization: Organization) -> QuerySet[AdAccount]:
    return AdAccount.objects.filter(organization=organization).select_related("integration").order_by("name", "id")


def campaign_list(*, organization: Organization) -> QuerySet[Campaign]:
    return (Campaign.objects.filter(organization=organization)
            .select_related("integration", "ad_account").order_by("name", "id"))


def campaign_get(*, organization: Organization, campaign_id: Any) -> Campaign:
    campaign = campaign_list(organization=organization).filter(pk=campaign_id).first() if str(
        campaign_id).isdigit() else None
    if campaign is None:
        raise CampaignNotFound(details={"id": str(campaign_id)})
    return campaign


def roas(value: Decimal, spend: Decimal) -> Decimal | None:
    return (value / spend).quantize(Decimal("0.01")) if spend else None


def campaign_metrics(*, campaign: Campaign, first: date, last: date) -> dict[str, Any]:
    """The campaign's days in [first, last] (only days the platform reported), and their totals."""
    rows = list(CampaignMetricsDay.objects.filter(campaign=campaign, date__gte=first, date__lte=last)
                .order_by("date"))
    days = [{"date": r.date, "spend": r.spend, "impressions": r.impressions, "clicks": r.clicks,
             "conversions": r.conversions, "conversion_value": r.conversion_value,
             "roas": roas(r.conversion_value, r.spend)} for r in rows]
    totals = {key: sum((d[key] for d in days), Decimal(0) if key not in ("impressions", "clicks") else 0)
              for key in ("spend", "impressions", "clicks", "conversions", "conversion_value")}
    totals["roas"] = roas(totals["conversion_value"], totals["spend"])
    return {"campaign": campaign.pk, "currency": campaign.currency, "from": first, "to": last, "days": days,
            "totals": totals}


def spend_per_day(*, campaign_ids: list[int], days: int = 30, today: date | None = None) -> dict[int, list[
        tuple[date, Decimal]]]:
    """Each campaign's spend on each of the last `days` days (0 where nothing was reported), oldest first."""
    last = today or date.today()
    first = last - timedelta(days=days - 1)
    found: dict[int, dict[date, Decimal]] = {}
    for campaign_id, day, spend in (CampaignMetricsDay.objects.filter(campaign_id__in=campaign_ids,
                                                                      date__gte=first, date__lte=last)
                                    .values_list("campaign_id", "date").annotate(spend=Sum("spend"))):
        found.setdefault(campaign_id, {})[day] = spend
    span = [first + timedelta(days=i) for i in range(days)]
    return {cid: [(d, found.get(cid, {}).get(d, Decimal(0))) for d in span] for cid in campaign_ids}
