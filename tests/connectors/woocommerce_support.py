"""The WooCommerce tests' shared setup: a store's integration over recorded REST v3 answers.

Import the fixtures by module, not by name.
"""

from __future__ import annotations

import pytest

from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

STORE = "https://shop.example.com"
API = f"{STORE}/wp-json/wc/v3"


fixture = Recorded("woocommerce")
replay = fixture.replay


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="woocommerce", status=IntegrationStatus.ACTIVE, api_endpoint=STORE,
                             api_key="ck_live_1111aaaa", api_secret="cs_live_2222bbbb")
    close_sessions()
