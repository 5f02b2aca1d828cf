"""The Shopify tests' shared setup: one shop's integration over recorded Admin API 2026-10 answers (REST, GraphQL).

Used by the connector's tests, its webhooks' tests and the webhook pipeline's Shopify deliveries
(tests/webhooks/test_inbound_shopify_events.py); import the fixtures by name.
"""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.sessions import close_sessions
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

SHOP = "acme-ro.myshopify.com"
API = f"https://{SHOP}/admin/api/2026-10"
TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"
CLIENT_SECRET = "shpss_fixture_client_secret_0001"  # the integration's api_secret: Shopify's signing key too

fixture = Recorded("shopify")
replay = fixture.replay


@pytest.fixture
def integration(db, public_dns, sleeps):
    integration = IntegrationFactory(
        provider="shopify", code="acme-ro", route_key="acme-ro", config={"shop_domain": SHOP},
        api_key="shopify-client-id", api_secret=CLIENT_SECRET, access_token="shpat_old_AAAA1111",
    )
    yield integration
    close_sessions()


@pytest.fixture
def connector(integration):
    return registry.connector_for(integration)
