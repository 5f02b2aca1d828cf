"""The ads admin: campaigns with spend over 30 days (list column, SVG chart, per-day table), the daily figures."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses

from ads.models import Campaign
from ads.services import upsert_campaign_metrics
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, org):
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    return client


@pytest.fixture
def spent(campaign, ads_integration):
    today = date.today()
    upsert_campaign_metrics(integration=ads_integration, rows=[
        {"campaign_external_id": CAMPAIGN_ID, "date": today - timedelta(days=n), "spend": Decimal("12.50"),
         "impressions": 100, "clicks": 5, "conversions": 1, "conversion_value": Decimal("50"), "currency": "RON"}
        for n in (0, 1, 40)])
    return campaign


def test_the_campaign_list_shows_30_days_of_spend(operator, spent):
    page = operator.get("/admin/ads/campaign/").content.decode()
    assert "Spring sale" in page and "25.00" in page  # two of the three days are within 30 days


def test_a_campaign_page_draws_its_30_day_spend_chart_and_days(operator, spent):
    page = operator.get(f"/admin/ads/campaign/{spent.pk}/change/").content.decode()
    assert 'class="switchyard-chart daily-bars"' in page
    assert page.count('class="bar bar-spend"') == 2
    assert f"<td>{date.today().isoformat()}</td><td>12.50</td>" in page


def test_the_daily_figures_list_shows_spend_per_day_and_platform_roas(operator, spent):
    page = operator.get("/admin/ads/campaignmetricsday/").content.decode()
    assert page.count("12.50") >= 3 and "4.00" in page


@responses.activate
def test_operators_pause_from_the_admin_through_the_service(operator, spent):
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok")
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_pause")
    operator.post("/admin/ads/campaign/", {"action": "pause", "_selected_action": [spent.pk]})
    assert Campaign.objects.get().status == "paused"
