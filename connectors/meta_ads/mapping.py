"""Meta's Marketing API records → the ads records' shapes (ads/services), and money back to Meta's minor units.

Budgets travel as strings in the currency's minor unit ("2500" = 25.00 EUR); currencies Meta counts in whole
units (its offset 1: JPY, KRW…) are not divided. Times look like `2026-11-20T10:00:00+0000`. Insights figures
are strings in major units; conversions are the purchase actions (`actions` / `action_values`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Currencies whose Meta budgets are whole units (Meta's "offset 1"); every other is in hundredths.
WHOLE_UNIT_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"})
STATUSES = {"ACTIVE": "active", "PAUSED": "paused", "ARCHIVED": "archived", "DELETED": "deleted"}
TO_META_STATUS = {"active": "ACTIVE", "paused": "PAUSED"}
# The purchase action types, most inclusive first: the first one present is counted (they overlap).
PURCHASE_ACTIONS = ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase")


def offset(currency: str) -> int:
    return 1 if currency.upper() in WHOLE_UNIT_CURRENCIES else 100


def from_minor(value: Any, currency: str) -> Decimal | None:
    """"2500" (EUR) → Decimal("25.00"); "0", "" and None → None (no budget at this level)."""
    if value in (None, "", "0", 0):
        return None
    try:
        minor = int(str(value))
    except ValueError:
        raise ValueError(f"budget {value!r} is not an integer of minor units") from None
    return (Decimal(minor) / offset(currency)).quantize(Decimal("0.01"))


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal("25.00") (EUR) → 2500; a fraction of the minor unit is refused, not rounded."""
    minor = amount * offset(currency)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of Meta's budget units")
    return int(minor)


def meta_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise ValueError(f"time {value!r} is not Meta's %Y-%m-%dT%H:%M:%S%z") from None


def _status(record: dict[str, Any]) -> str:
    status = str(record.get("status") or "")
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one Meta documents")
    return STATUSES[status]


def account_id(value: Any) -> str:
    """Meta's ad account id without its `act_` prefix (how the ERP and webhooks' entries name it)."""
    return str(value or "").removeprefix("act_")


def normalize_ad_account(record: dict[str, Any]) -> dict[str, Any]:
    # account_status: 1 active, 2 disabled, 3 unsettled, 7 pending review, 9 in grace period, 101 closed…
    return {"external_id": account_id(record.get("account_id") or record["id"]), "name": record.get("name") or "",
            "currency": record.get("currency") or "", "timezone": record.get("timezone_name") or "",
            "is_active": int(record.get("account_status") or 1) in (1, 9)}


def normalize_campaign(record: dict[str, Any]) -> dict[str, Any]:
    """A campaign as the Graph API gives it, with `account_currency` added by the connector (budgets need it)."""
    currency = str(record.get("account_currency") or "")
    return {"external_id": str(record["id"]), "account_external_id": account_id(record.get("account_id")),
            "name": record.get("name") or "", "status": _status(record),
            "effective_status": record.get("effective_status") or "", "objective": record.get("objective") or "",
            "daily_budget": from_minor(record.get("daily_budget"), currency),
            "lifetime_budget": from_minor(record.get("lifetime_budget"), currency),
            "currency": currency, "updated_at": meta_time(record.get("updated_time"))}


def normalize_ad_set(record: dict[str, Any]) -> dict[str, Any]:
    currency = str(record.get("account_currency") or "")
    return {"external_id": str(record["id"]), "campaign_external_id": str(record.get("campaign_id") or ""),
            "name": record.get("name") or "", "status": _status(record),
            "effective_status": record.get("effective_status") or "",
            "optimization_goal": record.get("optimization_goal") or "",
            "daily_budget": from_minor(record.get("daily_budget"), currency),
            "lifetime_budget": from_minor(record.get("lifetime_budget"), currency),
            "updated_at": meta_time(record.get("updated_time"))}


def _action(actions: Any, kinds: tuple[str, ...] = PURCHASE_ACTIONS) -> Decimal:
    found = {a.get("action_type"): a.get("value") for a in actions or [] if isinstance(a, dict)}
    for kind in kinds:
        if kind in found:
            return Decimal(str(found[kind] or 0))
    return Decimal(0)


def normalize_insight_day(record: dict[str, Any]) -> dict[str, Any]:
    """One row of `time_increment=1` insights at campaign level: one campaign, one day."""
    if record.get("date_start") != record.get("date_stop"):
        raise ValueError("the insight row spans more than one day")
    try:
        return {"campaign_external_id": str(record["campaign_id"]), "date": date.fromisoformat(record["date_start"]),
                "spend": Decimal(str(record.get("spend") or 0)), "impressions": int(record.get("impressions") or 0),
                "clicks": int(record.get("clicks") or 0), "conversions": _action(record.get("actions")),
                "conversion_value": _action(record.get("action_values")),
                "currency": record.get("account_currency") or ""}
    except InvalidOperation:
        raise ValueError("a figure is not a number") from None
