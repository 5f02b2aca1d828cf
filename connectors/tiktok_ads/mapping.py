"""TikTok Ads records → the ads records' shapes. Budgets are major units of the advertiser's currency; times
are `YYYY-MM-DD HH:MM:SS` in UTC; `budget_mode` says whether the budget is daily, total or none."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

STATUSES = {"ENABLE": "active", "DISABLE": "paused", "DELETE": "deleted"}
TO_OPERATION_STATUS = {"active": "ENABLE", "paused": "DISABLE"}


def tiktok_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"time {value!r} is not TikTok's YYYY-MM-DD HH:MM:SS") from None


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"budget {value!r} is not a number") from None
    return amount or None


def _budgets(record: dict[str, Any]) -> dict[str, Decimal | None]:
    mode, amount = record.get("budget_mode"), _money(record.get("budget"))
    return {"daily_budget": amount if mode == "BUDGET_MODE_DAY" else None,
            "lifetime_budget": amount if mode == "BUDGET_MODE_TOTAL" else None}


def _status(record: dict[str, Any]) -> str:
    status = str(record.get("operation_status") or "")
    if status not in STATUSES:
        raise ValueError(f"operation_status {status!r} is not ENABLE or DISABLE")
    return STATUSES[status]


def normalize_advertiser(record: dict[str, Any]) -> dict[str, Any]:
    return {"external_id": str(record["advertiser_id"]), "name": record.get("name") or record.get(
        "advertiser_name") or "", "currency": record.get("currency") or "", "timezone": record.get("timezone") or "",
        "is_active": str(record.get("status") or "STATUS_ENABLE") == "STATUS_ENABLE"}


def normalize_campaign(record: dict[str, Any]) -> dict[str, Any]:
    return {"external_id": str(record["campaign_id"]), "account_external_id": str(record.get("advertiser_id") or ""),
            "name": record.get("campaign_name") or "", "status": _status(record),
            "effective_status": record.get("secondary_status") or "", "objective": record.get("objective_type") or "",
            **_budgets(record), "currency": record.get("currency") or "",
            "updated_at": tiktok_time(record.get("modify_time"))}


def normalize_ad_group(record: dict[str, Any]) -> dict[str, Any]:
    return {"external_id": str(record["adgroup_id"]), "campaign_external_id": str(record.get("campaign_id") or ""),
            "name": record.get("adgroup_name") or "", "status": _status(record),
            "effective_status": record.get("secondary_status") or "",
            "optimization_goal": record.get("optimization_goal") or "", **_budgets(record),
            "updated_at": tiktok_time(record.get("modify_time"))}


def normalize_report_row(record: dict[str, Any]) -> dict[str, Any]:
    """One row of the integrated report by campaign and day. TikTok gives the purchase value as a ROAS
    (`complete_payment_roas`), so the value is that ROAS × spend."""
    dimensions, metrics = record.get("dimensions") or {}, record.get("metrics") or {}
    try:
        spend = Decimal(str(metrics.get("spend") or 0))
        roas = Decimal(str(metrics.get("complete_payment_roas") or 0))
        return {"campaign_external_id": str(dimensions["campaign_id"]),
                "date": date.fromisoformat(str(dimensions["stat_time_day"])[:10]), "spend": spend,
                "impressions": int(metrics.get("impressions") or 0), "clicks": int(metrics.get("clicks") or 0),
                "conversions": Decimal(str(metrics.get("conversion") or 0)),
                "conversion_value": (spend * roas).quantize(Decimal("0.01"), ROUND_HALF_UP),
                "currency": record.get("currency") or ""}
    except InvalidOperation:
        raise ValueError("a figure is not a number") from None
