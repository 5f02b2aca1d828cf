"""Importing campaigns' daily figures: one row per campaign and day, overwritten by every re-pull.

Platforms restate recent days (late conversions, invalid clicks removed), so the newest pull of a day is the
truth and there is no `updated_time` to compare: a row changes when its figures differ, and is counted
unchanged otherwise. Rows reach their campaign through the campaign's external id (its ExternalRef's row); a
campaign not imported yet fails the row with reason `unknown_item`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from commerce.services.refs import UpsertResult
from integrations.models import Integration

from ..models import Campaign, CampaignMetricsDay

FIGURES = ("spend", "impressions", "clicks", "conversions", "conversion_value", "currency")


def _figures(record: dict[str, Any]) -> dict[str, Any]:
    try:
        figures = {
            "spend": Decimal(str(record.get("spend") or 0)),
            "impressions": int(record.get("impressions") or 0),
            "clicks": int(record.get("clicks") or 0),
            "conversions": Decimal(str(record.get("conversions") or 0)).quantize(Decimal("0.01")),
            "conversion_value": Decimal(str(record.get("conversion_value") or 0)),
            "currency": str(record.get("currency") or "")[:3].upper(),
        }
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError("a figure is not a number") from None
    if any(figures[k] < 0 for k in FIGURES[:-1]):
        raise ValueError("figures cannot be negative")
    return figures


@transaction.atomic
def upsert_campaign_metrics(*, integration: Integration, rows: list[dict]) -> UpsertResult:
    """Write a page of daily figures: `campaign_external_id`, `date` (a date), `spend`, `impressions`, `clicks`,
    `conversions`, `conversion_value` (major units), `currency`. Idempotent; the latest pull of a day wins."""
    result = UpsertResult()
    wanted = {str(r.get("campaign_external_id") or "") for r in rows if isinstance(r, dict)}
    campaigns = dict(Campaign.objects.filter(integration=integration, external_id__in=wanted)
                     .values_list("external_id", "pk"))
    parsed: dict[tuple[int, date], dict[str, Any]] = {}
    for record in rows:
        campaign_external = str(record.get("campaign_external_id") or "")
        key = f"{campaign_external}:{record.get('date')}"
        day = record.get("date")
        if not isinstance(day, date):
            result.fail(key, "date is missing")
            continue
        if campaign_external not in campaigns:
            result.fail(key, f"campaign {campaign_external or '(none)'} is not imported", reason="unknown_item")
            continue
        try:
            parsed[(campaigns[campaign_external], day)] = _figures(record)
        except ValueError as exc:
            result.fail(key, str(exc))
    if not parsed:
        return result
    existing = {(m.campaign_id, m.date): m for m in CampaignMetricsDay.objects.select_for_update().filter(
        campaign_id__in={c for c, _ in parsed}, date__in={d for _, d in parsed})}
    now = timezone.now()
    to_write = []
    for (campaign_id, day), figures in sorted(parsed.items()):
        known = existing.get((campaign_id, day))
        if known is not None and all(getattr(known, k) == figures[k] for k in FIGURES):
            result.unchanged += 1
            continue
        if known is None:
            result.created += 1
        else:
            result.updated += 1
        to_write.append(CampaignMetricsDay(organization_id=integration.organization_id, campaign_id=campaign_id,
                                           date=day, updated_at=now, **figures))
    CampaignMetricsDay.objects.bulk_create(to_write, update_conflicts=True, unique_fields=["campaign", "date"],
                                           update_fields=[*FIGURES, "updated_at"])
    return result
