"""Disconnect (POST …/disconnect/ and DELETE): revoke where the provider can, wipe the tokens, tell subscribers."""

from __future__ import annotations

import pytest

from connectors import http, registry
from integrations.models import Integration, OAuthState
from tests.connectors.http_fakes import FakeKeyShopConnector
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import CLIENT_ID, CLIENT_SECRET, published, running_oauth_server, subscribe_all


@pytest.fixture
def server(settings, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    server = running_oauth_server()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def connected(org, server):
    subscribe_all(org)
    tokens = server.issue()
    return IntegrationFactory(organization=org, provider="oauth2_generic", type="api", config=server.config(),
                              credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                              access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                              scope=["read"], token_type="Bearer")


def test_disconnect_revokes_wipes_and_publishes(admin_api, org, server, connected):
    answer = admin_api.post(f"/api/integrations/{connected.pk}/disconnect/")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["revoked"] is True and answer.json()["integration"]["status"] == "pending_auth"
    assert server.revoked == [{"token": connected.refresh_token, "token_type_hint": "refresh_token",
                               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}]
    row = Integration.objects.get(pk=connected.pk)
    assert (row.access_token, row.refresh_token, row.scope, row.expires_at) == ("", "", [], None)
    assert row.credentials["client_id"] == CLIENT_ID  # the app's credentials stay: reconnecting needs them
    [event] = published(org, "integration.disconnected")
    assert event["integration"]["id"] == connected.pk and event["reason"] == "user" and event["revoked"] is True


def test_a_failed_revoke_still_wipes_the_tokens(admin_api, org, server, connected, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    server.fail_revoke_with = 503

    answer = admin_api.post(f"/api/integrations/{connected.pk}/disconnect/")

    assert answer.status_code == 200 and answer.json()["revoked"] is False
    row = Integration.objects.get(pk=connected.pk)
    assert row.access_token == row.refresh_token == ""
    assert "Revoking at the provider failed" in row.last_error and connected.refresh_token not in row.last_error
    assert published(org, "integration.disconnected")[0]["revoked"] is False


def test_a_provider_without_a_revoke_endpoint_is_disconnected_locally(admin_api, org, server, connected):
    Integration.objects.filter(pk=connected.pk).update(config={**connected.config, "revoke_url": ""})
    answer = admin_api.post(f"/api/integrations/{connected.pk}/disconnect/")
    assert answer.json()["revoked"] is False and server.revoked == []
    assert Integration.objects.get(pk=connected.pk).access_token == ""


def test_delete_disconnects_first(admin_api, org, server, connected):
    OAuthState.objects.create(state="s" * 43, provider="oauth2_generic", organization=org, integration=connected,
                              redirect_uri="https://app.example.com/x", expires_at=connected.created_at)

    assert admin_api.delete(f"/api/integrations/{connected.pk}/").status_code == 204

    assert len(server.revoked) == 1
    assert not Integration.objects.filter(pk=connected.pk).exists() and not OAuthState.objects.exists()
    [event] = published(org, "integration.disconnected")
    assert event["reason"] == "deleted"


def test_deleting_an_api_key_integration_sends_nothing(admin_api, org):
    registry.register(FakeKeyShopConnector)
    try:
        keyed = IntegrationFactory(organization=org, provider="fake-key-shop", api_key="k" * 10)
        subscribe_all(org)
        assert admin_api.delete(f"/api/integrations/{keyed.pk}/").status_code == 204
        answer = admin_api.post(f"/api/integrations/{IntegrationFactory(organization=org, provider='fake-key-shop').pk}"
                                "/disconnect/")
    finally:
        registry.unregister("fake-key-shop")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert published(org, "integration.disconnected") == []


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_disconnect(api_client_for, org, connected, server, role):
    assert api_client_for(org, role).post(f"/api/integrations/{connected.pk}/disconnect/").status_code == 403
    assert Integration.objects.get(pk=connected.pk).access_token == connected.access_token
    assert server.revoked == []


def test_another_organizations_integration_is_not_found(api_client_for, other_org, connected, server):
    answer = api_client_for(other_org, "admin").post(f"/api/integrations/{connected.pk}/disconnect/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert server.revoked == []
