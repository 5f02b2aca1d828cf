"""The admin's Connect button: it starts the flow for the integration and comes back with a message."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from integrations.models import OAuthState
from tests.factories import IntegrationFactory, MembershipFactory, UserFactory


@pytest.fixture
def shop(org, settings):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.PUBLIC_BASE_URL = "http://testserver"
    return IntegrationFactory(organization=org, provider="sandbox", api_endpoint="http://127.0.0.1:8765",
                              api_key="admin-client-id", api_secret="admin-client-secret", status="pending_auth")


def _client(org, role: str) -> Client:
    user = UserFactory()
    MembershipFactory(user=user, organization=org, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_the_change_page_shows_connect_and_connect_goes_to_the_provider(org, shop):
    client = _client(org, "admin")
    page = client.get(f"/admin/integrations/integration/{shop.pk}/change/")
    assert page.status_code == 200
    assert f'href="/admin/integrations/integration/{shop.pk}/connect/"' in page.content.decode()
    assert "admin-client-secret" not in page.content.decode()

    answer = client.get(f"/admin/integrations/integration/{shop.pk}/connect/")

    assert answer.status_code == 302
    assert answer["Location"].startswith("http://127.0.0.1:8765/admin/oauth/authorize?")
    state = OAuthState.objects.get()
    assert state.integration == shop and state.user is not None
    assert urlsplit(state.redirect_uri).path == f"/admin/integrations/integration/{shop.pk}/connect/done/"


def test_coming_back_shows_the_outcome_on_the_change_page(org, shop):
    client = _client(org, "admin")
    done = f"/admin/integrations/integration/{shop.pk}/connect/done/"

    answer = client.get(done, {"status": "error", "code": "OAUTH_FAILED", "message": "The state expired"})

    assert answer["Location"] == f"/admin/integrations/integration/{shop.pk}/change/"
    assert [str(m) for m in get_messages(answer.wsgi_request)] == [f"Connecting {shop} failed: The state expired"]
    answer = client.get(done, {"status": "success", "integration_id": shop.pk})
    assert [str(m) for m in get_messages(answer.wsgi_request)][-1] == f"{shop} is connected."


def test_a_viewer_cannot_connect(org, shop):
    answer = _client(org, "viewer").get(f"/admin/integrations/integration/{shop.pk}/connect/")
    assert answer.status_code == 403 and not OAuthState.objects.exists()


def test_a_connect_that_cannot_start_says_why(org, shop):
    shop.api_key = ""
    shop.save()
    answer = _client(org, "admin").get(f"/admin/integrations/integration/{shop.pk}/connect/", follow=True)
    assert "Could not start connecting" in answer.content.decode() and not OAuthState.objects.exists()
