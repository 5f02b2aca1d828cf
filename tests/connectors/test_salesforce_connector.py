"""The Salesforce connector against recorded answers (tests/fixtures/salesforce/): the web server flow keeping
`instance_url`, refresh on INVALID_SESSION_ID, a refused refresh → pending_auth, SOQL paged by `nextRecordsUrl`,
Contact/Lead upsert by external id (exact paths and bodies; 201/200/300), the API version from its one setting."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote

import pytest
import responses

from commerce.models import Order
from connectors.errors import ProviderError, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from syncjobs.audiences import audience_push, audiences_refresh
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("salesforce")
LOGIN = "https://login.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v67.0"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrkcnsyvbpmcTQazUm3ABzJ0gpUJV2AWfjGwhpxAm3NvmbW4gG"
NEW_SESSION = "00D5e000000HZ3x!AQ0AQNewSessionTokenAfterRefresh0000000000000000000000000000000000"


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"salesforce": {"CLIENT_ID": "3MVG9-sf-client", "CLIENT_SECRET": "sf-secret"}}
    yield IntegrationFactory(provider="salesforce", type="crm", code="salesforce", access_token="00D5e!old-session",
                             refresh_token=REFRESH, config={"instance_url": INSTANCE})
    close_sessions()


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# ---------------------------------------------------------------- connect and refresh


def test_the_authorize_url_asks_for_a_refresh_token_with_consent(integration, connector, settings):
    settings.PROVIDER_SETTINGS["salesforce"]["LOGIN_URL"] = "https://test.salesforce.com"
    url = connector.authorize_url(state="s1", redirect_uri="https://sy.example/cb/",
                                  scopes=connector.oauth_meta().default_scopes)
    assert url.startswith("https://test.salesforce.com/services/oauth2/authorize?")
    query = parse_qs(url.split("?", 1)[1])
    assert query["response_type"] == ["code"] and query["prompt"] == ["consent"]
    assert query["scope"] == ["api refresh_token"] and query["client_id"] == ["3MVG9-sf-client"]


@responses.activate
def test_code_exchange_keeps_the_instance_url(integration, connector):
    integration.config = {}
    recorded.replay("POST", TOKEN_URL, "oauth_token__ok")
    tokens = connector.exchange_code("aPrx-code", redirect_uri="https://sy.example/cb/")
    assert form(responses.calls[0]) == {"grant_type": "authorization_code", "code": "aPrx-code",
                                        "redirect_uri": "https://sy.example/cb/", "client_id": "3MVG9-sf-client",
                                        "client_secret": "sf-secret"}
    assert tokens.refresh_token == REFRESH and tokens.expires_at is None  # Salesforce does not say
    integration.refresh_from_db()
    assert integration.config["instance_url"] == INSTANCE
    assert integration.config["identity_url"].endswith("/id/00D5e000000HZ3xEAG/0055e000004Xyz1AAC")
    assert connector.resolved_base_url() == INSTANCE


def test_without_an_instance_no_call_is_made(integration, connector):
    integration.config = {}
    with pytest.raises(Exception, match="instance is unknown"):
        connector.resolved_base_url()


@responses.activate
def test_invalid_session_is_refreshed_and_the_query_retried(integration, connector):
    recorded.replay("GET", f"{DATA}/query", "query__invalid_session")
    recorded.replay("POST", TOKEN_URL, "oauth_token__refreshed")
    recorded.replay("GET", f"{DATA}/query", "query__count")
    assert connector.query("SELECT COUNT() FROM Contact") == []
    assert form(responses.calls[1]) == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                                        "client_id": "3MVG9-sf-client", "client_secret": "sf-secret"}
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {NEW_SESSION}"
    integration.refresh_from_db()
    assert integration.access_token == NEW_SESSION and integration.refresh_token == REFRESH  # not rotated
    assert integration.status == IntegrationStatus.ACTIVE


@responses.activate
def test_a_refused_refresh_after_invalid_session_needs_reauth(integration, connector):
    recorded.replay("GET", f"{DATA}/query", "query__invalid_session")
    recorded.replay("POST", TOKEN_URL, "oauth_token__invalid_grant")
    with pytest.raises(RefreshFailed):
        connector.query("SELECT Id FROM Contact")
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "expired access/refresh token" in integration.last_error


@responses.activate
def test_invalid_session_with_nothing_to_refresh_needs_reauth(integration, connector):
    integration.refresh_token = ""
    integration.save()
    recorded.replay("GET", f"{DATA}/query", "query__invalid_session")
    with pytest.raises(RefreshFailed):
        connector.query("SELECT Id FROM Contact")
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "no refresh token" in integration.last_error


@responses.activate
def test_a_session_refused_even_after_a_refresh_puts_the_integration_in_error(integration, connector):
    recorded.replay("GET", f"{DATA}/query", "query__invalid_session")
    recorded.replay("POST", TOKEN_URL, "oauth_token__refreshed")
    recorded.replay("GET", f"{DATA}/query", "query__invalid_session")
    with pytest.raises(ProviderError):
        connector.query("SELECT Id FROM Contact")
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert "INVALID_SESSION_ID" in integration.last_error or "Session expired" in integration.last_error


# ---------------------------------------------------------------- query


@responses.activate
def test_query_follows_next_records_url_until_done(integration, connector):
    recorded.replay("GET", f"{DATA}/query", "query__page1")
    recorded.replay("GET", f"{DATA}/query/01gD0000002HU6KIAW-2000", "query__page2")
    records = connector.query("SELECT Id, Email FROM Contact")
    assert [r["Email"] for r in records] == ["ana@example.com", "ion@example.com", "mara@example.com"]
    assert sent_query(responses.calls[0]) == {"q": "SELECT Id, Email FROM Contact"}
    assert len(responses.calls) == 2


@responses.activate
def test_the_api_version_is_one_setting(integration, connector, settings):
    settings.PROVIDER_SETTINGS["salesforce"]["API_VERSION"] = "v68.0"
    recorded.replay("GET", f"{INSTANCE}/services/data/v68.0/query", "query__count")
    connector.query("SELECT COUNT() FROM Lead")
    assert responses.calls[0].request.url.startswith(f"{INSTANCE}/services/data/v68.0/query?")


# ---------------------------------------------------------------- upsert by external id


@responses.activate
def test_upsert_creates_then_updates_by_the_external_id(integration, connector):
    path = f"{DATA}/sobjects/Contact/Switchyard_Email__c/ana%40example.com"
    recorded.replay("PATCH", path, "upsert__created")
    recorded.replay("PATCH", path, "upsert__updated")
    fields = {"Email": "ana@example.com", "FirstName": "Ana", "LastName": "Pop"}
    assert connector.upsert("Contact", "ana@example.com", fields) == {"id": "003D000000QV9n5IAD", "created": True}
    assert connector.upsert("Contact", "ana@example.com", fields) == {"id": "003D000000QV9n2IAD", "created": False}
    assert [sent_json(c) for c in responses.calls] == [fields, fields]
    assert unquote(responses.calls[0].request.path_url).endswith("/Switchyard_Email__c/ana@example.com")


@responses.activate
def test_several_matches_are_refused_and_nothing_is_written(integration, connector):
    recorded.replay("PATCH", f"{DATA}/sobjects/Contact/Switchyard_Email__c/ana%40example.com", "upsert__multiple")
    with pytest.raises(ProviderError, match="none was changed") as caught:
        connector.upsert("Contact", "ana@example.com", {"LastName": "Pop"})
    assert caught.value.status_code == 300 and not caught.value.transient


def order(integration, number: str, email: str, consent: bool | None, day: int, name: str = "") -> Order:
    return Order.objects.create(organization=integration.organization, external_number=number, currency="RON",
                                customer_email=email, customer_name=name, customer_accepts_marketing=consent,
                                placed_at=datetime(2026, 5, day, tzinfo=UTC))


@responses.activate
def test_the_push_upserts_consenting_customers_as_leads_with_a_company(integration):
    integration.config = {**integration.config, "list_id": "Lead", "external_id_field": "Shop_Email__c"}
    integration.save()
    order(integration, "1", "Ana@Example.com", True, 1, "Ana Pop")
    order(integration, "2", "dan@example.com", False, 1, "Dan")
    recorded.replay("PATCH", f"{DATA}/sobjects/Lead/Shop_Email__c/ana%40example.com", "upsert__created")
    assert audience_push(integration=integration) == {"upserted": 1, "failed": 0}
    assert sent_json(responses.calls[0]) == {"Email": "ana@example.com", "FirstName": "Ana", "LastName": "Pop",
                                             "Company": "[not provided]"}


@responses.activate
def test_contacts_by_default_a_refused_one_counted_and_a_missing_field_stops_the_push(integration):
    order(integration, "1", "not-an-email", True, 1, "X")
    order(integration, "2", "zed@example.com", True, 1, "Zed")
    recorded.replay("PATCH", f"{DATA}/sobjects/Contact/Switchyard_Email__c/not-an-email", "upsert__invalid_email")
    recorded.replay("PATCH", f"{DATA}/sobjects/Contact/Switchyard_Email__c/zed%40example.com", "upsert__created")
    assert audience_push(integration=integration) == {"upserted": 1, "failed": 1}
    assert sent_json(responses.calls[1]) == {"Email": "zed@example.com", "FirstName": "Zed", "LastName": "Zed"}
    responses.reset()
    recorded.replay("PATCH", f"{DATA}/sobjects/Contact/Switchyard_Email__c/not-an-email", "upsert__bad_field")
    with pytest.raises(ProviderError, match="external ID field does not exist"):
        audience_push(integration=integration, full=True)


@responses.activate
def test_the_audiences_are_contact_and_lead_with_counts(integration):
    recorded.replay("GET", f"{DATA}/query", "query__count")
    recorded.replay("GET", f"{DATA}/query", "query__count")
    assert [(a["id"], a["member_count"]) for a in audiences_refresh(integration=integration)] == [
        ("Contact", 412), ("Lead", 412)]
    assert [sent_query(c)["q"] for c in responses.calls] == ["SELECT COUNT() FROM Contact", "SELECT COUNT() FROM Lead"]


@responses.activate
def test_connection_test_reads_the_limits(integration, connector):
    recorded.replay("GET", f"{DATA}/limits", "limits__ok")
    result = connector.test_connection()
    assert result.ok and "api-usage=20/15000" in result.detail
