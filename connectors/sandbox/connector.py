"""Connector for the sandbox shop simulator (sandbox/), used by the demo organization and end-to-end tests."""

from __future__ import annotations

import time

from connectors.base import AuthKind, Capability, ConnectionResult, Connector


class SandboxConnector(Connector):
    key = "sandbox"
    display_name = "Sandbox shop"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    capabilities = frozenset({Capability.PRODUCTS, Capability.ORDERS, Capability.INVENTORY, Capability.FULFILLMENTS})
    base_url = "http://127.0.0.1:8765"
    webhook_scheme = "hmac-sha256-base64"

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        response = self.http.request("GET", "/admin/api/shop.json", action="test_connection")
        return ConnectionResult(
            ok=response.ok, latency_ms=int((time.monotonic() - started) * 1000), detail=f"HTTP {response.status_code}"
        )
