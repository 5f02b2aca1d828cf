"""A TikTok Shop integration as an operator makes one: created from the API or the admin, tested offline."""

from __future__ import annotations

import html
import json
import socket

import pytest

from connectors import http, outbound
from connectors.sessions import close_sessions
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory, UserFactory

UNRESOLVED = ("Could not reach TikTok Shop: VALIDATION_ERROR: Host 'open-api.tiktokglobalshop.com' does not "
              "resolve.")


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
    assert listed["tiktok_shop"]["capabilities"] == ["fulfillments", "inventory", "labels", "orders", "products"]
    assert listed["tiktok_shop"]["auth_kind"] == "oauth2"


def test_created_through_the_api_and_tested_offline(admin_api, no_dns):
    response = admin_api.post("/api/integrations/", {
        "name": "TikTok US", "code": "tts-us", "provider": "tiktok_shop", "api_key": "6abcdefghijk1",
        "api_secret": "tts-app-secret-0123456789abcdef", "access_token": "ROW_AccessToken_0001",
        "config": {"shop_cipher": "ROW_Mfxq0QAAAADY9jhQTMr4JXq4U19IpM5-"},
    }, format="json")
    assert response.status_code == 201, response.content

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.status_code == 200 and tested.json()["ok"] is False
    assert tested.json()["detail"] == UNRESOLVED


def test_created_from_the_admin_without_app_keys_says_what_is_missing(client, org, no_dns):
    from accounts.models import Membership

    user = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(user=user, organization=org, role="admin")
    client.force_login(user)
    form = {"organization": org.pk, "name": "TikTok UK", "code": "tts-uk", "type": "ecommerce",
            "provider": "tiktok_shop", "status": "active", "config": json.dumps({}), "metadata": "{}",
            "scope": "[]", "sync_interval_minutes": 0, "description": "", "api_endpoint": "", "token_type": ""}
    response = client.post("/admin/integrations/integration/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    integration = Integration.objects.get(code="tts-uk")

    response = client.post("/admin/integrations/integration/", {
        "action": "test_connection", "_selected_action": [integration.pk]}, follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.last_error.startswith("Could not reach TikTok Shop: VALIDATION_ERROR: TikTok Shop needs the "
                                             "app key and secret")
    assert html.escape(integration.last_error) in response.content.decode()


def test_a_host_that_resolves_but_cannot_be_reached_is_a_readable_failure(db, monkeypatch):
    fake_public_dns(monkeypatch)
    integration = IntegrationFactory(provider="tiktok_shop", api_key="6abcdefghijk1",
                                     api_secret="tts-app-secret-0123456789abcdef",
                                     access_token="ROW_SECRET_TOKEN_0001")

    result = integration_test_connection(integration=integration)

    assert not result.ok
    assert result.detail.startswith("Could not reach TikTok Shop: PROVIDER_ERROR: TikTok Shop could not be reached")
    assert "ROW_SECRET_TOKEN_0001" not in result.detail and "tts-app-secret" not in result.detail
