"""A fake provider for the HTTP client's tests: an OAuth shop and an API-key shop, and helpers around them.

Not the sandbox connector: these tests pin the client's behaviour, whatever the
sandbox grows into.
"""

from __future__ import annotations

import ipaddress
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors import outbound, registry
from connectors.base import AuthKind, Connector, TokenSet
from connectors.sessions import close_sessions
from tests.factories import IntegrationFactory

BASE = "https://shop.example.com"
TOKEN_URL = f"{BASE}/oauth/token"
PUBLIC_ADDRESS = ipaddress.ip_address("93.184.216.34")


class FakeShopConnector(Connector):
    key = "fake-shop"
    display_name = "Fake shop"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    base_url = BASE

    def refresh_access_token(self) -> TokenSet:
        response = self.http.post(
            "/oauth/token",
            action="refresh_token",
            authenticate=False,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.integration.refresh_token,
                "client_id": self.integration.api_key,
                "client_secret": self.integration.api_secret,
            },
        )
        body = response.json()
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=timezone.now() + timedelta(seconds=int(body.get("expires_in", 3600))),
            token_type=body.get("token_type", "Bearer"),
        )


class FakeKeyShopConnector(Connector):
    """API-key auth in a provider header, the Shopify way; no refresh."""

    key = "fake-key-shop"
    display_name = "Fake key shop"
    integration_type = "ecommerce"
    auth_kind = AuthKind.API_KEY
    base_url = BASE

    def auth_headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self.integration.api_key}


@contextmanager
def registered(*classes: type[Connector]):
    for cls in classes:
        registry.register(cls)
    try:
        yield
    finally:
        for cls in classes:
            registry.unregister(cls.key)
        close_sessions()


def fake_public_dns(monkeypatch, address=PUBLIC_ADDRESS) -> None:
    """Made-up host names resolve to a public address (literal IPs still parse as themselves)."""

    def resolve(host: str):
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            return [address]

    monkeypatch.setattr(outbound, "resolve", resolve)


def make_integration(connector_cls: type[Connector] = FakeShopConnector, **fields):
    defaults = {
        "provider": connector_cls.key,
        "access_token": "access-token-AAAA1111",
        "refresh_token": "refresh-token-RRRR2222",
        "api_key": "client-id-KKKK3333",
        "api_secret": "client-secret-SSSS4444",
    }
    return IntegrationFactory(**{**defaults, **fields})


@pytest.fixture
def fake_shops(db, public_dns, sleeps):
    """The fake OAuth and API-key shops registered for one test, reached on a public (made-up) address."""
    with registered(FakeShopConnector, FakeKeyShopConnector):
        yield
