"""The TikTok Ads connector against recorded answers (tests/fixtures/tiktok_ads/), one test per call.

TikTok answers HTTP 200 with a `code` envelope; paths end with a slash; the token is the `Access-Token` header.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import responses
from responses import matchers

from connectors.errors import AuthExpired, ProviderError
from connectors.sessions import close_sessions
from connectors.tiktok_ads import client as tiktok_client
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

API = "https://business-api.tiktok.com/open_api/v1.3"
APP_ID, SECRET = "7300000000000000000", "tiktok-ads-app-secret"
TOKEN = "act.TikTokLongTermToken0001"
ADV, CAMPAIGN = "7000000000000000001", "1800000000000000001"

fixture = Recorded("tiktok_ads")
replay = fixture.replay


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"tiktok_ads": {"CLIENT_ID": APP_ID, "CLIENT_SECRET": SECRET}}
    yield IntegrationFactory(provider="tiktok_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                             access_token=TOKEN, config={"advertiser_ids": [ADV]})
    close_sessions()


def info():
    replay("GET", f"{API}/advertiser/info/", "advertisers__info")


# ---------------------------------------------------------------------- connect
def test_the_authorization_page_takes_app_id_state_and_redirect_uri(connector):
    url = connector.authorize_url(state="s1", redirect_uri="https://erp.example/cb", scopes=())
    assert url == ("https://business-api.tiktok.com/portal/auth?app_id=7300000000000000000&state=s1&"
                   "redirect_uri=https%3A%2F%2Ferp.example%2Fcb")
    assert connector.callback_code({"auth_code": "abc", "code": "not-this"}) == "abc"


@responses.activate
def test_the_auth_code_becomes_a_long_term_token_with_its_advertisers(connector, integration):
    replay("POST", f"{API}/oauth2/access_token/", "oauth__access_token", match=[matchers.json_params_matcher(
        {"app_id": APP_ID, "secret": SECRET, "auth_code": "auth-1"})])
    tokens = connector.exchange_code("auth-1")
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == (TOKEN, None, None)
    assert integration.config["advertiser_ids"] == ["7000000000000000001", "7000000000000000002"]


@responses.activate
def test_a_bad_auth_code_is_a_permanent_error_with_tiktok_s_words(connector):
    replay("POST", f"{API}/oauth2/access_token/", "oauth__bad_auth_code")
    with pytest.raises(ProviderError) as refused:
        connector.exchange_code("stale")
    assert not refused.value.transient and refused.value.provider_message == "auth_code is invalid or expired"


@responses.activate
def test_the_advertiser_list_names_the_account(connector, integration):
    replay("GET", f"{API}/oauth2/advertiser/get/", "advertisers__list",
           match=[matchers.query_param_matcher({"app_id": APP_ID, "secret": SECRET})])
    assert connector.account_display_name() == "Shop RO TikTok"
    assert integration.config["advertiser_ids"] == ["7000000000000000001", "7000000000000000002"]
    assert responses.calls[0].request.headers["Access-Token"] == TOKEN


# ---------------------------------------------------------------------- pulls
@responses.activate
def test_advertisers_are_normalized_with_their_currency(connector):
    info()
    [page] = list(connector.iter_ad_accounts())
    assert [connector.normalize_ad_account(r) for r in page.items] == [
        {"external_id": ADV, "name": "Shop RO TikTok", "currency": "RON", "timezone": "Europe/Bucharest",
         "is_active": True}]
    assert json.loads(sent_query(responses.calls[0])["advertiser_ids"]) == [ADV]


@responses.activate
def test_campaigns_page_by_page_number_until_total_page(connector):
    info()
    replay("GET", f"{API}/campaign/get/", "campaigns__page1", match=[matchers.query_param_matcher(
        {"advertiser_id": ADV, "page": "1", "page_size": "100",
         "fields": json.dumps(tiktok_client.CAMPAIGN_FIELDS)})])
    replay("GET", f"{API}/campaign/get/", "campaigns__page2", match=[matchers.query_param_matcher(
        {"advertiser_id": ADV, "page": "2", "page_size": "100",
         "fields": json.dumps(tiktok_client.CAMPAIGN_FIELDS)})])
    pages = list(connector.iter_campaigns())
    assert [p.next_cursor for p in pages] == [json.dumps({"account": ADV, "page": 2}), None]
    records = [connector.normalize_campaign(r) for p in pages for r in p.items]
    assert records[0] == {
        "external_id": CAMPAIGN, "account_external_id": ADV, "name": "Black Friday", "status": "active",
        "effective_status": "CAMPAIGN_STATUS_ENABLE", "objective": "WEB_CONVERSIONS",
        "daily_budget": Decimal("50.00"), "lifetime_budget": None, "currency": "RON",
        "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC)}
    assert (records[1]["status"], records[1]["daily_budget"], records[1]["lifetime_budget"]) == (
        "paused", None, Decimal("3000.00"))
    assert (records[2]["daily_budget"], records[2]["lifetime_budget"]) == (None, None)


@responses.activate
def test_ad_groups_are_normalized_under_their_campaign(connector):
    info()
    replay("GET", f"{API}/adgroup/get/", "ad_groups__page1")
    [page] = list(connector.iter_ad_sets())
    assert [connector.normalize_ad_set(r) for r in page.items] == [
        {"external_id": "1810000000000000001", "campaign_external_id": CAMPAIGN, "name": "RO 18-34",
         "status": "active", "effective_status": "ADGROUP_STATUS_DELIVERY_OK", "optimization_goal": "CONVERT",
         "daily_budget": Decimal("20.50"), "lifetime_budget": None,
         "updated_at": datetime(2026, 11, 20, 10, 5, tzinfo=UTC)}]


@responses.activate
def test_the_integrated_report_by_campaign_and_day_in_30_day_windows(connector, integration):
    info()
    replay("GET", f"{API}/report/integrated/get/", "report__page1")
    replay("GET", f"{API}/report/integrated/get/", "report__page1")
    since = datetime.combine(date.today() - timedelta(days=44), datetime.min.time(), tzinfo=UTC)
    pages = list(connector.iter_ad_metrics(since=since))
    reports = [sent_query(c) for c in responses.calls if "/report/" in c.request.url]
    assert [(q["start_date"], q["end_date"]) for q in reports] == [
        ((date.today() - timedelta(days=44)).isoformat(), (date.today() - timedelta(days=15)).isoformat()),
        ((date.today() - timedelta(days=14)).isoformat(), date.today().isoformat())]
    assert (reports[0]["data_level"], json.loads(reports[0]["dimensions"])) == (
        "AUCTION_CAMPAIGN", ["campaign_id", "stat_time_day"])
    assert pages[-1].next_cursor is None
    assert connector.normalize_ad_metrics_day(pages[0].items[0]) == {
        "campaign_external_id": CAMPAIGN, "date": date(2026, 11, 19), "spend": Decimal("45.67"),
        "impressions": 23000, "clicks": 310, "conversions": Decimal("6"), "conversion_value": Decimal("159.85"),
        "currency": "RON"}


# ---------------------------------------------------------------------- pushes
@responses.activate
def test_a_pause_is_operation_status_disable_then_read_back(connector):
    info()
    replay("POST", f"{API}/campaign/status/update/", "update__ok", match=[matchers.json_params_matcher(
        {"advertiser_id": ADV, "campaign_ids": [CAMPAIGN], "operation_status": "DISABLE"})])
    replay("GET", f"{API}/campaign/get/", "campaigns__one_disabled")
    after = connector.set_campaign_status(CAMPAIGN, status="paused", account_id=ADV)
    assert (after["status"], after["updated_at"]) == ("paused", datetime(2026, 11, 21, 9, tzinfo=UTC))
    read_back = next(c for c in responses.calls if "/campaign/get/" in c.request.url)
    assert json.loads(sent_query(read_back)["filtering"]) == {"campaign_ids": [CAMPAIGN]}


@responses.activate
def test_a_daily_budget_is_sent_in_major_units(connector):
    info()
    replay("GET", f"{API}/campaign/get/", "campaigns__one")
    replay("POST", f"{API}/campaign/update/", "update__ok", match=[matchers.json_params_matcher(
        {"advertiser_id": ADV, "campaign_id": CAMPAIGN, "budget": "80.00"})])
    replay("GET", f"{API}/campaign/get/", "campaigns__one_budget")
    after = connector.set_campaign_budget(CAMPAIGN, daily_budget=Decimal("80"), account_id=ADV)
    assert after["daily_budget"] == Decimal("80.00")


@responses.activate
def test_a_refused_budget_and_a_lifetime_budget_on_a_daily_campaign_say_why(connector):
    replay("GET", f"{API}/campaign/get/", "campaigns__one")
    replay("POST", f"{API}/campaign/update/", "update__budget_too_low")
    with pytest.raises(ProviderError) as refused:
        connector.set_campaign_budget(CAMPAIGN, daily_budget=Decimal("5"), account_id=ADV)
    assert refused.value.provider_message == "The budget must be at least 50.00 RON per day."
    replay("GET", f"{API}/campaign/get/", "campaigns__one")
    with pytest.raises(ProviderError, match="not a lifetime budget"):
        connector.set_campaign_budget(CAMPAIGN, lifetime_budget=Decimal("500"), account_id=ADV)


# ---------------------------------------------------------------------- the envelope
@responses.activate
def test_code_40100_is_a_throttle_waited_on_then_retried(connector, sleeps):
    replay("GET", f"{API}/advertiser/info/", "throttled")
    info()
    [page] = list(connector.iter_ad_accounts())
    assert len(page.items) == 1 and len(sleeps) == 1 and len(responses.calls) == 2


@responses.activate
def test_code_40105_is_a_refused_token_that_puts_the_integration_in_error(connector, integration):
    replay("GET", f"{API}/advertiser/info/", "token_refused")
    with pytest.raises(AuthExpired):
        list(connector.iter_ad_accounts())
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR and "40105" in integration.last_error
