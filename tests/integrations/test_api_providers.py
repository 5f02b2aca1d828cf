"""GET /api/providers/: the connector registry, each provider as its connector describes itself."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.base import Connector, OAuthMeta
from connectors.capabilities import OAuthConnect, ShipmentCreator
from connectors.sandbox.connector import SandboxConnector


class ListedConnector(OAuthConnect, ShipmentCreator, Connector):
    key = "fake-listed"
    display_name = "Listed fake"
    integration_type = "shipping"
    oauth = OAuthMeta(authorize_url="https://x.example/a", token_url="https://x.example/t", default_scopes=("ship",))


@pytest.fixture
def listed():
    registry.register(ListedConnector)
    yield ListedConnector
    registry.unregister(ListedConnector.key)


@pytest.mark.django_db
def test_providers_lists_every_registered_connector(viewer_api, listed):
    response = viewer_api.get("/api/providers/")

    assert response.status_code == 200
    by_key = {row["key"]: row for row in response.json()}
    assert by_key["sandbox"] == SandboxConnector.describe()
    assert by_key["fake-listed"] == ListedConnector.describe()
    assert by_key["fake-listed"]["oauth"] == {"scopes": ["ship"], "pkce": False}
    assert [row["key"] for row in response.json()] == sorted(by_key)


@pytest.mark.django_db
def test_an_unregistered_connector_is_gone(viewer_api):
    keys = {row["key"] for row in viewer_api.get("/api/providers/").json()}

    assert "fake-listed" not in keys
    assert "sandbox" in keys


@pytest.mark.django_db
def test_a_freshly_registered_provider_can_be_used_at_once(admin_api, listed):
    response = admin_api.post(
        "/api/integrations/", {"name": "Courier", "code": "courier", "provider": listed.key}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["type"] == "shipping"


def test_providers_need_a_key(client, db):
    assert client.get("/api/providers/").status_code == 401
