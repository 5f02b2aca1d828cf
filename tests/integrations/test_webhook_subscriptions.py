"""Webhook subscriptions at the provider follow the integration's life: made after an OAuth connect or when an
API-key integration is created active or set active, removed on disconnect and delete; all best effort.

WooCommerce (API key, `responses`) and the generic OAuth provider (a real server on 127.0.0.1, with its
register/unregister hooks recorded) stand for every connector: the wiring is the contract's, not theirs.
"""

from __future__ import annotations

import json

import pytest
import responses
from django.test import Client

from connectors import registry
from connectors.capabilities import WebhookReceiver
from connectors.oauth2_generic.connector import GenericOAuth2Connector
from integrations.health import integration_credentials_refused
from integrations.models import Integration
from integrations.services import SUBSCRIPTIONS_KEY
from tests.connectors import support
from tests.connectors.woocommerce_support import API, STORE, replay
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    callback_path,
    consent,
    outcome,
    published,
    running_oauth_server,
    subscribe_all,
)

URL = "/api/integrations/"
WOO_TOPICS = 8


public_dns, sleeps = support.public_dns, support.sleeps  # the fixtures, re-bound (nothing shadows an import)


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = "https://hub.example.com"


def _woo(**fields) -> dict:
    return {"name": "Woo", "code": "woo-ro", "provider": "woocommerce", "api_endpoint": STORE,
            "api_key": "ck_live_1111aaaa", "api_secret": "cs_live_2222bbbb", **fields}


def _created_hooks() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.method == "POST"]


# ---------------------------------------------------------------- API-key integrations
@responses.activate
def test_an_api_key_integration_created_active_subscribes_after_commit(admin_api, public_dns, sleeps,
                                                                       django_capture_on_commit_callbacks):
    replay("POST", f"{API}/webhooks", "webhooks__create")
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_api.post(URL, _woo(status="active"), format="json")
    assert answer.status_code == 201, answer.json()

    hooks = _created_hooks()
    assert len(hooks) == WOO_TOPICS
    row = Integration.objects.get(code="woo-ro")
    assert {h["delivery_url"] for h in hooks} == {f"https://hub.example.com/api/webhooks/receive/{row.route_key}/"}
    assert hooks[0]["secret"] == row.webhook_secret and len(row.webhook_secret) >= 32
    assert len(row.metadata["woocommerce_webhooks"]) == WOO_TOPICS
    assert row.metadata[SUBSCRIPTIONS_KEY]["status"] == "registered" and row.last_error == ""


@responses.activate
def test_an_inactive_one_subscribes_when_it_is_set_active_and_only_then(admin_api, public_dns, sleeps,
                                                                        django_capture_on_commit_callbacks):
    replay("POST", f"{API}/webhooks", "webhooks__create")
    with django_capture_on_commit_callbacks(execute=True):
        pk = admin_api.post(URL, _woo(), format="json").json()["id"]
        admin_api.patch(f"{URL}{pk}/", {"description": "still inactive"}, format="json")
    assert _created_hooks() == []

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.patch(f"{URL}{pk}/", {"status": "active"}, format="json").status_code == 200
    assert len(_created_hooks()) == WOO_TOPICS
    with django_capture_on_commit_callbacks(execute=True):  # already active: nothing to do
        admin_api.patch(f"{URL}{pk}/", {"status": "active"}, format="json")
    assert len(responses.calls) == WOO_TOPICS


