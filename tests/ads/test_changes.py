"""Budget and status changes: the platform first; the ERP changes only with what it accepted, with an audit
event and an outbound campaign.updated; a refusal leaves the record as it was and says why."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses
from responses import matchers

from accounts.models import AuditEvent
from ads.models import Campaign
from ads.services import CampaignChangeRefused, campaign_budget_set, campaign_status_set, upsert_campaigns
from config.errors import ValidationError
from connectors.errors import RateLimited
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta
from webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def endpoint(campaign):
    return WebhookEndpoint.objects.create(organization=campaign.organization, url="https://hooks.example.com/ads",
                                          events=["campaign.updated"], secret="whsec_test")


@responses.activate
def test_an_accepted_budget_is_written_audited_and_published(campaign, endpoint):
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok",
                match=[matchers.urlencoded_params_matcher({"daily_budget": "4000"})])
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_budget")
    saved = campaign_budget_set(campaign=campaign, daily_budget="40.00", reason="suggestion 12",
                                actor_label="ads suggestion 12")
    assert saved.daily_budget == Decimal("40.00")
    assert Campaign.objects.get().daily_budget == Decimal("40.00")
    audit = AuditEvent.objects.get(action="campaign.budget_changed")
    assert audit.details == {"changes": {"daily_budget": {"from": "25.00", "to": "40.00"}},
                             "reason": "suggestion 12"}
    assert audit.actor_label == "ads suggestion 12"
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "campaign.updated"
    assert delivery.payload["data"]["campaign"]["daily_budget"] == "40.00"
    assert delivery.payload["data"]["changes"] == {"daily_budget": {"from": "25.00", "to": "40.00"}}


@responses.activate
def test_a_refused_budget_leaves_the_campaign_unchanged_and_says_why(campaign, endpoint):
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__budget_refused")
    with pytest.raises(CampaignChangeRefused) as refused:
        campaign_budget_set(campaign=campaign, daily_budget=Decimal("1.00"))
    assert "Your budget is too low. The minimum budget for this ad set is RON 5.00." in refused.value.message
    assert refused.value.details["reason"] == ("Your budget is too low. The minimum budget for this ad set is "
                                               "RON 5.00.")
    assert refused.value.details["current"]["daily_budget"] == "25.00"
    assert Campaign.objects.get().daily_budget == Decimal("25.00")
    assert not WebhookDelivery.objects.exists()
    assert AuditEvent.objects.get().action == "campaign.change_refused"


@responses.activate
def test_a_throttled_change_changes_nothing_and_is_raised_as_transient(campaign, endpoint):
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "throttled__ad_account_limit")
    with pytest.raises(RateLimited):
        campaign_status_set(campaign=campaign, status="paused")
    assert Campaign.objects.get().status == "active" and not WebhookDelivery.objects.exists()


def test_bad_requests_send_nothing(campaign):
    for kwargs in ({}, {"daily_budget": "10", "lifetime_budget": "10"}, {"daily_budget": "-1"},
                   {"daily_budget": "1.001"}, {"daily_budget": "ten"}):
        with pytest.raises(ValidationError):
            campaign_budget_set(campaign=campaign, **kwargs)
    with pytest.raises(ValidationError):
        campaign_status_set(campaign=campaign, status="deleted")


@responses.activate
def test_a_pause_is_kept_against_an_older_sync_page(campaign, endpoint):
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok")
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_pause")
    campaign_status_set(campaign=campaign, status="paused")
    assert AuditEvent.objects.get().details["changes"] == {"status": {"from": "active", "to": "paused"}}
    stale = upsert_campaigns(integration=campaign.integration, campaigns=[{
        "external_id": CAMPAIGN_ID, "account_external_id": "1001", "name": "Spring sale", "status": "active",
        "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC)}])
    assert stale.unchanged == 1
    assert Campaign.objects.get().status == "paused"
