"""POST /api/integrations/oauth/initiate/: the state it stores, and every input it refuses without storing one."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from connectors import registry
from integrations.models import Integration, OAuthState
from integrations.oauth import pkce
from integrations.oauth.redirects import callback_url
from tests.connectors.http_fakes import FakeKeyShopConnector
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import CLIENT_ID, CLIENT_SECRET

URL = "/api/integrations/oauth/initiate/"
REDIRECT = "https://app.example.com/oauth/done"
GENERIC_CONFIG = {"authorize_url": "https://id.example.com/authorize", "token_url": "https://id.example.com/token",
                  "scopes": "openid profile", "pkce": True}


@pytest.fixture(autouse=True)
def allowed(settings, provider_settings):
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://app.example.com/oauth/"]
    settings.PUBLIC_BASE_URL = "https://hub.example.com"
    provider_settings("sandbox", CLIENT_ID="sandbox-app-id", CLIENT_SECRET="sandbox-app-secret")


@pytest.fixture
def generic(org):
    return IntegrationFactory(organization=org, provider="oauth2_generic", type="api", status="pending_auth",
                              config=GENERIC_CONFIG, credentials={"client_id": CLIENT_ID,
                                                                  "client_secret": CLIENT_SECRET})


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _refused(response, code: str, field: str | None = None) -> dict:
    assert response.status_code in (400, 404), response.json()
    error = response.json()["error"]
    assert error["code"] == code, error
    if field:
        assert field in error["details"], error
    assert OAuthState.objects.count() == 0
    return error


def test_initiate_stores_a_single_use_state_and_answers_the_authorization_url(admin_api, org, generic):
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT,
                                  "integration_id": generic.pk}, format="json")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert set(body) == {"authorization_url", "state"}
    assert len(body["state"]) >= 43  # 256 random bits, URL-safe
    query = _query(body["authorization_url"])
    assert body["authorization_url"].startswith("https://id.example.com/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID and query["state"] == body["state"]
    assert query["redirect_uri"] == "https://hub.example.com/api/integrations/oauth/callback/oauth2_generic/"
    assert query["scope"] == "openid profile" and query["code_challenge_method"] == "S256"
    assert CLIENT_SECRET not in body["authorization_url"]

    state = OAuthState.objects.get()
    assert (state.state, state.provider, state.organization, state.integration) == (
        body["state"], "oauth2_generic", org, generic)
    assert state.redirect_uri == REDIRECT and state.used_at is None
    assert timedelta(minutes=9) < state.expires_at - timezone.now() <= timedelta(minutes=10)
    assert query["code_challenge"] == pkce.s256_challenge(state.code_verifier)
    assert 43 <= len(state.code_verifier) <= 128
    with connection.cursor() as cursor:
        cursor.execute("SELECT code_verifier FROM integrations_oauthstate WHERE id = %s", [state.pk])
        assert cursor.fetchone()[0].startswith("enc1:")


def test_the_state_ttl_is_configurable(settings, admin_api, generic):
    settings.OAUTH_STATE_TTL_MINUTES = 2
    admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT, "integration_id": generic.pk},
                   format="json")
    assert OAuthState.objects.get().expires_at - timezone.now() <= timedelta(minutes=2)


def test_a_provider_without_pkce_gets_no_challenge_and_stores_no_verifier(settings, admin_api):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    answer = admin_api.post(URL, {"provider": "sandbox", "redirect_uri": REDIRECT, "name": "New shop",
                                  "shop": "http://127.0.0.1:8765", "metadata": {"erp_id": 7}}, format="json")

    assert answer.status_code == 201, answer.json()
    query = _query(answer.json()["authorization_url"])
    assert "code_challenge" not in query and "response_type" not in query
    assert query["client_id"] == "sandbox-app-id" and "," in query["scope"]
    state = OAuthState.objects.get()
    assert state.code_verifier == "" and state.integration is None
    assert state.metadata["fields"] == {"api_endpoint": "http://127.0.0.1:8765"}
    assert state.metadata["client_metadata"] == {"erp_id": 7} and state.metadata["name"] == "New shop"
    assert Integration.objects.count() == 0


def test_the_organizations_own_redirect_uris_are_allowed(admin_api, org, generic):
    org.oauth_redirect_uris = ["https://erp.org-one.example/callbacks"]
    org.save()
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "integration_id": generic.pk,
                                  "redirect_uri": "https://erp.org-one.example/callbacks/oauth?x=1"}, format="json")
    assert answer.status_code == 201, answer.json()


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example.net/oauth/done",
    "https://app.example.com.evil.net/oauth/done",  # a string prefix, not the same host
    "https://app.example.com/oauthx",  # the prefix's path is not continued at a /
    "http://app.example.com/oauth/done",  # another scheme
    "https://app.example.com:8443/oauth/done",  # another port
    "https://app.example.com/oauth/done#fragment",
    "https://user@app.example.com/oauth/done",
])
def test_a_redirect_uri_not_allowed_is_a_validation_error(admin_api, generic, redirect_uri):
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": redirect_uri,
                                  "integration_id": generic.pk}, format="json")
    _refused(answer, "VALIDATION_ERROR", "redirect_uri")


def test_another_organizations_redirect_uris_do_not_count(admin_api, other_org, generic):
    other_org.oauth_redirect_uris = ["https://other.example/"]
    other_org.save()
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": "https://other.example/cb",
                                  "integration_id": generic.pk}, format="json")
    _refused(answer, "VALIDATION_ERROR", "redirect_uri")


def test_an_unknown_provider_is_invalid_provider(admin_api):
    _refused(admin_api.post(URL, {"provider": "nope", "redirect_uri": REDIRECT}, format="json"), "INVALID_PROVIDER")


def test_a_provider_that_is_not_oauth_is_refused(admin_api):
    registry.register(FakeKeyShopConnector)
    try:
        answer = admin_api.post(URL, {"provider": "fake-key-shop", "redirect_uri": REDIRECT}, format="json")
    finally:
        registry.unregister("fake-key-shop")
    _refused(answer, "VALIDATION_ERROR", "provider")


def test_another_organizations_integration_is_not_found(admin_api, other_org):
    theirs = IntegrationFactory(organization=other_org, provider="oauth2_generic", config=GENERIC_CONFIG)
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT,
                                  "integration_id": theirs.pk}, format="json")
    assert answer.status_code == 404
    _refused(answer, "INTEGRATION_NOT_FOUND")


def test_an_integration_of_another_provider_is_refused(admin_api, generic):
    answer = admin_api.post(URL, {"provider": "sandbox", "redirect_uri": REDIRECT, "integration_id": generic.pk},
                            format="json")
    _refused(answer, "VALIDATION_ERROR", "provider")


def test_a_generic_integration_without_its_oauth_config_names_the_missing_keys(admin_api, org):
    bare = IntegrationFactory(organization=org, provider="oauth2_generic",
                              config={"authorize_url": "ftp://x", "pkce": "yes"}, credentials={"client_id": "a"})
    error = _refused(admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT,
                                          "integration_id": bare.pk}, format="json"), "VALIDATION_ERROR")
    assert {"config.authorize_url", "config.token_url", "config.pkce"} <= set(error["details"])


def test_no_client_credentials_is_refused(admin_api, provider_settings, org):
    provider_settings("sandbox", CLIENT_ID="")
    answer = admin_api.post(URL, {"provider": "sandbox", "redirect_uri": REDIRECT}, format="json")
    _refused(answer, "VALIDATION_ERROR", "credentials")


def test_a_generic_integration_cannot_be_created_without_its_config(admin_api):
    _refused(admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT}, format="json"),
             "VALIDATION_ERROR")


def test_a_shop_for_a_provider_without_shops_is_refused(admin_api, generic):
    answer = admin_api.post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT,
                                  "integration_id": generic.pk, "shop": "x.myshopify.com"}, format="json")
    _refused(answer, "VALIDATION_ERROR", "shop")


@pytest.mark.parametrize("shop", ["javascript:alert(1)", "http://10.0.0.5:8765"])
def test_a_sandbox_shop_must_be_a_url_that_passes_the_outbound_check(admin_api, shop):
    answer = admin_api.post(URL, {"provider": "sandbox", "redirect_uri": REDIRECT, "shop": shop}, format="json")
    _refused(answer, "VALIDATION_ERROR", "shop")


@pytest.mark.parametrize("body, field", [
    ({"provider": "sandbox"}, "redirect_uri"),
    ({"provider": "sandbox", "redirect_uri": REDIRECT, "integration_id": "3"}, "integration_id"),
    ({"provider": "sandbox", "redirect_uri": REDIRECT, "scope": "all"}, "scope"),
    ({"provider": "sandbox", "redirect_uri": REDIRECT, "metadata": [1]}, "metadata"),
    ({"provider": 5, "redirect_uri": REDIRECT}, "provider"),
])
def test_bad_input_is_a_validation_error(admin_api, body, field):
    _refused(admin_api.post(URL, body, format="json"), "VALIDATION_ERROR", field)


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_start_a_connect(api_client_for, org, generic, role):
    answer = api_client_for(org, role).post(URL, {"provider": "oauth2_generic", "redirect_uri": REDIRECT,
                                                  "integration_id": generic.pk}, format="json")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "PERMISSION_DENIED"
    assert OAuthState.objects.count() == 0


def test_initiate_needs_an_api_key(client):
    assert client.post(URL, {}, content_type="application/json").status_code == 401


def test_the_callback_url_is_built_from_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com/"
    assert callback_url("sandbox") == "https://hub.example.com/api/integrations/oauth/callback/sandbox/"
