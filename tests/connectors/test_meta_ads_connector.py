"""The Meta Ads connector against recorded answers (tests/fixtures/meta_ads/), one test per call.

Hosts are Meta's real ones (`graph.facebook.com`, DNS patched to a public address); `responses` answers before
any socket opens. Every normalized value is asserted exactly: money in major units as Decimal, statuses in the
ERP's words, Meta's times as aware datetimes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone
from responses import matchers

from connectors import tokens
from connectors.errors import ProviderError, RateLimited
from connectors.meta_ads import client as meta_client
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

GRAPH = "https://graph.facebook.com/v27.0"
TOKEN_URL = f"{GRAPH}/oauth/access_token"
APP_ID, APP_SECRET = "1234567890123", "meta-app-secret"
LONG = "EAALongLivedUserToken0002"
# Every call made with the token proves the app secret (Meta's "Require App Secret"): hex HMAC-SHA256 of the token.
PROOF = {"appsecret_proof": hmac.new(APP_SECRET.encode(), LONG.encode(), hashlib.sha256).hexdigest()}

fixture = Recorded("meta_ads")
replay = fixture.replay


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"meta_ads": {"CLIENT_ID": APP_ID, "CLIENT_SECRET": APP_SECRET}}
    yield IntegrationFactory(provider="meta_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                             access_token=LONG, refresh_token=LONG, expires_at=timezone.now() + timedelta(days=50),
                             config={"ad_account_ids": ["1001"]})
    close_sessions()


def accounts_answer():
    replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page1",
           match=[matchers.query_param_matcher({"fields": meta_client.ACCOUNT_FIELDS, "limit": "200", **PROOF})])
    replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2",
           match=[matchers.query_param_matcher({"fields": meta_client.ACCOUNT_FIELDS, "limit": "200",
                                                "after": "QVFIUmFjYzEx", **PROOF})])


# ---------------------------------------------------------------------- OAuth
@responses.activate
def test_the_code_becomes_a_short_then_a_long_lived_token(connector):
    replay("GET", TOKEN_URL, "oauth__short_token", match=[matchers.query_param_matcher(
        {"client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uri": "https://erp.example/cb", "code": "AQD1"})])
    replay("GET", TOKEN_URL, "oauth__long_token", match=[matchers.query_param_matcher(
        {"grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET,
         "fb_exchange_token": "EAAShortLivedUserToken0001"})])
    before = timezone.now()
    tokens_ = connector.exchange_code("AQD1", redirect_uri="https://erp.example/cb")
    assert tokens_.access_token == LONG and tokens_.refresh_token == LONG  # what the next refresh exchanges
    assert timedelta(days=59) < tokens_.expires_at - before <= timedelta(seconds=5183944, minutes=1)
    assert tokens_.scope == ("ads_management", "ads_read", "business_management")


def test_the_consent_dialog_asks_for_the_three_ads_scopes(connector):
    url = connector.authorize_url(state="s1", redirect_uri="https://erp.example/cb", scopes=())
    assert url.startswith("https://www.facebook.com/v27.0/dialog/oauth?client_id=1234567890123&")
    assert "scope=ads_management%2Cads_read%2Cbusiness_management" in url and "state=s1" in url


@responses.activate
def test_a_refresh_exchanges_the_current_long_lived_token(connector, integration):
    replay("GET", TOKEN_URL, "oauth__refreshed_token", match=[matchers.query_param_matcher(
        {"grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET,
         "fb_exchange_token": LONG})])
    assert tokens.refresh_token(connector, stale_token=LONG, force=True)
    integration.refresh_from_db()
    assert integration.access_token == "EAALongLivedUserToken0003"
    assert integration.expires_at > timezone.now() + timedelta(days=59)


@responses.activate
def test_an_expired_token_cannot_be_exchanged_and_the_integration_waits_for_a_reconnect(connector, integration):
    replay("GET", TOKEN_URL, "oauth__expired_token")
    with pytest.raises(ProviderError):
        tokens.refresh_token(connector, stale_token=LONG, force=True)
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "expired" in integration.last_error.lower() or "refresh" in integration.last_error.lower()


@responses.activate
def test_the_connect_records_the_ad_accounts_it_reaches_for_webhook_routing(connector, integration):
    accounts_answer()
    replay("GET", f"{GRAPH}/me", "me__user")
    assert connector.account_display_name() == "Ana Popescu"
    assert integration.config["ad_account_ids"] == ["1001", "1002"]
    assert [(a.kind, a.id) for a in connector.routed_accounts()] == [("meta.ad_account", "1001"),
                                                                     ("meta.ad_account", "1002")]


# ---------------------------------------------------------------------- pulls
@responses.activate
def test_ad_accounts_page_until_next_is_absent_even_though_after_is_there(connector):
    accounts_answer()
    pages = list(connector.iter_ad_accounts())
    assert [p.next_cursor for p in pages] == ["QVFIUmFjYzEx", None]
    assert [connector.normalize_ad_account(r) for p in pages for r in p.items] == [
        {"external_id": "1001", "name": "Shop RO", "currency": "RON", "timezone": "Europe/Bucharest",
         "is_active": True},
        {"external_id": "1002", "name": "Shop JP", "currency": "JPY", "timezone": "Asia/Tokyo", "is_active": False}]


@responses.activate
def test_campaigns_are_paged_by_cursor_and_normalized_in_major_units(connector):
    accounts_answer()
    fields = {"fields": meta_client.CAMPAIGN_FIELDS, "limit": "200", **PROOF}
    replay("GET", f"{GRAPH}/act_1001/campaigns", "campaigns__page1", match=[matchers.query_param_matcher(fields)])
    replay("GET", f"{GRAPH}/act_1001/campaigns", "campaigns__page2",
           match=[matchers.query_param_matcher({**fields, "after": "MjM4NTE"})])
    pages = list(connector.iter_campaigns())
    assert [json.loads(p.next_cursor) if p.next_cursor else None for p in pages] == [
        {"account": "1001", "after": "MjM4NTE"}, None]
    records = [connector.normalize_campaign(r) for p in pages for r in p.items]
    assert records[0] == {
        "external_id": "120210000000001", "account_external_id": "1001", "name": "Spring sale", "status": "active",
        "effective_status": "ACTIVE", "objective": "OUTCOME_SALES", "daily_budget": Decimal("25.00"),
        "lifetime_budget": None, "currency": "RON", "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC)}
    assert (records[1]["status"], records[1]["daily_budget"], records[1]["lifetime_budget"]) == (
        "paused", None, Decimal("1500.00"))
    assert (records[2]["effective_status"], records[2]["daily_budget"]) == ("WITH_ISSUES", None)


@responses.activate
def test_a_whole_unit_currency_budget_is_not_divided(connector, integration):
    integration.config = {"ad_account_ids": ["1002"]}
    accounts_answer()
    replay("GET", f"{GRAPH}/act_1002/campaigns", "campaigns__jpy")
    [page] = list(connector.iter_campaigns())
    assert connector.normalize_campaign(page.items[0])["daily_budget"] == Decimal("5000.00")
    assert connector.normalize_campaign(page.items[0])["currency"] == "JPY"


@responses.activate
def test_ad_sets_are_normalized_under_their_campaign(connector):
    accounts_answer()
    replay("GET", f"{GRAPH}/act_1001/adsets", "ad_sets__page1")
    [page] = list(connector.iter_ad_sets())
    assert [connector.normalize_ad_set(r) for r in page.items] == [
        {"external_id": "120210000000101", "campaign_external_id": "120210000000001", "name": "RO 25-45",
         "status": "active", "effective_status": "CAMPAIGN_PAUSED", "optimization_goal": "OFFSITE_CONVERSIONS",
         "daily_budget": None, "lifetime_budget": None, "updated_at": datetime(2026, 11, 20, 10, 5, tzinfo=UTC)},
        {"external_id": "120210000000102", "campaign_external_id": "120210000000003", "name": "Visitors 30d",
         "status": "paused", "effective_status": "PAUSED", "optimization_goal": "LINK_CLICKS",
         "daily_budget": Decimal("10.00"), "lifetime_budget": None,
         "updated_at": datetime(2026, 11, 19, 12, tzinfo=UTC)}]


@responses.activate
def test_insights_are_one_row_per_campaign_and_day_over_the_restatement_window(connector, settings):
    settings.AD_METRICS_RESTATEMENT_DAYS = 7
    accounts_answer()
    replay("GET", f"{GRAPH}/act_1001/insights", "insights__page1")
    [page] = list(connector.iter_ad_metrics())
    query = sent_query(next(c for c in responses.calls if "/insights" in c.request.url))
    today = date.today()
    assert (query["level"], query["time_increment"]) == ("campaign", "1")
    assert json.loads(query["time_range"]) == {"since": (today - timedelta(days=6)).isoformat(),
                                               "until": today.isoformat()}
    assert [connector.normalize_ad_metrics_day(r) for r in page.items] == [
        {"campaign_external_id": "120210000000001", "date": date(2026, 11, 19), "spend": Decimal("123.45"),
         "impressions": 15000, "clicks": 420, "conversions": Decimal("8"), "conversion_value": Decimal("1199.9"),
         "currency": "RON"},
        {"campaign_external_id": "120210000000001", "date": date(2026, 11, 20), "spend": Decimal("98.1"),
         "impressions": 12000, "clicks": 300, "conversions": Decimal("0"), "conversion_value": Decimal("0"),
         "currency": "RON"}]


@responses.activate
def test_a_long_range_runs_as_an_async_report_polled_until_complete(connector, sleeps):
    accounts_answer()
    replay("POST", f"{GRAPH}/act_1001/insights", "insights__report_started")
    replay("GET", f"{GRAPH}/6030000000001", "insights__report_running")
    replay("GET", f"{GRAPH}/6030000000001", "insights__report_completed")
    replay("GET", f"{GRAPH}/6030000000001/insights", "insights__page1")
    since = timezone.now() - timedelta(days=90)
    [page] = list(connector.iter_ad_metrics(since=since))
    assert len(page.items) == 2 and page.next_cursor is None
    started = next(c for c in responses.calls if c.request.method == "POST")
    assert "time_increment=1" in started.request.body and "level=campaign" in started.request.body
    assert meta_client.REPORT_POLL_SECONDS in sleeps


# ---------------------------------------------------------------------- pushes
@responses.activate
def test_a_budget_is_sent_in_minor_units_and_read_back(connector):
    replay("POST", f"{GRAPH}/120210000000001", "campaign__update_ok",
           match=[matchers.urlencoded_params_matcher({"daily_budget": "4000"})])
    replay("GET", f"{GRAPH}/120210000000001", "campaign__after_budget")
    after = connector.set_campaign_budget("120210000000001", daily_budget=Decimal("40.00"), currency="RON")
    assert (after["daily_budget"], after["status"], after["updated_at"]) == (
        Decimal("40.00"), "active", datetime(2026, 11, 21, 9, tzinfo=UTC))


@responses.activate
def test_a_status_change_sends_paused(connector):
    accounts_answer()
    replay("POST", f"{GRAPH}/120210000000001", "campaign__update_ok",
           match=[matchers.urlencoded_params_matcher({"status": "PAUSED"})])
    replay("GET", f"{GRAPH}/120210000000001", "campaign__after_pause")
    after = connector.set_campaign_status("120210000000001", status="paused")
    assert (after["status"], after["effective_status"], after["daily_budget"]) == ("paused", "PAUSED",
                                                                                   Decimal("25.00"))


@responses.activate
def test_a_refused_budget_raises_meta_s_words_for_the_user(connector):
    replay("POST", f"{GRAPH}/120210000000001", "campaign__budget_refused")
    with pytest.raises(ProviderError) as refused:
        connector.set_campaign_budget("120210000000001", daily_budget=Decimal("1.00"), currency="RON")
    assert not refused.value.transient
    assert refused.value.provider_message == "Your budget is too low. The minimum budget for this ad set is RON 5.00."


# ---------------------------------------------------------------------- throttling
@responses.activate
def test_code_17_waits_the_time_meta_gives_then_retries(connector, sleeps):
    replay("GET", f"{GRAPH}/me", "throttled__user_request_limit")
    replay("GET", f"{GRAPH}/me", "me__user")
    assert connector.client.get("me", action="get_me")["name"] == "Ana Popescu"
    assert sleeps == [60.0]


@responses.activate
def test_code_80004_with_a_long_wait_is_rate_limited_for_the_job_to_retry_later(connector, sleeps):
    replay("POST", f"{GRAPH}/120210000000001", "throttled__ad_account_limit")
    with pytest.raises(RateLimited) as limited:
        connector.set_campaign_status("120210000000001", status="paused")
    assert limited.value.retry_after == 300.0 and limited.value.transient
    assert sleeps == [] and len(responses.calls) == 1


def test_the_beat_renews_a_meta_token_before_it_expires(integration):
    from integrations.oauth.refresh import refresh_due

    integration.expires_at = timezone.now() + timedelta(minutes=5)
    integration.save()
    assert list(refresh_due()) == [integration]
