"""Amazon SP-API auth: Login with Amazon tokens, the Seller Central consent, and integrations made by operators.

Fixtures from tests/fixtures/amazon_sp/, one test per fixture (the pulls and pushes are in
test_amazon_sp_connector.py). No network: tests/conftest.py refuses every connection but loopback.
"""

from __future__ import annotations

import html
import json
import socket
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from config.errors import OAuthFailed, ValidationError
from connectors import http, outbound, registry
from connectors.amazon_sp import client as amazon_client
from connectors.amazon_sp.connector import AmazonSPConnector
from connectors.errors import AuthExpired, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import Integration, IntegrationStatus
from integrations.services import integration_test_connection
from tests.connectors.amazon_sp_support import BASE, FBA, US, fixture, replay
from tests.factories import IntegrationFactory, UserFactory

TOKEN_URL = "https://api.amazon.com/auth/o2/token"
SELLERS = f"{BASE}/sellers/v1/marketplaceParticipations"
CREDENTIALS = {"client_id": "amzn1.application-oa2-client.0001", "client_secret": "amzn1.oa2-cs.v1.secret",
               "application_id": "amzn1.sp.solution.0001"}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    monkeypatch.setattr(amazon_client, "OPERATION_LIMITS", {})
    yield
    close_sessions()


def make(**overrides) -> Integration:
    fields = {"provider": "amazon_sp", "status": IntegrationStatus.ACTIVE, "credentials": dict(CREDENTIALS),
              "access_token": "Atza|IwEBIold0001", "refresh_token": "Atzr|IwEBIrefresh0001",
              "expires_at": timezone.now() + timedelta(minutes=50),
              "config": {"marketplace_ids": [US], "seller_id": "A2SELLER0001"}, **overrides}
    return IntegrationFactory(**fields)


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# ---------------------------------------------------------------------- tokens
@responses.activate
def test_errors__403_expired_token_refreshes_once_and_retries(db, public_dns):
    integration = make()
    replay("GET", SELLERS, "errors__403_expired_token")
    refresh = replay("POST", TOKEN_URL, "oauth__refresh")
    replay("GET", SELLERS, "sellers__participations")

    result = registry.connector_for(integration).test_connection()

    assert result.ok and result.detail == "Connected to Amazon (US)."
    assert form(refresh.calls[0]) == {"grant_type": "refresh_token", "refresh_token": "Atzr|IwEBIrefresh0001",
                                      "client_id": CREDENTIALS["client_id"],
                                      "client_secret": CREDENTIALS["client_secret"]}
    assert responses.calls[2].request.headers["x-amz-access-token"] == "Atza|IwEBIrefreshed0003"
    integration.refresh_from_db()
    assert integration.access_token == "Atza|IwEBIrefreshed0003"
    assert integration.refresh_token == "Atzr|IwEBIrefresh0001"  # not rotated
    assert timedelta(minutes=59) < integration.expires_at - timezone.now() <= timedelta(hours=1)


@responses.activate
def test_oauth__refresh_ahead_of_expiry_is_cached_for_the_next_calls(db, public_dns):
    """An access token expiring within a minute is refreshed before the call; the new one serves the next calls."""
    integration = make(expires_at=timezone.now() + timedelta(seconds=30))
    refresh = replay("POST", TOKEN_URL, "oauth__refresh")
    replay("GET", SELLERS, "sellers__participations")
    replay("GET", SELLERS, "sellers__participations")
    connector = registry.connector_for(integration)
    assert connector.test_connection().ok and connector.test_connection().ok
    assert len(refresh.calls) == 1
    assert [c.request.headers["x-amz-access-token"] for c in responses.calls[1:]] == ["Atza|IwEBIrefreshed0003"] * 2


@responses.activate
def test_a_self_authorized_app_with_only_a_refresh_token_gets_an_access_token_first(db, public_dns):
    integration = make(access_token="", expires_at=None)
    replay("POST", TOKEN_URL, "oauth__refresh")
    replay("GET", SELLERS, "sellers__participations")
    assert registry.connector_for(integration).test_connection().ok
    assert [c.request.url for c in responses.calls] == [TOKEN_URL, SELLERS]


@responses.activate
def test_errors__401_after_a_refresh_marks_the_integration_in_error(db, public_dns):
    integration = make()
    replay("GET", FBA, "errors__401")
    replay("POST", TOKEN_URL, "oauth__refresh")
    replay("GET", FBA, "errors__401")
    with pytest.raises(AuthExpired) as caught:
        list(registry.connector_for(integration).iter_inventory())
    assert caught.value.status_code == 401 and not caught.value.transient
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert integration.last_error == ("Amazon refused the access token even after a refresh (Access to requested "
                                      "resource is denied.); the seller may have revoked the app or its roles: "
                                      "authorize it again.")


@responses.activate
def test_oauth__invalid_grant_sends_the_integration_to_pending_auth(db, public_dns):
    integration = make()
    replay("GET", f"{BASE}/orders/2026-01-01/orders/111-0000006-0000006", "errors__403_expired_token")
    replay("POST", TOKEN_URL, "oauth__invalid_grant")
    with pytest.raises(RefreshFailed) as caught:
        registry.connector_for(integration).push_fulfillment({"order_id": "111-0000006-0000006",
                                                               "tracking_number": "1Z1"})
    assert not caught.value.transient
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH
    assert "invalid grant parameter : refresh_token" in integration.last_error
    assert "Atzr|IwEBIrefresh0001" not in integration.last_error


