"""A Shopify integration as an operator makes one: created from the API or the admin, tested with no network.

No network here (tests/conftest.py): the connection test must end in a readable
message on the integration, never a traceback or a 500.
"""

from __future__ import annotations

import html
import json
import socket

import pytest

from connectors import http, outbound
from connectors.sessions import close_sessions
from connectors.shopify.connector import ShopifyConnector
from integrations.models import Integration
from integrations.services import integration_test_connection
from tests.connectors.http_fakes import fake_public_dns
from tests.factories import IntegrationFactory, UserFactory

SHOP = "acme-ro.myshopify.com"


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


def test_created_through_the_api_with_only_its_shop_domain(admin_api, no_dns):
    response = admin_api.post("/api/integrations/", {
        "name": "Acme RO", "code": "acme-ro", "provider": "shopify", "config": {"shop_domain": SHOP},
        "api_key": "shopify-client-id", "api_secret": "shpss_secret_0001", "access_token": "shpat_token_0001",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "ecommerce"

    tested = admin_api.post(f"/api/integrations/{response.json()['id']}/test/", {}, format="json")

    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert tested.json()["detail"] == (
        f"Could not reach {SHOP}: VALIDATION_ERROR: Host '{SHOP}' does not resolve.")


def test_created_from_the_admin_and_tested_there(client, org, no_dns):
    from accounts.models import Membership

    user = UserFactory(is_staff=True, is_superuser=True)
    Membership.objects.create(user=user, organization=org, role="admin")
    client.force_login(user)
    form = {"organization": org.pk, "name": "Acme RO", "code": "acme-ro", "type": "ecommerce",
            "provider": "shopify", "status": "active", "config": json.dumps({"shop_domain": SHOP}), "metadata": "{}",
            "scope": "[]", "sync_interval_minutes": 0, "description": "", "api_endpoint": "", "token_type": ""}
    response = client.post("/admin/integrations/integration/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    integration = Integration.objects.get(code="acme-ro")

    response = client.post("/admin/integrations/integration/", {
        "action": "test_connection", "_selected_action": [integration.pk]}, follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.last_error == f"Could not reach {SHOP}: VALIDATION_ERROR: Host '{SHOP}' does not resolve."
    assert html.escape(integration.last_error) in response.content.decode()  # the admin's message


def test_a_shop_that_resolves_but_cannot_be_reached_is_a_readable_failure(db, monkeypatch):
    fake_public_dns(monkeypatch)  # DNS answers; tests/conftest.py refuses the connection itself
    integration = IntegrationFactory(provider="shopify", config={"shop_domain": SHOP}, access_token="shpat_x_0001")

    result = integration_test_connection(integration=integration)

    assert not result.ok
    assert result.detail.startswith(f"Could not reach {SHOP}: PROVIDER_ERROR: Shopify could not be reached: ")
    assert "Traceback" not in result.detail and "shpat_x_0001" not in result.detail
    assert Integration.objects.get(pk=integration.pk).last_error == result.detail


def test_a_new_connect_starts_from_the_shop_and_records_its_domain(db):
    draft = Integration(provider="shopify")
    assert ShopifyConnector(draft).oauth_connect_fields(shop=" Acme-RO.myshopify.com") == {
        "api_endpoint": f"https://{SHOP}", "config": {"shop_domain": SHOP}}
    existing = ShopifyConnector(IntegrationFactory(provider="shopify", config={"shop_domain": SHOP}))
    assert existing.oauth_connect_fields() == {}
    with pytest.raises(Exception, match="not the integration's"):
        existing.oauth_connect_fields(shop="other.myshopify.com")


def test_the_callback_must_be_signed_by_the_app_and_name_this_shop(db):
    import time

    from config.errors import OAuthFailed
    from connectors.shopify.auth import callback_hmac

    connector = ShopifyConnector(IntegrationFactory(provider="shopify", config={"shop_domain": SHOP},
                                                    api_key="shopify-client-id", api_secret="shpss_secret_0001"))
    query = {"code": "c0de", "shop": SHOP, "state": "s7ate", "timestamp": str(int(time.time()))}
    connector.validate_callback({**query, "hmac": callback_hmac(query, "shpss_secret_0001")})
    with pytest.raises(OAuthFailed, match="does not match"):
        connector.validate_callback({**query, "hmac": callback_hmac(query, "someone-elses-secret")})
    other = {**query, "shop": "other.myshopify.com"}
    with pytest.raises(OAuthFailed, match="another shop"):
        connector.validate_callback({**other, "hmac": callback_hmac(other, "shpss_secret_0001")})
