"""The ads imports: bulk, idempotent, tied to their integration through ExternalRef, never regressing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ads.models import AdAccount, AdSet, Campaign, CampaignMetricsDay
from ads.services import upsert_ad_accounts, upsert_ad_sets, upsert_campaign_metrics, upsert_campaigns
from commerce.models import ExternalRef, ResourceType
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def campaign(external_id="120001", **changes):
    record = {"external_id": external_id, "account_external_id": "1001", "name": "Spring sale", "status": "active",
              "effective_status": "ACTIVE", "objective": "OUTCOME_SALES", "daily_budget": Decimal("25.00"),
              "lifetime_budget": None, "currency": "EUR", "updated_at": T0}
    record.update(changes)
    return record


@pytest.fixture
def ads():
    integration = IntegrationFactory(type="advertising", provider="sandbox")
    upsert_ad_accounts(integration=integration, accounts=[{"external_id": "1001", "name": "Main", "currency": "EUR",
                                                           "timezone": "Europe/Bucharest"}])
    return integration


def test_accounts_campaigns_and_ad_sets_are_created_with_their_refs(ads):
    result = upsert_campaigns(integration=ads, campaigns=[campaign(), campaign("120002", name="Brand")])
    assert (result.created, result.updated, result.failed) == (2, 0, [])
    sets = upsert_ad_sets(integration=ads, ad_sets=[{"external_id": "230001", "campaign_external_id": "120001",
                                                     "name": "RO 25-45", "status": "paused",
                                                     "optimization_goal": "OFFSITE_CONVERSIONS",
                                                     "daily_budget": None, "updated_at": T0}])
    assert sets.created == 1
    row = Campaign.objects.get(external_id="120001")
    assert (row.name, row.status, row.daily_budget, row.currency, row.ad_account.name) == (
        "Spring sale", "active", Decimal("25.00"), "EUR", "Main")
    assert AdSet.objects.get().campaign == row
    refs = dict(ExternalRef.objects.filter(integration=ads).values_list("external_id", "object_id"))
    assert refs["120001"] == row.pk and refs["1001"] == AdAccount.objects.get().pk
    assert set(ExternalRef.objects.filter(integration=ads).values_list("resource_type", flat=True)) == {
        ResourceType.AD_ACCOUNT, ResourceType.CAMPAIGN, ResourceType.AD_SET}


def test_the_same_page_twice_changes_nothing(ads):
    upsert_campaigns(integration=ads, campaigns=[campaign()])
    again = upsert_campaigns(integration=ads, campaigns=[campaign()])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_an_older_updated_time_never_overwrites_a_newer_one(ads):
    upsert_campaigns(integration=ads, campaigns=[campaign(status="paused", updated_at=T0 + timedelta(hours=1))])
    stale = upsert_campaigns(integration=ads, campaigns=[campaign(status="active", updated_at=T0)])
    assert (stale.updated, stale.unchanged) == (0, 1)
    assert Campaign.objects.get().status == "paused"
    newer = upsert_campaigns(integration=ads, campaigns=[campaign(daily_budget=Decimal("40"),
                                                                  updated_at=T0 + timedelta(hours=2))])
    assert newer.updated == 1
    assert Campaign.objects.get().daily_budget == Decimal("40")


def test_a_page_keeps_the_newest_version_of_a_repeated_campaign(ads):
    result = upsert_campaigns(integration=ads, campaigns=[campaign(name="new", updated_at=T0 + timedelta(minutes=1)),
                                                          campaign(name="old")])
    assert (result.created, result.unchanged) == (1, 1)
    assert Campaign.objects.get().name == "new"


def test_a_campaign_of_an_unknown_account_or_a_bad_status_fails_alone(ads):
    result = upsert_campaigns(integration=ads, campaigns=[campaign("1", account_external_id="999"),
                                                          campaign("2", status="running"), campaign("3")])
    assert result.created == 1
    assert [(f["external_id"], f["reason"]) for f in result.failed] == [("1", "unknown_item"), ("2", "invalid")]
    assert list(Campaign.objects.values_list("external_id", flat=True)) == ["3"]


def test_daily_metrics_are_upserted_per_campaign_and_day_and_restated(ads):
    upsert_campaigns(integration=ads, campaigns=[campaign()])
    day = {"campaign_external_id": "120001", "date": date(2026, 11, 19), "spend": Decimal("12.34"),
           "impressions": 1500, "clicks": 42, "conversions": Decimal("3"), "conversion_value": Decimal("199.90"),
           "currency": "EUR"}
    first = upsert_campaign_metrics(integration=ads, rows=[day, {**day, "date": date(2026, 11, 20)}])
    assert first.created == 2
    same = upsert_campaign_metrics(integration=ads, rows=[day])
    assert (same.unchanged, same.updated) == (1, 0)
    restated = upsert_campaign_metrics(integration=ads, rows=[{**day, "spend": Decimal("13.00"), "conversions": 4}])
    assert restated.updated == 1
    row = CampaignMetricsDay.objects.get(date=date(2026, 11, 19))
    assert (row.spend, row.impressions, row.clicks, row.conversions, row.conversion_value) == (
        Decimal("13.00"), 1500, 42, Decimal("4.00"), Decimal("199.90"))
    unknown = upsert_campaign_metrics(integration=ads, rows=[{**day, "campaign_external_id": "nope"}])
    assert unknown.failed[0]["reason"] == "unknown_item"
