"""The OAuth callback: each refusal is OAUTH_FAILED and stores nothing; success stores once.

"Stores nothing" is checked on every refusal: no integration created or
changed, no event published, and the state not consumed (a forged or misrouted
callback must not burn the user's real handshake) — so the genuine callback
still succeeds afterwards where that makes sense.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from connectors import registry
from connectors.sandbox.connector import SandboxConnector
from connectors.shopify.auth import callback_hmac
from integrations.models import Integration, OAuthState
from sandbox.server import SandboxServer
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import callback_path, consent, outcome, published, subscribe_all

CLIENT_ID, CLIENT_SECRET = "cb-client-id-1111", "cb-client-secret-2222"
REDIRECT = "https://app.example.com/oauth/done?from=erp"


@pytest.fixture
def sandbox(settings):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://app.example.com/oauth/"]
    with SandboxServer(port=0, seed=3, orders=10, products=3, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       rate_limit=1000, leak_rate=1000) as server:
        yield server


@pytest.fixture
def shop(org, sandbox):
    """A sandbox integration waiting for its first connect, holding the app's client id and secret."""
    subscribe_all(org)
    return IntegrationFactory(organization=org, provider="sandbox", api_endpoint=sandbox.url, status="pending_auth",
                              api_key=CLIENT_ID, api_secret=CLIENT_SECRET)


