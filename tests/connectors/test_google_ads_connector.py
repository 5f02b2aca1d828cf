"""The Google Ads connector against recorded answers (tests/fixtures/google_ads/), one test per call.

GAQL goes through `googleAds:searchStream` (an array of batches); every call carries the developer token and,
for a manager account, login-customer-id; mutates are partial-failure and report each refused row.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone
from responses import matchers

from connectors import tokens
from connectors.errors import ProviderError, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded, sent_json
from tests.factories import IntegrationFactory

API = "https://googleads.googleapis.com/v26"
CID = "1234567890"
STREAM = f"{API}/customers/{CID}/googleAds:searchStream"
TOKEN_URL = "https://oauth2.googleapis.com/token"

fixture = Recorded("google_ads")
replay = fixture.replay


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"google_ads": {"CLIENT_ID": "gid.apps.googleusercontent.com",
                                                 "CLIENT_SECRET": "g-secret", "DEVELOPER_TOKEN": "dev-token-123"}}
    yield IntegrationFactory(provider="google_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                             access_token="ya29.CurrentToken", refresh_token="1//RefreshToken",
                             expires_at=timezone.now() + timedelta(minutes=30),
                             config={"customer_ids": [CID], "login_customer_id": "999-888-7777"})
    close_sessions()


def query_is(text: str):
    return matchers.json_params_matcher({"query": text})


def currency():
    from connectors.google_ads.client import ACCOUNT_QUERY

    replay("POST", STREAM, "customer__one", match=[query_is(ACCOUNT_QUERY)])


# ---------------------------------------------------------------------- auth
def test_the_consent_asks_for_offline_adwords_access(connector):
    url = connector.authorize_url(state="s", redirect_uri="https://erp.example/cb",
                                  scopes=connector.oauth.default_scopes)
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "access_type=offline" in url and "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fadwords" in url


@responses.activate
def test_every_call_carries_the_developer_token_and_login_customer_id(connector, integration):
    replay("GET", f"{API}/customers:listAccessibleCustomers", "customers__accessible")
    assert connector.account_display_name() == "2 Google Ads account(s)"
    assert integration.config["customer_ids"] == ["1234567890", "2345678901"]
    sent = responses.calls[0].request.headers
    assert (sent["developer-token"], sent["login-customer-id"], sent["Authorization"]) == (
        "dev-token-123", "9998887777", "Bearer ya29.CurrentToken")


@responses.activate
def test_an_expiring_token_is_refreshed_with_the_refresh_grant(connector, integration):
    replay("POST", TOKEN_URL, "oauth__refresh", match=[matchers.urlencoded_params_matcher(
        {"grant_type": "refresh_token", "refresh_token": "1//RefreshToken",
         "client_id": "gid.apps.googleusercontent.com", "client_secret": "g-secret"})])
    assert tokens.refresh_token(connector, stale_token="ya29.CurrentToken", force=True)
    integration.refresh_from_db()
    assert integration.access_token == "ya29.RefreshedGoogleAccessToken"
    assert integration.refresh_token == "1//RefreshToken"  # Google keeps the refresh token


@responses.activate
def test_a_revoked_refresh_token_sends_the_integration_to_pending_auth(connector, integration):
    replay("POST", TOKEN_URL, "oauth__invalid_grant")
    with pytest.raises(RefreshFailed):
        tokens.refresh_token(connector, stale_token="ya29.CurrentToken", force=True)
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH


# ---------------------------------------------------------------------- pulls
@responses.activate
def test_customers_are_normalized(connector):
    currency()
    [page] = list(connector.iter_ad_accounts())
    assert [connector.normalize_ad_account(r) for r in page.items] == [
        {"external_id": CID, "name": "Shop RO Google", "currency": "RON", "timezone": "Europe/Bucharest",
         "is_active": True}]


@responses.activate
def test_campaigns_with_their_budgets_from_every_batch_of_the_stream(connector):
    from connectors.google_ads.client import CAMPAIGN_QUERY

    replay("POST", STREAM, "campaigns__stream", match=[query_is(CAMPAIGN_QUERY)])
    currency()
    [page] = list(connector.iter_campaigns())
    assert [connector.normalize_campaign(r) for r in page.items] == [
        {"external_id": "111", "account_external_id": CID, "name": "Search RO", "status": "active",
         "effective_status": "SERVING", "objective": "SEARCH", "daily_budget": Decimal("50.00"),
         "lifetime_budget": None, "currency": "RON", "updated_at": None},
        {"external_id": "222", "account_external_id": CID, "name": "Brand", "status": "paused",
         "effective_status": "ENDED", "objective": "SEARCH", "daily_budget": Decimal("12.50"),
         "lifetime_budget": None, "currency": "RON", "updated_at": None},
        {"external_id": "333", "account_external_id": CID, "name": "Shopping", "status": "active",
         "effective_status": "SERVING", "objective": "SEARCH", "daily_budget": Decimal("700.00"),
         "lifetime_budget": None, "currency": "RON", "updated_at": None}]
    assert "pageSize" not in json.dumps(sent_json(responses.calls[0]))


@responses.activate
def test_ad_groups_under_their_campaign(connector):
    from connectors.google_ads.client import AD_GROUP_QUERY

    replay("POST", STREAM, "ad_groups__stream", match=[query_is(AD_GROUP_QUERY)])
    currency()
    [page] = list(connector.iter_ad_sets())
    assert connector.normalize_ad_set(page.items[0]) == {
        "external_id": "555", "campaign_external_id": "111", "name": "Shoes exact", "status": "active",
        "effective_status": "", "optimization_goal": "", "daily_budget": None, "lifetime_budget": None,
        "updated_at": None}


@responses.activate
def test_metrics_by_segments_date_over_the_restatement_window(connector, settings):
    from connectors.google_ads.client import METRICS_QUERY

    settings.AD_METRICS_RESTATEMENT_DAYS = 7
    today = date.today()
    replay("POST", STREAM, "metrics__stream", match=[query_is(METRICS_QUERY.format(
        first=(today - timedelta(days=6)).isoformat(), last=today.isoformat()))])
    currency()
    [page] = list(connector.iter_ad_metrics())
    assert [connector.normalize_ad_metrics_day(r) for r in page.items] == [
        {"campaign_external_id": "111", "date": date(2026, 11, 19), "spend": Decimal("45.67"), "impressions": 23000,
         "clicks": 310, "conversions": Decimal("6.0"), "conversion_value": Decimal("159.85"), "currency": "RON"},
        {"campaign_external_id": "111", "date": date(2026, 11, 20), "spend": Decimal("0.00"), "impressions": 0,
         "clicks": 0, "conversions": Decimal("0.0"), "conversion_value": Decimal("0.00"), "currency": "RON"}]


# ---------------------------------------------------------------------- pushes
@responses.activate
def test_a_budget_is_the_campaign_budget_s_amount_micros(connector):
    replay("POST", STREAM, "campaign__111")
    replay("POST", STREAM, "customer__one")
    mutate = f"{API}/customers/{CID}/campaignBudgets:mutate"
    replay("POST", mutate, "budget_mutate__ok", match=[matchers.json_params_matcher({
        "operations": [{"update": {"resourceName": f"customers/{CID}/campaignBudgets/9111",
                                   "amountMicros": "70000000"}, "updateMask": "amount_micros"}],
        "partialFailure": True})])
    replay("POST", STREAM, "campaign__111_after_budget")
    after = connector.set_campaign_budget("111", daily_budget=Decimal("70.00"), account_id=CID)
    assert after["daily_budget"] == Decimal("70.00")


@responses.activate
def test_a_pause_is_campaigns_mutate_with_an_update_mask(connector):
    mutate = f"{API}/customers/{CID}/campaigns:mutate"
    replay("POST", mutate, "campaign_mutate__ok", match=[matchers.json_params_matcher({
        "operations": [{"update": {"resourceName": f"customers/{CID}/campaigns/111", "status": "PAUSED"},
                        "updateMask": "status"}], "partialFailure": True})])
    replay("POST", STREAM, "campaign__111_paused")
    replay("POST", STREAM, "customer__one")
    assert connector.set_campaign_status("111", status="paused", account_id=CID)["status"] == "paused"


@responses.activate
def test_a_refused_row_of_a_partial_failure_mutate_says_why(connector):
    replay("POST", STREAM, "campaign__111")
    replay("POST", STREAM, "customer__one")
    replay("POST", f"{API}/customers/{CID}/campaignBudgets:mutate", "budget_mutate__too_low")
    with pytest.raises(ProviderError) as refused:
        connector.set_campaign_budget("111", daily_budget=Decimal("0.01"), account_id=CID)
    assert refused.value.provider_message == "Too low." and not refused.value.transient


@responses.activate
def test_partial_failures_are_reported_per_row(connector):
    replay("POST", f"{API}/customers/{CID}/campaigns:mutate", "campaign_mutate__partial")
    results, failures = connector.client.mutate(CID, "campaigns", [{"update": {}}, {"update": {}}],
                                                action="update_campaign_statuses")
    assert results[0] == {"resourceName": f"customers/{CID}/campaigns/111"}
    assert failures == {1: "The operation is not allowed for removed resources."}


@responses.activate
def test_resource_exhausted_is_waited_on_as_google_asks(connector, sleeps):
    replay("GET", f"{API}/customers:listAccessibleCustomers", "throttled")
    replay("GET", f"{API}/customers:listAccessibleCustomers", "customers__accessible")
    assert connector.client.accessible_customers() == ["1234567890", "2345678901"]
    assert sleeps == [2.0]
