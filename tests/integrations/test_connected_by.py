"""`connected_by`: who connected an integration, as the organization's user service names them (set, filtered, kept
through an OAuth connect) — what a `user.deleted` event acts on."""

from __future__ import annotations

import pytest

from integrations.models import Integration, OAuthState
from integrations.oauth import flow
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def test_create_records_it_and_the_filter_finds_it(admin_api, org, other_org):
    answer = admin_api.post("/api/integrations/", {"name": "CRM", "code": "crm", "provider": "sandbox",
                                                   "connected_by": "u_42"}, format="json")
    assert answer.status_code == 201 and answer.json()["connected_by"] == "u_42"
    IntegrationFactory(organization=org, connected_by="u_7")
    IntegrationFactory(organization=other_org, connected_by="u_42")

    found = admin_api.get("/api/integrations/?connected_by=u_42").json()["results"]

    assert [i["code"] for i in found] == ["crm"]
    assert admin_api.get("/api/integrations/?connected_by=nobody").json()["results"] == []


def test_an_oauth_connect_records_who_started_it(admin_api, org, settings):
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://app.example.com/oauth/"]
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.SANDBOX_CLIENT_ID, settings.SANDBOX_CLIENT_SECRET = "sandbox-app-id", "sandbox-app-secret"
    answer = admin_api.post("/api/integrations/oauth/initiate/", {
        "provider": "sandbox", "redirect_uri": "https://app.example.com/oauth/done", "name": "New shop",
        "shop": "http://127.0.0.1:8765", "connected_by": "u_42"}, format="json")
    assert answer.status_code == 201, answer.json()
    state = OAuthState.objects.get()
    assert state.metadata["connected_by"] == "u_42"

    draft = Integration(organization=org, provider="sandbox", name="New shop", api_endpoint="http://127.0.0.1:8765")
    created = flow._create(state, draft, {"access_token": "at-1"}, account="")

    assert created.connected_by == "u_42"
