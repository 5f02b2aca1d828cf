"""Google Ads GAQL rows → the ads records' shapes. Money is in micros (1 000 000 = one unit of the customer's
currency); ids and int64 figures are strings; statuses are ENABLED, PAUSED, REMOVED."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

STATUSES = {"ENABLED": "active", "PAUSED": "paused", "REMOVED": "deleted"}
TO_STATUS = {"active": "ENABLED", "paused": "PAUSED"}
MICROS = Decimal(1_000_000)


def from_micros(value: Any) -> Decimal | None:
    if value in (None, "", "0", 0):
        return None
    return (Decimal(str(value)) / MICROS).quantize(Decimal("0.01"), ROUND_HALF_UP)


def to_micros(amount: Decimal) -> str:
    return str(int((amount * MICROS).to_integral_value(ROUND_HALF_UP)))


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise ValueError(f"status {value!r} is not ENABLED, PAUSED or REMOVED")
    return STATUSES[value]


def normalize_customer(row: dict[str, Any]) -> dict[str, Any]:
    customer = row.get("customer") or {}
    return {"external_id": str(customer["id"]), "name": customer.get("descriptiveName") or "",
            "currency": customer.get("currencyCode") or "", "timezone": customer.get("timeZone") or "",
            "is_active": customer.get("status", "ENABLED") == "ENABLED"}


def normalize_campaign(row: dict[str, Any]) -> dict[str, Any]:
    campaign, budget = row.get("campaign") or {}, row.get("campaignBudget") or {}
    return {"external_id": str(campaign["id"]), "account_external_id": str(row.get("customer_id") or ""),
            "name": campaign.get("name") or "", "status": _status(campaign.get("status")),
            "effective_status": campaign.get("servingStatus") or "",
            "objective": campaign.get("advertisingChannelType") or "",
            "daily_budget": from_micros(budget.get("amountMicros")),
            "lifetime_budget": from_micros(budget.get("totalAmountMicros")),
            "currency": row.get("currency") or "", "updated_at": None}


def normalize_ad_group(row: dict[str, Any]) -> dict[str, Any]:
    group, campaign = row.get("adGroup") or {}, row.get("campaign") or {}
    campaign_id = campaign.get("id") or str(group.get("campaign") or "").rsplit("/", 1)[-1]
    return {"external_id": str(group["id"]), "campaign_external_id": str(campaign_id),
            "name": group.get("name") or "", "status": _status(group.get("status")), "effective_status": "",
            "optimization_goal": "", "daily_budget": None, "lifetime_budget": None, "updated_at": None}


def normalize_metrics_row(row: dict[str, Any]) -> dict[str, Any]:
    metrics = row.get("metrics") or {}
    return {"campaign_external_id": str((row.get("campaign") or {})["id"]),
            "date": date.fromisoformat((row.get("segments") or {})["date"]),
            "spend": from_micros(metrics.get("costMicros")) or Decimal("0.00"),
            "impressions": int(metrics.get("impressions") or 0), "clicks": int(metrics.get("clicks") or 0),
            "conversions": Decimal(str(metrics.get("conversions") or 0)),
            "conversion_value": Decimal(str(metrics.get("conversionsValue") or 0)).quantize(Decimal("0.01")),
            "currency": row.get("currency") or ""}
