"""Meta Graph calls made with a user's token carry `appsecret_proof` (hex HMAC-SHA256 of the token under the app
secret) when the app secret is configured, so an app set to "Require App Secret" accepts them."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from responses import matchers

from connectors import registry
from connectors.appsecret_proof import appsecret_proof_params
from connectors.http import ProviderClient
from connectors.sessions import close_sessions
from integrations.models import IntegrationLog, IntegrationStatus
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

GRAPH = "https://graph.facebook.com/v27.0"
APP_SECRET, OWN_SECRET = "meta-app-secret-0042", "own-app-secret-0077"
TOKEN, NEW_TOKEN = "EAALongLivedUserToken0002", "EAALongLivedUserToken0003"
replay = Recorded("meta_ads").replay


def proof(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def settings_secret(settings):
    settings.PROVIDER_SETTINGS = {"meta_ads": {"CLIENT_ID": "1234567890123", "CLIENT_SECRET": APP_SECRET},
                                  "instagram": {"CLIENT_ID": "ig-client", "CLIENT_SECRET": APP_SECRET}}
    yield
    close_sessions()


def meta(**fields):
    integration = IntegrationFactory(provider="meta_ads", type="advertising", status=IntegrationStatus.ACTIVE,
                                     access_token=TOKEN, refresh_token=TOKEN,
                                     expires_at=timezone.now() + timedelta(days=50), **fields)
    connector = registry.connector_for(integration)
    connector.rate_limit = None
    return integration, connector


def test_the_proof_is_the_hex_hmac_sha256_of_the_token_under_the_secret():
    assert appsecret_proof_params("token", "secret") == {
        "appsecret_proof": "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"}
    assert appsecret_proof_params("token", "") == {} and appsecret_proof_params("", "secret") == {}


@pytest.mark.django_db
@responses.activate
def test_a_meta_ads_call_carries_the_proof_and_the_call_log_keeps_neither_it_nor_the_secret(
        settings_secret, public_dns, sleeps):
    integration, connector = meta()
    replay("GET", f"{GRAPH}/me", "me__user", match=[matchers.query_param_matcher(
        {"fields": "id,name", "appsecret_proof": proof(TOKEN, APP_SECRET)})])

    assert connector.test_connection().ok

    logged = json.dumps([[row.endpoint, row.request, row.response, row.error_message]
                         for row in IntegrationLog.objects.filter(integration=integration)])
    assert "/me" in logged
    assert proof(TOKEN, APP_SECRET) not in logged and APP_SECRET not in logged and TOKEN not in logged


@pytest.mark.django_db
@responses.activate
def test_the_integrations_own_app_secret_wins_and_none_configured_sends_none(settings_secret, settings, public_dns,
                                                                            sleeps):
    replay("GET", f"{GRAPH}/me", "me__user")
    _, own = meta(credentials={"client_id": "42", "client_secret": OWN_SECRET})
    own.test_connection()
    assert sent_query(responses.calls[-1])["appsecret_proof"] == proof(TOKEN, OWN_SECRET)

    settings.PROVIDER_SETTINGS = {"meta_ads": {"CLIENT_ID": "1234567890123", "CLIENT_SECRET": ""}}
    _, unset = meta()
    unset.test_connection()
    assert sent_query(responses.calls[-1]) == {"fields": "id,name"}


@pytest.mark.django_db
@responses.activate
def test_a_call_retried_after_a_refresh_proves_the_new_token(settings_secret, public_dns, sleeps):
    integration, connector = meta()
    responses.add("GET", f"{GRAPH}/me", status=401, json={"error": {"code": 190, "message": "expired"}})
    replay("GET", f"{GRAPH}/oauth/access_token", "oauth__refreshed_token")
    replay("GET", f"{GRAPH}/me", "me__user")

    assert connector.test_connection().ok

    first, exchange, retried = responses.calls
    assert sent_query(first)["appsecret_proof"] == proof(TOKEN, APP_SECRET)
    assert "appsecret_proof" not in sent_query(exchange)  # the token exchange proves itself with client_secret
    assert sent_query(retried)["appsecret_proof"] == proof(NEW_TOKEN, APP_SECRET)
    integration.refresh_from_db()
    assert integration.access_token == NEW_TOKEN


@pytest.mark.django_db
@responses.activate
def test_an_instagram_call_carries_the_proof(settings_secret, public_dns, sleeps):
    integration = IntegrationFactory(provider="instagram", type="social", status="active", access_token=TOKEN,
                                     refresh_token=TOKEN, config={"user_id": "17841400000000001"})
    connector = registry.connector_for(integration)
    connector.rate_limit = None
    responses.add("GET", "https://graph.instagram.com/me", json={"id": "1", "username": "acme"})

    connector.account_display_name()

    assert sent_query(responses.calls[0])["appsecret_proof"] == proof(TOKEN, APP_SECRET)


@pytest.mark.parametrize(("params", "sent"), [
    (None, {"p": "1"}), ({}, {"p": "1"}), ({"a": "b"}, {"a": "b", "p": "1"}),
    ([("a", "b")], [("a", "b"), ("p", "1")]), ("a=b", "a=b&p=1"),
    # a call that presents another token (a page's) sends that token's proof, which the connector's does not replace
    ({"p": "own"}, {"p": "own"}), ([("p", "own")], [("p", "own")]), ("p=own", "p=own"),
])
def test_auth_params_join_whatever_params_the_caller_gave(params, sent):
    assert ProviderClient._with_auth_params(params, {"p": "1"}) == sent
    assert ProviderClient._with_auth_params(params, {}) is params


@pytest.mark.django_db
@responses.activate
def test_a_facebook_page_call_proves_the_page_token_and_a_user_call_the_users(settings_secret, settings, public_dns,
                                                                              sleeps):
    settings.PROVIDER_SETTINGS = {"facebook": {"CLIENT_ID": "fb-app-id", "CLIENT_SECRET": APP_SECRET}}
    integration = IntegrationFactory(provider="facebook", type="social", status="active", access_token=TOKEN,
                                     refresh_token=TOKEN, config={"page_ids": ["104"]},
                                     credentials={"page_tokens": {"104": "EAAPageToken0104"}})
    client = registry.connector_for(integration).client
    responses.add("GET", f"{GRAPH}/me", json={"id": "1"})
    responses.add("GET", f"{GRAPH}/104", json={"id": "104"})

    client.get("me", action="get_me")
    client.get("104", action="get_page", token="EAAPageToken0104")

    user, page = responses.calls
    assert sent_query(user)["appsecret_proof"] == proof(TOKEN, APP_SECRET)
    assert page.request.headers["Authorization"] == "Bearer EAAPageToken0104"
    assert sent_query(page)["appsecret_proof"] == proof("EAAPageToken0104", APP_SECRET)
