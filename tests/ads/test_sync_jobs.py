"""sync_campaigns and sync_ad_metrics run through the sync engine and the one import path."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses

from ads.models import AdAccount, AdSet, Campaign, CampaignMetricsDay
from config.errors import CapabilityNotSupported
from syncjobs.cadences import cadences_for
from syncjobs.models import JobStatus, JobType
from syncjobs.services import sync_job_run, sync_job_start
from tests.ads.support import GRAPH, meta
from tests.factories import IntegrationFactory


def structure_answers():
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page1")
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    meta.replay("GET", f"{GRAPH}/act_1001/campaigns", "campaigns__page1")
    meta.replay("GET", f"{GRAPH}/act_1001/campaigns", "campaigns__page2")
    meta.replay("GET", f"{GRAPH}/act_1001/adsets", "ad_sets__page1")


@responses.activate
def test_sync_campaigns_imports_accounts_campaigns_and_ad_sets_in_order(ads_integration):
    structure_answers()
    job = sync_job_start(integration=ads_integration, trigger="api", job_type=JobType.SYNC_CAMPAIGNS,
                         enqueue=False)
    assert [s["resource"] for s in job.cursor["steps"]] == ["ad_accounts", "campaigns", "ad_sets"]
    job = sync_job_run(job_id=job.pk)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert (job.records_created, job.records_failed) == (2 + 3 + 2, 0)
    assert sorted(AdAccount.objects.values_list("external_id", "currency")) == [("1001", "RON"), ("1002", "JPY")]
    assert Campaign.objects.get(external_id="120210000000002").lifetime_budget == Decimal("1500.00")
    assert AdSet.objects.get(external_id="120210000000101").campaign.external_id == "120210000000001"
    again = sync_job_start(integration=ads_integration, trigger="api", job_type=JobType.SYNC_CAMPAIGNS,
                           enqueue=False)
    structure_answers()
    again = sync_job_run(job_id=again.pk)
    assert (again.records_created, again.records_updated, again.records_unchanged) == (0, 0, 7)


@responses.activate
def test_sync_ad_metrics_re_pulls_the_restatement_window(ads_integration, campaign, settings):
    settings.AD_METRICS_RESTATEMENT_DAYS = 3
    meta.replay("GET", f"{GRAPH}/act_1001/insights", "insights__page1")
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    job = sync_job_start(integration=ads_integration, trigger="schedule", job_type=JobType.SYNC_AD_METRICS,
                         enqueue=False)
    job = sync_job_run(job_id=job.pk)
    assert job.status == JobStatus.COMPLETED and job.records_created == 2
    assert CampaignMetricsDay.objects.get(date=date(2026, 11, 19)).spend == Decimal("123.45")
    insights = next(c for c in responses.calls if "/insights" in c.request.url)
    assert (date.today() - timedelta(days=2)).isoformat() in insights.request.url


def test_a_shop_cannot_run_ad_jobs_and_the_cadences_are_declared(db):
    shop = IntegrationFactory(provider="sandbox")
    with pytest.raises(CapabilityNotSupported):
        sync_job_start(integration=shop, trigger="api", job_type=JobType.SYNC_AD_METRICS, enqueue=False)
    minutes = {c.job_type: c.every_minutes for c in cadences_for("meta_ads")}
    assert minutes == {JobType.SYNC_CAMPAIGNS: 360, JobType.SYNC_AD_METRICS: 60, "check_health": 15}
