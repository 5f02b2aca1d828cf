"""The rule-based analyzer: the same kinds of suggestions as the model, from fixed thresholds, with no network.

It answers when the organization has no AI integration, when the model fails, and on the embedded demo. Its
thresholds are settings (AI_ROAS_LOW, AI_ROAS_HIGH, AI_REORDER_LEAD_TIME_DAYS, AI_PRICE_OUTLIER_PERCENT), echoed
in the inputs so that a run records what it was judged against. Deterministic: the same inputs give the same
suggestions, in input order.

Campaigns (with spend in the last 30 days and at least 7 days of figures):
- 30-day ROAS below AI_ROAS_LOW and the last 7 days no better: below half of it → pause; else lower the daily
  budget by 30 % (to the cent);
- both ROAS at or above AI_ROAS_HIGH → raise the daily budget by 20 %.
Pricing: the units-weighted average price the channels sold at (same currency) differs from the ERP price by at
least AI_PRICE_OUTLIER_PERCENT → set the price to that average.
Stock: selling, and the stock covers fewer days than the lead time → reorder what covers lead time + 30 days
of sales at the 30-day pace, needed by the day the stock runs out.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .inputs import Inputs
from .models import ActionKind, AnalysisKind
from .proposals import Proposal

CENTS = Decimal("0.01")
LOWER_BY, RAISE_BY = Decimal("0.30"), Decimal("0.20")
REORDER_HORIZON_DAYS = 30


def analyze(inputs: Inputs) -> list[Proposal]:
    return {AnalysisKind.CAMPAIGNS: _campaigns, AnalysisKind.PRICING: _pricing,
            AnalysisKind.STOCK: _stock}[AnalysisKind(inputs.kind)](inputs.data, inputs.as_of)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def _campaigns(data: dict[str, Any], as_of: date) -> list[Proposal]:
    low, high = Decimal(data["roas_low"]), Decimal(data["roas_high"])
    out = []
    for c in data["campaigns"]:
        month, week = c["last_30_days"], c["last_7_days"]
        if c["status"] != "active" or c["days_with_data"] < 7 or month["roas"] is None:
            continue
        roas30 = Decimal(month["roas"])
        roas7 = Decimal(week["roas"]) if week["roas"] is not None else None
        figures = (f"ROAS {month['roas']} over 30 days ({month['spend']} {c['currency']} spent), "
                   f"{week['roas'] or 'n/a'} over 7 days")
        if roas30 < low and (roas7 is None or roas7 <= low):
            if roas30 < low / 2:
                out.append(Proposal(ActionKind.PAUSE_CAMPAIGN, c["id"], {},
                                    f"Pause campaign {c['name']}",
                                    f"{figures}: under half of the {low} floor.", Decimal("0.80")))
            elif c["daily_budget"]:
                now = Decimal(c["daily_budget"])
                new = _cents(now * (1 - LOWER_BY))
                out.append(Proposal(ActionKind.SET_DAILY_BUDGET, c["id"],
                                    {"daily_budget": str(new), "from": c["daily_budget"], "currency": c["currency"]},
                                    f"Lower daily budget of campaign {c['name']} from {now} to {new} {c['currency']}",
                                    f"{figures}: below the {low} floor.", Decimal("0.70")))
        elif roas30 >= high and roas7 is not None and roas7 >= high and c["daily_budget"]:
            now = Decimal(c["daily_budget"])
            new = _cents(now * (1 + RAISE_BY))
            out.append(Proposal(ActionKind.SET_DAILY_BUDGET, c["id"],
                                {"daily_budget": str(new), "from": c["daily_budget"], "currency": c["currency"]},
                                f"Raise daily budget of campaign {c['name']} from {now} to {new} {c['currency']}",
                                f"{figures}: at or above {high}.", Decimal("0.60")))
    return out


def _pricing(data: dict[str, Any], as_of: date) -> list[Proposal]:
    threshold = Decimal(data["outlier_percent"])
    out = []
    for p in data["products"]:
        same = [ch for ch in p["channels"] if ch["currency"] == p["currency"] and ch["units_sold_30d"]]
        units = sum(ch["units_sold_30d"] for ch in same)
        if not units or not p["price"]:
            continue
        average = _cents(sum(Decimal(ch["average_unit_price"]) * ch["units_sold_30d"] for ch in same) / units)
        price = Decimal(p["price"])
        gap = ((average - price) / price * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if abs(gap) < threshold:
            continue
        verb = "Raise" if gap > 0 else "Lower"
        channels = ", ".join(f"{ch['channel']} {ch['average_unit_price']}" for ch in same)
        out.append(Proposal(ActionKind.SET_PRICE, p["id"],
                            {"price": str(average), "from": p["price"], "currency": p["currency"]},
                            f"{verb} price of SKU {p['sku']} from {price} to {average} {p['currency']} "
                            f"({'+' if gap > 0 else ''}{gap} %)",
                            f"The channels sold it at {average} on average over 30 days ({channels}; {units} units), "
                            f"{abs(gap)} % {'above' if gap > 0 else 'below'} the ERP price.", Decimal("0.60")))
    return out


def _stock(data: dict[str, Any], as_of: date) -> list[Proposal]:
    lead = int(data["lead_time_days"])
    out = []
    for p in data["products"]:
        if p["cover_days"] is None:
            continue
        cover, per_day = Decimal(p["cover_days"]), Decimal(p["units_sold_30d"]) / 30
        if cover >= lead:
            continue
        quantity = math.ceil(per_day * (lead + REORDER_HORIZON_DAYS)) - max(p["available"], 0)
        if quantity <= 0:
            continue
        needed_by = as_of + timedelta(days=int(cover))
        out.append(Proposal(ActionKind.REORDER, p["id"],
                            {"quantity": quantity, "needed_by": needed_by.isoformat()},
                            f"Reorder {quantity} of SKU {p['sku']} before {needed_by.isoformat()}",
                            f"{p['available']} sellable over {p['locations']} location(s) cover {p['cover_days']} "
                            f"days at {p['units_per_day']} a day (30 days); the lead time is {lead} days.",
                            Decimal("0.75")))
    return out
