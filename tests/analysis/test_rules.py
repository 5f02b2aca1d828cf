"""The rule-based analyzer on the hand-built data set (tests/analysis/support.py): exact suggestions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analysis import inputs, rules
from tests.analysis.support import AS_OF

pytestmark = pytest.mark.django_db


def _as_tuples(proposals):
    return [(p.action, p.target_id, p.parameters, p.text, p.confidence) for p in proposals]


def test_campaigns_low_roas_lowered_very_low_paused_high_raised_young_and_paused_left(org, dataset):
    c = dataset["campaigns"]
    got = rules.analyze(inputs.compute("campaigns", organization=org, as_of=AS_OF))
    assert _as_tuples(got) == [
        ("set_daily_budget", c["boots"].pk, {"daily_budget": "35.00", "from": "50.00", "currency": "RON"},
         "Lower daily budget of campaign Winter boots from 50.00 to 35.00 RON", Decimal("0.70")),
        ("pause_campaign", c["gloves"].pk, {}, "Pause campaign Gloves", Decimal("0.80")),
        ("set_daily_budget", c["scarves"].pk, {"daily_budget": "12.00", "from": "10.00", "currency": "RON"},
         "Raise daily budget of campaign Scarves from 10.00 to 12.00 RON", Decimal("0.60")),
    ]
    assert got[0].rationale == ("ROAS 0.80 over 30 days (1500.00 RON spent), 0.80 over 7 days: below the 1.0 "
                                "floor.")


def test_pricing_flags_only_the_outlier(org, dataset):
    got = rules.analyze(inputs.compute("pricing", organization=org, as_of=AS_OF))
    assert _as_tuples(got) == [
        ("set_price", dataset["products"]["a"].pk, {"price": "120.00", "from": "100.00", "currency": "RON"},
         "Raise price of SKU SKU-A from 100.00 to 120.00 RON (+20.0 %)", Decimal("0.60")),
    ]  # SKU-B sells 4 % above its price: under the 15 % threshold; SKU-C at its price


def test_stock_reorders_what_covers_lead_time_plus_30_days(org, dataset):
    data = inputs.compute("stock", organization=org, as_of=AS_OF).data
    scarf = next(p for p in data["products"] if p["sku"] == "SKU-C")
    assert scarf == {"id": dataset["products"]["c"].pk, "sku": "SKU-C", "name": "Scarf", "available": 14,
                     "locations": 2, "units_sold_7d": 14, "units_sold_30d": 60, "units_per_day": "2.00",
                     "cover_days": "7.0"}
    got = rules.analyze(inputs.compute("stock", organization=org, as_of=AS_OF))
    # SKU-A: 40 in stock, 10 sold: 120 days of cover, nothing. SKU-B: none in stock, 4 sold in 30 days:
    # ceil(4/30 × 44) = 6, needed today. SKU-C: 2 a day × (14 lead + 30) = 88, less 14 sellable; runs out in 7 days.
    assert _as_tuples(got) == [
        ("reorder", dataset["products"]["b"].pk, {"quantity": 6, "needed_by": "2026-12-01"},
         "Reorder 6 of SKU SKU-B before 2026-12-01", Decimal("0.75")),
        ("reorder", dataset["products"]["c"].pk, {"quantity": 74, "needed_by": "2026-12-08"},
         "Reorder 74 of SKU SKU-C before 2026-12-08", Decimal("0.75"))]


def test_the_same_figures_give_the_same_digest_and_answer(org, dataset):
    first = inputs.compute("stock", organization=org, as_of=AS_OF)
    second = inputs.compute("stock", organization=org, as_of=AS_OF)
    assert first.digest == second.digest and len(first.digest) == 64
    assert rules.analyze(first) == rules.analyze(second)
