"""An eBay integration as an operator makes one: created from the API or the admin, tested with no network.

No network here (tests/conftest.py): the connection test must end in a readable message on the integration,
never a traceback or a 500.
"""

from __future__ import annotations

import html
import json
import socket

import pytest
import responses
from django.core.cache import cache
from django.test import Client

from connectors import http, outbound
from connectors.sessions import close_sessions
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors import ebay_support
from tests.connectors.ebay_support import IDENTITY_USER, raw, replay, signed
from tests.connectors.ebay_support import TOKEN_URL as TOKEN
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory, UserFactory
from tests.integrations.oauth_fakes import callback_path, outcome, published, subscribe_all
from webhooks.inbound.processing import webhook_process
from webhooks.inbound.services import webhook_receive

# The shared fixtures, re-bound (not imported by name, so nothing shadows an import).
private_key, ebay_keys = ebay_support.private_key, ebay_support.ebay_keys

UNRESOLVED = "Could not reach eBay: VALIDATION_ERROR: Host 'api.ebay.com' does not resolve."


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    yield
    close_sessions()


@pytest.fixture
def no_dns(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fail)


def test_listed_in_the_providers_api(admin_api):
    listed = {p["key"]: p for p in admin_api.get("/api/providers/").json()}
    assert listed["ebay"]["capabilities"] == ["fulfillments", "inventory", "orders", "products"]
    assert listed["ebay"]["auth_kind"] == "oauth2"