@responses.activate
def test_a_refused_subscription_is_recorded_and_never_fails_the_create(admin_api, public_dns, sleeps,
                                                                       django_capture_on_commit_callbacks, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    responses.add("POST", f"{API}/webhooks", status=500, json={"code": "internal_error", "message": "down"})
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_api.post(URL, _woo(status="active"), format="json")
    assert answer.status_code == 201

    row = Integration.objects.get(code="woo-ro")
    assert row.status == "active"
    assert row.last_error.startswith("Subscribing to the provider's webhooks failed: PROVIDER_ERROR")
    assert row.metadata[SUBSCRIPTIONS_KEY]["status"] == "failed" and "cs_live_2222bbbb" not in row.last_error


@responses.activate
def test_deleting_an_api_key_integration_removes_its_subscriptions_first(admin_api, org, public_dns, sleeps):
    integration = IntegrationFactory(organization=org, provider="woocommerce", code="woo-ro", route_key="woo-ro",
                                     api_endpoint=STORE,
                                     api_key="ck_1", api_secret="cs_1",
                                     metadata={"woocommerce_webhooks": {"order.created": 142, "product.updated": 143}})
    responses.add("DELETE", f"{API}/webhooks/142", json={"id": 142})
    responses.add("DELETE", f"{API}/webhooks/143", status=404, json={"code": "woocommerce_rest_invalid_id"})
    assert admin_api.delete(f"{URL}{integration.pk}/").status_code == 204  # the 404 is logged, the delete goes on
    assert [c.request.url.split("?")[0] for c in responses.calls] == [f"{API}/webhooks/142", f"{API}/webhooks/143"]
    assert not Integration.objects.filter(pk=integration.pk).exists()


def test_refused_credentials_go_to_error_once_and_publish_integration_error(org):
    subscribe_all(org)
    integration = IntegrationFactory(organization=org, provider="woocommerce", status="active")
    assert integration_credentials_refused(integration=integration, message="keys refused") is True
    assert integration_credentials_refused(integration=integration, message="again") is False
    row = Integration.objects.get(pk=integration.pk)
    assert (row.status, row.last_error) == ("error", "keys refused")
    [event] = published(org, "integration.error")
    assert event == {"integration": {"id": integration.pk, "code": integration.code, "provider": "woocommerce",
                                     "name": integration.name}, "error": "keys refused"}


# ---------------------------------------------------------------- OAuth integrations
@pytest.fixture
def server(settings):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.OAUTH_ALLOWED_REDIRECT_URIS = [REDIRECT_URI]
    server = running_oauth_server()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooks():
    """What the generic connector's subscription hooks were asked, with the tokens the integration held then."""
    seen: list[tuple[str, str]] = []
    state = {"fail": None}

    class Subscribing(WebhookReceiver, GenericOAuth2Connector):
        """The generic OAuth connector as a webhook receiver whose subscriptions the test watches."""

        def register_webhooks(self, receive_url):
            seen.append(("register", self.integration.access_token))
            if state["fail"]:
                raise state["fail"]
            return ["thing.updated"]

        def unregister_webhooks(self, receive_url):
            seen.append(("unregister", self.integration.access_token))
            if state["fail"]:
                raise state["fail"]
            return 1

    registry.register(Subscribing)  # the same key: the generic provider, as a receiver
    yield seen, state
    registry.unregister(Subscribing.key)


def _connect(api, org, server) -> tuple[Integration, dict]:
    integration = IntegrationFactory(organization=org, provider="oauth2_generic", type="api", status="pending_auth",
                                     config=server.config(),
                                     credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    answer = api.post("/api/integrations/oauth/initiate/", {"provider": "oauth2_generic", "redirect_uri": REDIRECT_URI,
                                                            "integration_id": integration.pk}, format="json")
    result = outcome(Client().get(callback_path("oauth2_generic"), consent(answer.json()["authorization_url"])))
    return Integration.objects.get(pk=integration.pk), result


def test_an_oauth_connect_subscribes_after_it_committed(admin_api, org, server, hooks,
                                                        django_capture_on_commit_callbacks):
    seen, _ = hooks
    with django_capture_on_commit_callbacks(execute=True):
        row, result = _connect(admin_api, org, server)
        assert seen == []  # not while the connect's transaction is open
    row.refresh_from_db()
    assert result["status"] == "success"
    assert seen == [("register", row.access_token)] and row.access_token.startswith("at-")
    assert row.metadata[SUBSCRIPTIONS_KEY]["added"] == ["thing.updated"]


def test_a_failed_subscription_never_fails_the_connect(admin_api, org, server, hooks,
                                                       django_capture_on_commit_callbacks):
    seen, state = hooks
    state["fail"] = RuntimeError("provider exploded with secret at-xyz")
    with django_capture_on_commit_callbacks(execute=True):
        row, result = _connect(admin_api, org, server)
    row.refresh_from_db()
    assert result["status"] == "success" and row.status == "active" and row.access_token
    assert row.last_error == "Subscribing to the provider's webhooks failed: RuntimeError"
    assert row.metadata[SUBSCRIPTIONS_KEY]["status"] == "failed"


def test_disconnect_unsubscribes_before_the_tokens_are_wiped(admin_api, org, server, hooks):
    seen, state = hooks
    tokens = server.issue()
    integration = IntegrationFactory(organization=org, provider="oauth2_generic", type="api", config=server.config(),
                                     credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                                     access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])
    state["fail"] = RuntimeError("down")
    assert admin_api.post(f"/api/integrations/{integration.pk}/disconnect/").status_code == 200
    assert seen == [("unregister", tokens["access_token"])]
    row = Integration.objects.get(pk=integration.pk)
    assert row.access_token == "" and row.status == "pending_auth"
    assert "Removing the provider's webhook subscriptions failed: RuntimeError" in row.last_error
    assert len(server.revoked) == 1  # the revoke still happened