@responses.activate
def test_sellers__participations_names_a_marketplace_the_seller_does_not_sell_on(db, public_dns):
    integration = make(config={"marketplace_ids": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"], "seller_id": "A2SELLER0001"})
    replay("GET", SELLERS, "sellers__participations")
    connector = registry.connector_for(integration)
    result = connector.test_connection()
    assert not result.ok and result.detail == "Connected, but the seller does not sell on A2EUQ1WTGCTBG2."
    replay("GET", SELLERS, "sellers__participations")
    assert connector.account_display_name() == "Acme Goods US"


# ---------------------------------------------------------------------- Seller Central consent
def test_the_consent_page_is_the_marketplaces_seller_central(db):
    draft = Integration(provider="amazon_sp", credentials=dict(CREDENTIALS))
    connector = AmazonSPConnector(draft)
    fields = connector.oauth_connect_fields(shop="A1PA6795UKMFR9")
    assert fields == {"config": {"marketplace_ids": ["A1PA6795UKMFR9"]}}
    draft.config = fields["config"]
    url = connector.authorize_url(state="s7ate", redirect_uri="https://hub.example.com/cb", scopes=[])
    assert url == ("https://sellercentral-europe.amazon.com/apps/authorize/consent?application_id=amzn1.sp.solution."
                   "0001&state=s7ate&redirect_uri=https%3A%2F%2Fhub.example.com%2Fcb")
    draft.config = {**draft.config, "draft_app": True}
    assert connector.authorize_url(state="s", redirect_uri="https://h/cb", scopes=[]).endswith("&version=beta")
    with pytest.raises(ValidationError, match="marketplace ids"):
        AmazonSPConnector(Integration(provider="amazon_sp")).oauth_connect_fields()


@responses.activate
def test_oauth__token_exchange_records_the_seller(db, public_dns):
    integration = make(access_token="", refresh_token="", expires_at=None, config={"marketplace_ids": [US]})
    exchange = replay("POST", TOKEN_URL, "oauth__token")
    connector = registry.connector_for(integration)
    query = {"state": "s7ate", "selling_partner_id": "A2SELLER0001", "spapi_oauth_code": "ANDGXVrbJZHkW"}

    connector.validate_callback(query)
    assert connector.callback_code(query) == "ANDGXVrbJZHkW"
    tokens = connector.exchange_code("ANDGXVrbJZHkW", redirect_uri="https://hub.example.com/cb")

    assert form(exchange.calls[0]) == {"grant_type": "authorization_code", "code": "ANDGXVrbJZHkW",
                                       "redirect_uri": "https://hub.example.com/cb",
                                       "client_id": CREDENTIALS["client_id"],
                                       "client_secret": CREDENTIALS["client_secret"]}
    assert (tokens.access_token, tokens.refresh_token) == ("Atza|IwEBIexchanged0001", "Atzr|IwEBIrefresh0002")
    integration.refresh_from_db()
    assert integration.config == {"marketplace_ids": [US], "seller_id": "A2SELLER0001"}
    with pytest.raises(OAuthFailed, match="another seller"):
        registry.connector_for(integration).validate_callback({**query, "selling_partner_id": "A9OTHER"})


# ---------------------------------------------------------------------- made by an operator, tested offline
@pytest.fixture
def no_dns(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fail)


def test_created_through_the_api_and_tested_offline(admin_api, no_dns):
    response = admin_api.post("/api/integrations/", {
        "name": "Amazon US", "code": "amazon-us", "provider": "amazon_sp",
        "config": {"marketplace_ids": [US], "seller_id": "A2SELLER0001"}, "credentials": CREDENTIALS,
        "access_token": "Atza|IwEBIapi0001", "refresh_token": "Atzr|IwEBIapi0002",
        "expires_at": (timezone.now() + timedelta(minutes=50)).isoformat(),
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "ecommerce"

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.status_code == 200 and tested.json()["ok"] is False
    assert tested.json()["detail"] == ("Could not reach Amazon SP-API: VALIDATION_ERROR: Host "
                                       "'sellingpartnerapi-na.amazon.com' does not resolve.")


def test_created_from_the_admin_and_tested_there(client, org, no_dns):
    from accounts.models import Membership

    user = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(user=user, organization=org, role="admin")
    client.force_login(user)
    form_data = {"organization": org.pk, "name": "Amazon DE", "code": "amazon-de", "type": "ecommerce",
                 "provider": "amazon_sp", "status": "active", "metadata": "{}", "scope": "[]",
                 "config": json.dumps({"marketplace_ids": ["A1PA6795UKMFR9"], "seller_id": "A2SELLER0001"}),
                 "sync_interval_minutes": 0, "description": "", "api_endpoint": "", "token_type": ""}
    response = client.post("/admin/integrations/integration/add/", form_data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    integration = Integration.objects.get(code="amazon-de")

    response = client.post("/admin/integrations/integration/", {
        "action": "test_connection", "_selected_action": [integration.pk]}, follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.last_error == ("Could not reach Amazon SP-API: VALIDATION_ERROR: Host "
                                      "'sellingpartnerapi-eu.amazon.com' does not resolve.")
    assert html.escape(integration.last_error) in response.content.decode()


def test_a_host_that_resolves_but_cannot_be_reached_is_a_readable_failure(db, public_dns):
    integration = make(access_token="Atza|IwEBIsecret0009")
    result = integration_test_connection(integration=integration)
    assert not result.ok
    assert result.detail.startswith("Could not reach Amazon SP-API: PROVIDER_ERROR: Amazon Selling Partner API "
                                    "could not be reached: ")
    assert "Traceback" not in result.detail and "Atza|IwEBIsecret0009" not in result.detail
    assert Integration.objects.get(pk=integration.pk).last_error == result.detail


def test_without_marketplaces_the_test_says_what_to_set(db):
    result = integration_test_connection(integration=make(config={}))
    assert not result.ok and "marketplace ids in config['marketplace_ids']" in result.detail
    assert fixture("oauth__token")["body"]["token_type"] == "bearer"