def test_created_through_the_api_and_tested_offline(admin_api, no_dns):
    response = admin_api.post("/api/integrations/", {
        "name": "eBay US", "code": "ebay-us", "provider": "ebay", "config": {"marketplace_id": "EBAY_US"},
        "access_token": "v^1.1#i^1#USER-TOKEN-0001", "refresh_token": "v^1.1#i^1#REFRESH-0001",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "ecommerce"

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.status_code == 200 and tested.json()["ok"] is False
    assert tested.json()["detail"] == UNRESOLVED


def test_created_from_the_admin_and_tested_there(client, org, no_dns):
    from accounts.models import Membership

    user = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(user=user, organization=org, role="admin")
    client.force_login(user)
    form = {"organization": org.pk, "name": "eBay DE", "code": "ebay-de", "type": "ecommerce",
            "provider": "ebay", "status": "active", "config": json.dumps({"marketplace_id": "EBAY_DE"}),
            "metadata": "{}", "scope": "[]", "sync_interval_minutes": 0, "description": "", "api_endpoint": "",
            "token_type": "", "is_test_mode": "on"}
    response = client.post("/admin/integrations/integration/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    integration = Integration.objects.get(code="ebay-de")

    response = client.post("/admin/integrations/integration/", {
        "action": "test_connection", "_selected_action": [integration.pk]}, follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.last_error == ("Could not reach eBay: VALIDATION_ERROR: Host 'api.sandbox.ebay.com' does "
                                      "not resolve.")
    assert html.escape(integration.last_error) in response.content.decode()


def test_a_host_that_resolves_but_cannot_be_reached_is_a_readable_failure(db, monkeypatch):
    fake_public_dns(monkeypatch)  # DNS answers; tests/conftest.py refuses the connection itself
    integration = IntegrationFactory(provider="ebay", access_token="v^1.1#i^1#SECRET-TOKEN-0001")

    result = integration_test_connection(integration=integration)

    assert not result.ok
    assert result.detail.startswith("Could not reach eBay: PROVIDER_ERROR: eBay could not be reached: ")
    assert "Traceback" not in result.detail and "SECRET-TOKEN-0001" not in result.detail
    assert Integration.objects.get(pk=integration.pk).last_error == result.detail


# ---------------------------------------------------------------------- connecting: who the seller is
REDIRECT = "https://app.example.com/oauth/done"


@pytest.fixture
def ebay_app(settings, monkeypatch, org, provider_settings):
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://app.example.com/oauth/"]
    provider_settings("ebay", CLIENT_ID="Acme-Switchy-PRD-1234", CLIENT_SECRET="PRD-cert-secret-5678",
                      RU_NAME="Acme_Inc-AcmeSwit-Switch-abcdefg")
    fake_public_dns(monkeypatch)
    cache.clear()
    subscribe_all(org)


def _connect(admin_api, **initiate) -> Integration:
    """Initiate, then eBay's redirect back with a code (the token and identity answers are the test's)."""
    answer = admin_api.post("/api/integrations/oauth/initiate/", {"provider": "ebay", "redirect_uri": REDIRECT,
                                                                  **initiate}, format="json")
    assert answer.status_code == 201, answer.json()
    result = outcome(Client().get(callback_path("ebay"), {"state": answer.json()["state"],
                                                          "code": "v^1.1#i^1#AUTH-CODE", "expires_in": "299"}))
    assert result["status"] == "success", result
    return Integration.objects.get(pk=result["integration_id"])


@responses.activate
def test_a_connect_records_the_seller_so_their_revocation_disconnects(admin_api, ebay_app, private_key,
                                                                      ebay_keys):
    """The seller renamed themselves since connecting: the revocation still names their immutable user id."""
    replay("POST", TOKEN, "oauth__token")
    replay("GET", IDENTITY_USER, "identity_user__get")

    integration = _connect(admin_api, name="eBay US")

    assert integration.status == "active" and integration.metadata["account_name"] == "acme_outlet"
    assert (integration.config["ebay_user_id"], integration.config["ebay_username"]) == ("nY9vBqKRvms",
                                                                                         "acme_outlet")
    [connected] = published(integration.organization, "integration.connected")
    assert connected["account_name"] == "acme_outlet"

    body = raw("notifications__authorization_revocation")
    receipt = webhook_receive(integrations=[integration], headers=signed(body, private_key), body=body)
    assert webhook_process(webhook_id=receipt.webhook.pk) == "completed"

    integration.refresh_from_db()
    assert (integration.status, integration.access_token, integration.refresh_token) == ("pending_auth", "", "")


@responses.activate
def test_a_reconnect_records_the_seller_now_connected(admin_api, ebay_app, org):
    """Reconnecting may authorize another eBay account: its identity replaces the old one; other config stays."""
    integration = IntegrationFactory(organization=org, provider="ebay", status="pending_auth",
                                     config={"marketplace_id": "EBAY_DE", "ebay_user_id": "old-user-id",
                                             "ebay_username": "old_seller"}, metadata={"account_name": "old_seller"})
    replay("POST", TOKEN, "oauth__token")
    replay("GET", IDENTITY_USER, "identity_user__get")

    assert _connect(admin_api, integration_id=integration.pk).pk == integration.pk

    integration.refresh_from_db()
    assert integration.status == "active" and integration.access_token == "v^1.1#i^1#FIRST-ACCESS-TOKEN-0001"
    assert integration.config == {"marketplace_id": "EBAY_DE", "ebay_user_id": "nY9vBqKRvms",
                                  "ebay_username": "acme_outlet"}
    assert integration.metadata["account_name"] == "acme_outlet"


@responses.activate
@pytest.mark.parametrize("answer", ["identity_user__403_insufficient_scope", "errors__500"])
def test_a_connect_whose_identity_cannot_be_fetched_still_connects(admin_api, ebay_app, answer):
    replay("POST", TOKEN, "oauth__token")
    for _ in range(5):  # a 5xx is retried before it gives up
        replay("GET", IDENTITY_USER, answer)

    integration = _connect(admin_api, name="eBay US")

    assert integration.status == "active" and integration.access_token == "v^1.1#i^1#FIRST-ACCESS-TOKEN-0001"
    assert "ebay_user_id" not in integration.config and "account_name" not in integration.metadata
    assert integration.last_error == ""
