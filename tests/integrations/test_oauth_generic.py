"""oauth2_generic: an unlisted RFC 6749 + RFC 7636 server connected with config and credentials alone."""

from __future__ import annotations

import pytest
from django.test import Client

from connectors import registry
from connectors.errors import ProviderError
from connectors.oauth2 import token_set
from integrations.models import Integration, IntegrationLog, OAuthState
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    callback_path,
    consent,
    outcome,
    running_oauth_server,
)


@pytest.fixture
def server(settings):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.OAUTH_ALLOWED_REDIRECT_URIS = [REDIRECT_URI]
    server = running_oauth_server()
    yield server
    server.shutdown()
    server.server_close()


def _integration(org, server, **config):
    return IntegrationFactory(organization=org, provider="oauth2_generic", type="api", status="pending_auth",
                              config=server.config(**config),
                              credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def _connect(api, integration) -> dict[str, str]:
    answer = api.post("/api/integrations/oauth/initiate/", {"provider": "oauth2_generic", "redirect_uri": REDIRECT_URI,
                                                            "integration_id": integration.pk}, format="json")
    assert answer.status_code == 201, answer.json()
    return outcome(Client().get(callback_path("oauth2_generic"), consent(answer.json()["authorization_url"])))


@pytest.mark.parametrize("token_auth", ["post", "basic"])
def test_a_generic_server_connects_with_pkce_and_refreshes(admin_api, org, server, token_auth):
    integration = _integration(org, server, token_auth=token_auth)

    assert _connect(admin_api, integration)["status"] == "success"

    row = Integration.objects.get(pk=integration.pk)
    assert row.status == "active" and row.access_token.startswith("at-") and row.refresh_token.startswith("rt-")
    assert row.scope == ["read", "write"] and row.token_type == "Bearer"
    assert row.metadata["account_name"] == "Ada Lovelace"  # from userinfo_url
    assert server.counts["code_grants"] == 1 and server.client_auth_seen == [token_auth]

    assert registry.connector_for(row).test_connection().ok
    answer = admin_api.post(f"/api/integrations/{row.pk}/refresh/")
    assert answer.status_code == 200 and answer.json()["refreshed"] is True
    assert server.counts["refresh_grants"] == 1
    assert Integration.objects.get(pk=row.pk).access_token != row.access_token


def test_a_wrong_pkce_verifier_is_refused_by_the_server_and_stores_nothing(admin_api, org, server):
    integration = _integration(org, server)
    answer = admin_api.post("/api/integrations/oauth/initiate/", {"provider": "oauth2_generic",
                            "redirect_uri": REDIRECT_URI, "integration_id": integration.pk}, format="json")
    query = consent(answer.json()["authorization_url"])
    OAuthState.objects.filter(state=query["state"]).update(code_verifier="")  # tampered: no verifier sent

    result = outcome(Client().get(callback_path("oauth2_generic"), query))

    assert result["status"] == "error" and "PKCE failed" in result["message"]
    assert Integration.objects.get(pk=integration.pk).access_token == ""
    assert OAuthState.objects.get(state=query["state"]).used_at is None


def test_a_server_down_at_the_exchange_is_oauth_failed(admin_api, org, server, settings, monkeypatch):
    from connectors import http

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.PROVIDER_MAX_RETRIES = 0
    integration = _integration(org, server)
    server.fail_token_with = 503

    result = _connect(admin_api, integration)

    assert result["status"] == "error" and result["code"] == "OAUTH_FAILED"
    assert Integration.objects.get(pk=integration.pk).status == "pending_auth"
    assert IntegrationLog.objects.filter(action="exchange_code", status_code=503).count() == 1


def test_token_answers_are_normalized():
    tokens = token_set({"access_token": "a", "expires_in": "60", "scope": "x y", "token_type": "bearer"})
    assert tokens.scope == ("x", "y") and tokens.token_type == "Bearer" and tokens.expires_at is not None
    assert token_set({"access_token": "a", "scope": "x,y"}, separator=",").scope == ("x", "y")
    with pytest.raises(ProviderError) as caught:
        token_set({"error": "invalid_request", "error_description": "nope"})  # a 200 that is an error
    assert "nope" in caught.value.message and not caught.value.transient
