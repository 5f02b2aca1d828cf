"""End to end: connect a sandbox shop over OAuth through the API, sync with the token, let it expire, go on.

Real HTTP everywhere a provider is involved: the authorization URL is followed
with `requests` (the sandbox consents and redirects with code, HMAC, shop and
state), the callback is Django's, the code exchange and every later call go
through the provider client to the sandbox's token endpoint and API.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from connectors import registry
from integrations.models import Integration, IntegrationLog, OAuthState
from sandbox.server import SandboxServer
from tests.integrations.oauth_fakes import callback_path, consent, outcome, published, subscribe_all

CLIENT_ID, CLIENT_SECRET = "e2e-client-id-1234", "e2e-client-secret-5678"
REDIRECT = "https://erp.example.com/integrations/connected"


@pytest.mark.e2e
@pytest.mark.django_db
def test_connect_a_shop_sync_and_survive_an_expired_token(settings, provider_settings, org, admin_api):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://erp.example.com/integrations/"]
    provider_settings("sandbox", CLIENT_ID=CLIENT_ID, CLIENT_SECRET=CLIENT_SECRET)
    subscribe_all(org)
    with SandboxServer(port=0, seed=21, orders=300, products=10, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       rate_limit=1000, leak_rate=1000) as sandbox:
        # 1. initiate: the API answers where to send the browser
        started = admin_api.post("/api/integrations/oauth/initiate/", {
            "provider": "sandbox", "redirect_uri": REDIRECT, "shop": sandbox.url, "name": "Sandbox RO",
        }, format="json")
        assert started.status_code == 201, started.json()
        authorization_url, state = started.json()["authorization_url"], started.json()["state"]
        assert authorization_url.startswith(f"{sandbox.url}/admin/oauth/authorize?")
        assert Integration.objects.count() == 0  # nothing exists until the provider says yes

        # 2. the shop owner consents; the sandbox redirects to our callback with a code, signed
        query = consent(authorization_url)
        assert query["state"] == state and {"code", "hmac", "shop", "timestamp"} <= set(query)

        # 3. the callback (public: no API key) exchanges the code and sends the browser back
        answer = Client().get(callback_path("sandbox"), query)
        result = outcome(answer)
        assert result["status"] == "success", result
        assert answer["Location"].startswith(REDIRECT + "?")
        assert query["code"] not in answer["Location"]

        integration = Integration.objects.get(pk=result["integration_id"])
        assert integration.organization == org and integration.status == "active"
        assert integration.name == "Sandbox RO" and integration.api_endpoint == sandbox.url
        assert integration.access_token.startswith("shpat_") and integration.refresh_token.startswith("shprt_")
        assert integration.expires_at > timezone.now() and "read_orders" in integration.scope
        assert integration.metadata["account_name"] == sandbox.state.shop()["name"]
        assert integration.access_token not in answer["Location"]
        assert OAuthState.objects.get(state=state).used_at is not None
        assert [e["integration"]["id"] for e in published(org, "integration.connected")] == [integration.pk]

        # 4. the tokens are stored encrypted: the raw row shows no plaintext
        with connection.cursor() as cursor:
            cursor.execute("SELECT access_token, refresh_token FROM integrations_integration WHERE id = %s",
                           [integration.pk])
            stored = cursor.fetchone()
        assert all(value.startswith("enc1:") for value in stored)
        assert integration.access_token not in "".join(stored) and integration.refresh_token not in "".join(stored)
        exchange = IntegrationLog.objects.get(action="exchange_code")
        assert exchange.status_code == 200 and exchange.organization == org
        assert integration.access_token not in str(exchange.response)
        assert CLIENT_SECRET not in str(exchange.request)

        # 5. a sync-like call with the new token
        connector = registry.connector_for(Integration.objects.get(pk=integration.pk))
        assert connector.test_connection().ok
        first_page = next(connector.iter_orders())
        assert len(first_page.items) == 250 and first_page.next_cursor

        # 6. the token expires at the provider; the next call refreshes it once and goes on
        assert sandbox.expire_tokens() >= 1
        connector = registry.connector_for(Integration.objects.get(pk=integration.pk))
        again = next(connector.iter_orders())
        stats = sandbox.stats()

    assert [o["id"] for o in again.items] == [o["id"] for o in first_page.items]
    assert stats["code_grants"] == 1 and stats["refresh_grants"] == 1 and stats["unauthorized"] == 1
    refreshed = Integration.objects.get(pk=integration.pk)
    assert refreshed.access_token != integration.access_token and refreshed.refresh_token != integration.refresh_token
    assert refreshed.status == "active"
    assert urlsplit(authorization_url).netloc == urlsplit(sandbox.url).netloc
