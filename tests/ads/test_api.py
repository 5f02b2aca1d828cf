"""/api/ad-accounts/, /api/campaigns/ (filters, PATCH budget/status), /api/campaigns/{id}/metrics/."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import responses

from ads.models import Campaign
from ads.services import upsert_campaign_metrics
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_lists_are_the_tenant_s_and_filter_by_integration_and_status(viewer_api, campaign, ads_integration):
    other = IntegrationFactory(organization=OrganizationFactory(), provider="meta_ads", type="advertising")
    Campaign.objects.create(organization=other.organization, integration=other, ad_account=campaign.ad_account,
                            external_id="x", name="Not yours")
    accounts = viewer_api.get("/api/ad-accounts/").json()["results"]
    assert [a["external_id"] for a in accounts] == ["1001"]
    listed = viewer_api.get("/api/campaigns/", {"integration": ads_integration.pk, "status": "active"}).json()
    assert [(c["name"], c["daily_budget"], c["currency"], c["ad_account"]["external_id"])
            for c in listed["results"]] == [("Spring sale", "25.00", "RON", "1001")]
    assert viewer_api.get("/api/campaigns/", {"status": "paused"}).json()["results"] == []
    assert viewer_api.get("/api/campaigns/", {"status": "running"}).status_code == 400
    foreign = Campaign.objects.get(external_id="x")
    missing = viewer_api.get(f"/api/campaigns/{foreign.pk}/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CAMPAIGN_NOT_FOUND"


@responses.activate
def test_patch_pauses_at_the_platform_then_in_the_erp(operator_api, viewer_api, campaign):
    assert viewer_api.patch(f"/api/campaigns/{campaign.pk}/", {"status": "paused"}, format="json"
                            ).status_code == 403
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok")
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_pause")
    answer = operator_api.patch(f"/api/campaigns/{campaign.pk}/", {"status": "paused", "reason": "stock out"},
                                format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "paused"
    assert [c.request.method for c in responses.calls].count("POST") == 1


@responses.activate
def test_patch_a_refused_budget_is_422_with_the_platform_s_reason(operator_api, campaign):
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__budget_refused")
    answer = operator_api.patch(f"/api/campaigns/{campaign.pk}/", {"daily_budget": "1.00"}, format="json")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "CAMPAIGN_CHANGE_REFUSED"
    assert error["details"]["reason"].startswith("Your budget is too low.")
    assert Campaign.objects.get().daily_budget == Decimal("25.00")


def test_patch_bad_bodies_are_400_and_send_nothing(operator_api, campaign):
    for body in ({}, {"status": "paused", "daily_budget": "5"}, {"status": "deleted"}, {"daily_budget": "x"},
                 {"budget": "5"}):
        answer = operator_api.patch(f"/api/campaigns/{campaign.pk}/", body, format="json")
        assert answer.status_code == 400, body


def test_metrics_by_day_with_totals_and_platform_roas(viewer_api, campaign, ads_integration):
    upsert_campaign_metrics(integration=ads_integration, rows=[
        {"campaign_external_id": CAMPAIGN_ID, "date": date(2026, 11, d), "spend": Decimal("10.00"),
         "impressions": 1000, "clicks": 10 * d, "conversions": 1, "conversion_value": Decimal("35.00"),
         "currency": "RON"} for d in (18, 19, 20)])
    answer = viewer_api.get(f"/api/campaigns/{campaign.pk}/metrics/", {"from": "2026-11-19", "to": "2026-11-20"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["from"], body["to"], body["currency"]) == ("2026-11-19", "2026-11-20", "RON")
    assert [(d["date"], d["spend"], d["clicks"], d["roas"]) for d in body["days"]] == [
        ("2026-11-19", "10.00", 190, "3.50"), ("2026-11-20", "10.00", 200, "3.50")]
    assert body["totals"] == {"spend": "20.00", "impressions": 2000, "clicks": 390, "conversions": "2.00",
                              "conversion_value": "70.00", "roas": "3.50"}
    for query in ({"from": "2026-11-21", "to": "2026-11-20"}, {"from": "nope"}, {"from": "2025-01-01",
                                                                                 "to": "2026-11-20"}):
        assert viewer_api.get(f"/api/campaigns/{campaign.pk}/metrics/", query).status_code == 400
