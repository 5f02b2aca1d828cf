"""What the connector tests share: recorded provider answers, replaying them, signing deliveries, reading calls.

A recorded answer is `tests/fixtures/<provider>/<resource>__<case>.json`, `{"status", "headers", "body"}` as
the provider answers (a webhook delivery: `{"secret", "headers", "body"}` with the raw body as signed). A test
module binds its provider once, `recorded = Recorded("shopify")`, then `recorded("orders__page1")` reads one
and `recorded.replay("GET", url, "orders__page1")` answers a call with it (`responses`).

The fixtures `sleeps`, `public_dns` and `connector` (of the module's `integration`) are here: conftest.py
hands them to every test under tests/connectors, and a test elsewhere re-binds them from this module. Fake
connectors are in http_fakes.py; a provider's shared setup (its integration fixture, its signed deliveries)
in `<provider>_support.py`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors import http, registry
from tests.connectors.http_fakes import fake_public_dns

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(provider: str, name: str) -> dict:
    """`tests/fixtures/<provider>/<name>.json`, parsed."""
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


class Recorded:
    """One provider's recorded answers."""

    def __init__(self, provider: str):
        self.provider = provider

    def __call__(self, name: str) -> dict:
        return fixture(self.provider, name)

    def replay(self, method: str, url: str, name: str, **match: Any) -> responses.BaseResponse:
        """Answer `method url` with the recorded answer (its status, headers and body; an empty body when null)."""
        recorded = self(name)
        headers = {k: v for k, v in (recorded.get("headers") or {}).items() if k.lower() != "content-type"}
        if recorded["body"] is None:
            return responses.add(method, url, body=b"", status=recorded["status"], headers=headers, **match)
        return responses.add(method, url, json=recorded["body"], status=recorded["status"], headers=headers, **match)


def sandbox_order(case: str = "paid") -> dict:
    """One Shopify-shaped order of the simulator's recorded answers (`tests/fixtures/sandbox/orders__<case>.json`)."""
    return copy.deepcopy(fixture("sandbox", f"orders__{case}")["body"]["orders"][0])


def shop_order(gateway, **fields: Any):
    """An order of a shop channel in the payment gateway's organization, for the gateway's payment to find."""
    from commerce.models import Order
    from tests.factories import IntegrationFactory

    shop = IntegrationFactory(organization=gateway.organization, provider="sandbox")
    placed = {"placed_at": datetime(2024, 5, 29, 10, tzinfo=UTC)}
    return Order.objects.create(organization=gateway.organization, integration=shop, **{**placed, **fields})


def sent_json(call) -> Any:
    """The JSON body a recorded `responses` call sent."""
    return json.loads(call.request.body)


def sent_query(call) -> dict[str, str]:
    """The query parameters a recorded `responses` call sent (first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def hmac_base64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The HTTP client's backoff sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(http, "sleep", slept.append)
    return slept


@pytest.fixture
def connector(integration):
    """The connector of the module's `integration`, without its client-side bucket (so `sleeps` stay exact)."""
    connector = registry.connector_for(integration)
    connector.rate_limit = None
    return connector


@pytest.fixture
def public_dns(monkeypatch) -> None:
    """Made-up host names resolve to a public address (literal IPs still parse as themselves)."""
    fake_public_dns(monkeypatch)
