"""An eBay integration as an operator makes one: created from the API or the admin, tested with no network.

No network here (tests/conftest.py): the connection test must end in a readable message on the integration,
never a traceback or a 500.
"""

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