def _start(api, shop) -> tuple[str, dict[str, str]]:
    answer = api.post("/api/integrations/oauth/initiate/",
                      {"provider": "sandbox", "redirect_uri": REDIRECT, "integration_id": shop.pk}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()["state"], consent(answer.json()["authorization_url"])


def _callback(query, provider="sandbox"):
    return Client().get(callback_path(provider), query)


def _assert_untouched(shop, state=None):
    row = Integration.objects.get(pk=shop.pk)
    assert (row.access_token, row.refresh_token, row.status) == ("", "", "pending_auth")
    assert published(shop.organization, "integration.connected") == []
    if state is not None:
        assert OAuthState.objects.get(state=state).used_at is None


def _assert_refused(response, words: str) -> dict[str, str]:
    result = outcome(response)
    assert response["Location"].startswith("https://app.example.com/oauth/done?")
    assert result["from"] == "erp"  # the client's own query survives
    assert result["status"] == "error" and result["code"] == "OAUTH_FAILED", result
    assert words in result["message"], result["message"]
    assert "integration_id" not in result
    return result


def test_the_callback_connects_the_integration_once(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)

    result = outcome(_callback(query))

    assert result == {"from": "erp", "status": "success", "integration_id": str(shop.pk)}
    row = Integration.objects.get(pk=shop.pk)
    assert row.status == "active" and row.access_token.startswith("shpat_") and row.token_type == "Bearer"
    assert row.metadata["account_name"] and row.last_error == ""
    assert len(published(shop.organization, "integration.connected")) == 1
    assert OAuthState.objects.get(state=state).used_at is not None


def test_an_unknown_state_is_an_error_envelope_and_no_redirect(admin_api, shop):
    _, query = _start(admin_api, shop)

    response = _callback({**query, "state": "made-up-state"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "OAUTH_FAILED"
    assert "Location" not in response
    _assert_untouched(shop)


def test_a_missing_state_is_refused(admin_api, shop):
    _, query = _start(admin_api, shop)
    response = _callback({k: v for k, v in query.items() if k != "state"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "OAUTH_FAILED"
    _assert_untouched(shop)


def test_a_reused_state_is_refused_and_changes_nothing(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)
    assert outcome(_callback(query))["status"] == "success"
    first = Integration.objects.get(pk=shop.pk)

    _assert_refused(_callback(query), "already used")

    again = Integration.objects.get(pk=shop.pk)
    assert (again.access_token, again.refresh_token, again.updated_at) == (
        first.access_token, first.refresh_token, first.updated_at)
    assert len(published(shop.organization, "integration.connected")) == 1
    assert sandbox.stats()["code_grants"] == 1  # the replay never reached the provider


def test_an_expired_state_is_refused(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)
    OAuthState.objects.filter(state=state).update(expires_at=timezone.now() - timedelta(seconds=1))

    _assert_refused(_callback(query), "expired")

    _assert_untouched(shop, state)
    assert sandbox.stats().get("token_requests", 0) == 0


def test_a_state_for_another_provider_is_refused_and_stays_usable(admin_api, shop):
    state, query = _start(admin_api, shop)

    _assert_refused(_callback(query, provider="oauth2_generic"), "another provider")
    _assert_untouched(shop, state)

    assert outcome(_callback(query))["status"] == "success"  # the real callback still completes


def test_a_provider_error_on_the_exchange_is_refused(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)
    sandbox.oauth.codes.clear()  # the provider no longer knows the code: invalid_grant

    result = _assert_refused(_callback(query), "code exchange failed")

    assert "invalid or expired" in result["message"]
    assert CLIENT_SECRET not in result["message"]
    _assert_untouched(shop, state)


def test_the_user_denying_consent_is_refused(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)

    _assert_refused(_callback({"state": state, "error": "access_denied", "error_description": "User said no"}),
                    "access_denied")

    _assert_untouched(shop, state)
    assert sandbox.stats().get("token_requests", 0) == 0


def test_a_callback_with_a_bad_hmac_is_refused(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)
    forged = {**query, "code": "attacker-code"}  # the signature no longer matches

    _assert_refused(_callback(forged), "signature")
    _assert_refused(_callback({k: v for k, v in query.items() if k != "hmac"}), "not signed")

    _assert_untouched(shop, state)
    assert sandbox.stats().get("token_requests", 0) == 0
    assert outcome(_callback(query))["status"] == "success"


def test_an_old_signed_callback_is_refused(admin_api, shop, sandbox):
    state, query = _start(admin_api, shop)
    old = {**query, "timestamp": str(int(time.time()) - 25 * 3600)}
    old["hmac"] = callback_hmac(old, CLIENT_SECRET)

    _assert_refused(_callback(old), "too old")
    _assert_untouched(shop, state)


# ---------------------------------------------------------------- a Shopify-like connector: shops are checked
class ShopifyLikeConnector(SandboxConnector):
    key = "shopify-like"
    display_name = "Shopify-like shop"
    check_shop_domain = True


@pytest.fixture
def shopify_like(org, monkeypatch):
    fake_public_dns(monkeypatch)
    registry.register(ShopifyLikeConnector)
    yield IntegrationFactory(organization=org, provider="shopify-like", status="pending_auth",
                             api_endpoint="https://good-store.myshopify.com", api_key=CLIENT_ID,
                             api_secret=CLIENT_SECRET)
    registry.unregister("shopify-like")


def _signed(state: str, **params) -> dict[str, str]:
    query = {"code": "c0de", "host": "aG9zdA", "state": state, "timestamp": str(int(time.time())), **params}
    query["hmac"] = callback_hmac(query, CLIENT_SECRET)
    return query


@pytest.mark.parametrize("shop_domain, words", [
    ("evil.example.com", "outside myshopify.com"),
    ("good-store.myshopify.com.evil.net", "outside myshopify.com"),
    ("good-store.myshopify.com@evil.net", "outside myshopify.com"),
    ("other-store.myshopify.com", "another shop"),
])
def test_a_shopify_callback_for_a_shop_outside_myshopify_or_another_shop_is_refused(
    settings, admin_api, shopify_like, shop_domain, words
):
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://app.example.com/oauth/"]
    answer = admin_api.post("/api/integrations/oauth/initiate/", {
        "provider": "shopify-like", "redirect_uri": REDIRECT, "integration_id": shopify_like.pk,
    }, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["authorization_url"].startswith("https://good-store.myshopify.com/admin/oauth/authorize?")
    state = answer.json()["state"]

    _assert_refused(_callback(_signed(state, shop=shop_domain), provider="shopify-like"), words)

    _assert_untouched(shopify_like, state)


def test_the_sandbox_skips_the_shop_domain_check_but_not_the_hmac(admin_api, shop):
    state, query = _start(admin_api, shop)
    other_shop = {**query, "shop": "127.0.0.1"}
    other_shop["hmac"] = callback_hmac(other_shop, CLIENT_SECRET)
    assert outcome(_callback(other_shop))["status"] == "success"
