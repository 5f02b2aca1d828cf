"""The Stripe tests' shared setup: an integration with its secret key and endpoint secret, deliveries signed here.

A fixture is `{"status", "headers", "body"}`; an event fixture is `{"body"}`, signed the way Stripe signs
(`t=…,v1=hex HMAC-SHA256("{t}.{body}")`). Stripe's real host is used: `public_dns` makes it resolve to a
public address and `responses` answers before any socket opens. Import the fixtures by module, not by name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest

from connectors.sessions import close_sessions
from integrations.models import IntegrationStatus
from tests.connectors.support import Recorded, shop_order
from tests.factories import IntegrationFactory

BASE = "https://api.stripe.com"
SECRET = "whsec_stripe_test_secret_0001"
KEY = "sk_test_51FixtureSecretKey0001"


fixture = Recorded("stripe")
replay = fixture.replay


def signed(name: str, *, secret: str = SECRET, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(fixture(name)["body"], separators=(",", ":")).encode()
    stamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={digest}"}


@pytest.fixture
def integration(db, public_dns, sleeps):
    yield IntegrationFactory(provider="stripe", type="payment_gateway", status=IntegrationStatus.ACTIVE,
                             api_key=KEY, webhook_secret=SECRET)
    close_sessions()


@pytest.fixture
def order(integration):
    return shop_order(integration, external_id="820982911946", external_number="1001", currency="RON",
                      total=Decimal("250.00"))
