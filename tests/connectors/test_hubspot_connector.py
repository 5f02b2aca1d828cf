"""The HubSpot connector against recorded answers (tests/fixtures/hubspot/): the OAuth exchange and its 30-minute
refresh, contacts searched and batch-upserted by email (exact bodies), campaigns paged, 429 with HubSpot's rate
headers, a refused refresh token → pending_auth, and the audience push of the customers who consented only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from commerce.models import Order
from connectors.errors import RateLimited, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from syncjobs.audiences import audience_push, audiences_refresh
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("hubspot")
API = "https://api.hubapi.com"
TOKEN_URL = f"{API}/oauth/v1/token"
SEARCH = f"{API}/crm/v3/objects/contacts/search"
UPSERT = f"{API}/crm/v3/objects/contacts/batch/upsert"
ACCESS = "CN2zlYnmLBICAQIYgZXFLyCWp1Yoy_9GMhkAgddk-zDc-H_rOad1X2s6Qv3fmG1spSY0"
REFRESHED = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"
REFRESH = "6f18f21e-a743-4509-b7fd-1a5e632fffa1"


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"hubspot": {"CLIENT_ID": "hs-client", "CLIENT_SECRET": "hs-secret"}}
    yield IntegrationFactory(provider="hubspot", type="crm", code="hubspot", access_token=ACCESS,
                             refresh_token=REFRESH, expires_at=timezone.now() + timedelta(minutes=25),
                             config={"hub_id": "62515", "time_zone": "Europe/Bucharest"})
    close_sessions()


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# ---------------------------------------------------------------- connect and refresh


@responses.activate
def test_code_exchange_then_the_portal_is_named(integration, connector):
    integration.config = {}
    recorded.replay("POST", TOKEN_URL, "oauth_token__ok")
    recorded.replay("GET", f"{API}/account-info/v3/details", "account_info__ok")
    tokens = connector.exchange_code("code-1", redirect_uri="https://sy.example/api/integrations/oauth/callback/hubspot/")
    assert form(responses.calls[0]) == {
        "grant_type": "authorization_code", "code": "code-1", "client_id": "hs-client", "client_secret": "hs-secret",
        "redirect_uri": "https://sy.example/api/integrations/oauth/callback/hubspot/"}
    assert tokens.access_token == ACCESS and tokens.refresh_token == REFRESH
    assert timedelta(minutes=29) < tokens.expires_at - timezone.now() <= timedelta(minutes=30)
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert ACCESS not in responses.calls[1].request.url  # the token never in a logged URL
    integration.refresh_from_db()
    assert integration.config == {"hub_id": "62515", "time_zone": "Europe/Bucharest"}
    assert connector.account_display_name() == "HubSpot portal 62515"


def test_the_authorize_url_asks_for_contacts_and_campaigns(integration, connector):
    url = connector.authorize_url(state="s1", redirect_uri="https://sy.example/cb/",
                                  scopes=connector.oauth.default_scopes)
    assert url.startswith("https://app.hubspot.com/oauth/authorize?")
    query = parse_qs(url.split("?", 1)[1])
    assert query["client_id"] == ["hs-client"] and query["state"] == ["s1"]
    assert query["scope"] == ["crm.objects.contacts.read crm.objects.contacts.write marketing.campaigns.read "
                              "marketing.campaigns.write"]


@responses.activate
def test_an_expired_token_is_refreshed_and_the_call_retried(integration, connector):
    recorded.replay("GET", f"{API}/crm/v3/objects/contacts", "contacts__expired_token")
    recorded.replay("POST", TOKEN_URL, "oauth_token__refreshed")
    recorded.replay("GET", f"{API}/crm/v3/objects/contacts", "contacts__ok")
    assert connector.test_connection().ok
    assert form(responses.calls[1]) == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                                        "client_id": "hs-client", "client_secret": "hs-secret"}
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {REFRESHED}"
    integration.refresh_from_db()
    assert integration.access_token == REFRESHED and integration.status == IntegrationStatus.ACTIVE


@responses.activate
def test_a_token_about_to_expire_is_refreshed_before_use(integration, connector):
    integration.expires_at = timezone.now() + timedelta(seconds=20)
    integration.save()
    recorded.replay("POST", TOKEN_URL, "oauth_token__refreshed")
    recorded.replay("POST", SEARCH, "contacts_search__none")
    assert connector.contact_find("nobody@example.com") is None
    assert [c.request.url for c in responses.calls] == [TOKEN_URL, SEARCH]
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {REFRESHED}"


@responses.activate
def test_a_refused_refresh_token_puts_the_integration_in_pending_auth(integration, connector):
    recorded.replay("GET", f"{API}/crm/v3/objects/contacts", "contacts__expired_token")
    recorded.replay("POST", TOKEN_URL, "oauth_token__bad_refresh")
    result = connector.test_connection()
    assert not result.ok and "refused the credentials" in result.detail
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "BAD_REFRESH_TOKEN" in integration.last_error or "refresh token" in integration.last_error


@responses.activate
def test_a_refused_refresh_raises_refresh_failed_for_a_caller(integration, connector):
    recorded.replay("POST", SEARCH, "contacts__expired_token")
    recorded.replay("POST", TOKEN_URL, "oauth_token__bad_refresh")
    with pytest.raises(RefreshFailed) as caught:
        connector.contact_find("ana@example.com")
    assert caught.value.transient is False


# ---------------------------------------------------------------- contacts


@responses.activate
def test_search_by_email__sends_the_exact_filter(integration, connector):
    recorded.replay("POST", SEARCH, "contacts_search__found")
    found = connector.contact_find(" Ana@Example.com ")
    assert found["id"] == "512" and found["properties"]["firstname"] == "Ana"
    assert sent_json(responses.calls[0]) == {
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "ana@example.com"}]}],
        "properties": ["email", "firstname", "lastname"], "limit": 1}


@responses.activate
def test_batch_upsert_by_email__exact_body(integration, connector):
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__ok")
    results = connector.contacts_upsert([{"email": "Ana@Example.com", "first_name": "Ana", "last_name": "Pop"},
                                         {"email": "ion@example.com", "first_name": "Ion", "last_name": "Ionescu"}])
    assert [(r["id"], r["new"]) for r in results] == [("512", False), ("513", True)]
    assert sent_json(responses.calls[0]) == {"inputs": [
        {"id": "ana@example.com", "idProperty": "email",
         "properties": {"email": "ana@example.com", "firstname": "Ana", "lastname": "Pop"}},
        {"id": "ion@example.com", "idProperty": "email",
         "properties": {"email": "ion@example.com", "firstname": "Ion", "lastname": "Ionescu"}}]}


@responses.activate
def test_more_than_a_hundred_contacts_go_in_batches_of_a_hundred(integration, connector):
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__ok")
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__ok")
    connector.contacts_upsert([{"email": f"c{i}@example.com"} for i in range(150)])
    assert [len(sent_json(c)["inputs"]) for c in responses.calls] == [100, 50]
    assert sent_json(responses.calls[1])["inputs"][0] == {
        "id": "c100@example.com", "idProperty": "email", "properties": {"email": "c100@example.com"}}


# ---------------------------------------------------------------- rate limits


@responses.activate
def test_429_waits_the_rest_of_hubspots_window_then_succeeds(integration, connector, sleeps):
    recorded.replay("POST", SEARCH, "contacts__ratelimited")
    recorded.replay("POST", SEARCH, "contacts_search__found")
    assert connector.contact_find("ana@example.com")["id"] == "512"
    assert sleeps == [10.0]


@responses.activate
def test_an_exhausted_daily_quota_is_rate_limited_without_sleeping(integration, connector, sleeps):
    recorded.replay("POST", SEARCH, "contacts__daily_limit")
    with pytest.raises(RateLimited) as caught:
        connector.contact_find("ana@example.com")
    assert sleeps == [] and caught.value.transient and caught.value.retry_after == 3600.0
    assert "daily limit" in caught.value.message


# ---------------------------------------------------------------- campaigns


CAMPAIGNS = f"{API}/marketing/v3/campaigns"
CAMPAIGN_QUERY = {"limit": "100", "properties": "hs_name,hs_campaign_status,hs_start_date,hs_end_date,hs_notes"}


@responses.activate
def test_campaigns__pages_follow_after_until_no_next(integration, connector):
    recorded.replay("GET", CAMPAIGNS, "campaigns__page1")
    recorded.replay("GET", CAMPAIGNS, "campaigns__page2")
    pages = list(connector.iter_marketing_campaigns())
    assert [p.next_cursor for p in pages] == ["MQ==", None]
    assert sent_query(responses.calls[0]) == CAMPAIGN_QUERY
    assert sent_query(responses.calls[1]) == {**CAMPAIGN_QUERY, "after": "MQ=="}
    spring, black_friday = (connector.normalize_marketing_campaign(r) for p in pages for r in p.items)
    assert spring == {"external_id": "0b1d7f80-3e1e-4a2c-9f61-22b6cbd1b9a1", "name": "Spring sale",
                      "status": "in_progress", "start_date": date(2026, 3, 1), "end_date": date(2026, 3, 31),
                      "notes": "Emails and posts for the spring range",
                      "created_at": datetime(2026, 3, 1, 8, tzinfo=UTC),
                      "updated_at": datetime(2026, 3, 2, 8, tzinfo=UTC)}
    assert (black_friday["name"], black_friday["end_date"], black_friday["notes"]) == ("Black Friday", None, "")


@responses.activate
def test_a_campaigns_page_resumes_from_its_after_cursor(integration, connector):
    recorded.replay("GET", CAMPAIGNS, "campaigns__page2")
    assert [len(p.items) for p in connector.iter_marketing_campaigns(cursor="MQ==")] == [1]
    assert sent_query(responses.calls[0]) == {**CAMPAIGN_QUERY, "after": "MQ=="}


@responses.activate
def test_creating_a_campaign_sends_only_the_properties_given(integration, connector):
    recorded.replay("POST", CAMPAIGNS, "campaign_create__ok")
    raw = connector.create_marketing_campaign(name="Winter drop", start_date=date(2026, 12, 10),
                                              end_date=date(2027, 1, 15), notes="Launch of the winter range")
    assert sent_json(responses.calls[0]) == {"properties": {
        "hs_name": "Winter drop", "hs_start_date": "2026-12-10", "hs_end_date": "2027-01-15",
        "hs_notes": "Launch of the winter range"}}
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert connector.normalize_marketing_campaign(raw)["external_id"] == "edb9b6c3-d2e2-4ca8-8396-832262aed0d4"
    responses.reset()
    recorded.replay("POST", CAMPAIGNS, "campaign_create__ok")
    connector.create_marketing_campaign(name="Just a name")
    assert sent_json(responses.calls[0]) == {"properties": {"hs_name": "Just a name"}}


# ---------------------------------------------------------------- the audience push: consent only


def order(integration, number: str, email: str, consent: bool | None, day: int, name: str = "") -> Order:
    return Order.objects.create(organization=integration.organization, external_number=number, currency="RON",
                                customer_email=email, customer_name=name, customer_accepts_marketing=consent,
                                placed_at=datetime(2026, 5, day, tzinfo=UTC))


@responses.activate
def test_the_push_upserts_only_customers_who_consented(integration):
    order(integration, "1", "Ana@Example.com", True, 1, "Ana Pop")
    order(integration, "2", "ion@example.com", True, 1, "Ion Ionescu")
    order(integration, "3", "mara@example.com", True, 1, "Mara")
    order(integration, "4", "mara@example.com", False, 2)  # withdrew on a later order
    order(integration, "5", "dan@example.com", None, 1, "Dan")  # never asked
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__ok")
    assert audience_push(integration=integration) == {"upserted": 2, "failed": 0}
    assert [i["id"] for i in sent_json(responses.calls[0])["inputs"]] == ["ana@example.com", "ion@example.com"]


@responses.activate
def test_a_batch_hubspot_refuses_is_counted_failed(integration):
    order(integration, "1", "not-an-email", True, 1)
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__invalid_email")
    assert audience_push(integration=integration) == {"upserted": 0, "failed": 1}


@responses.activate
def test_a_partial_batch_counts_the_refused_inputs_failed(integration):
    order(integration, "1", "ion@example.com", True, 1, "Ion")
    order(integration, "2", "not-an-email", True, 1)
    recorded.replay("POST", UPSERT, "contacts_batch_upsert__partial")
    assert audience_push(integration=integration) == {"upserted": 1, "failed": 1}


@responses.activate
def test_the_contacts_are_the_one_audience(integration):
    recorded.replay("POST", SEARCH, "contacts_search__count")
    assert audiences_refresh(integration=integration) == [
        {"id": "contacts", "name": "HubSpot contacts", "member_count": 1204}]
