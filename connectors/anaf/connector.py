"""ANAF connector: VAT registration lookups by CUI (Capability.TAX_LOOKUP). No credentials: the service is public.

An organization connects ANAF once (provider "anaf", type tax) so its lookups
have an IntegrationLog and a place for settings; `config["cui"]` may hold the
organization's own CUI (the organization admin's "check VAT registration" action
reads it). Batching and the day-long cache are in services.py.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from config.errors import ApplicationError
from connectors.base import AuthKind, ConnectionResult, Connector
from connectors.capabilities import TaxLookup
from connectors.errors import connection_failure
from connectors.http import elapsed_ms

from .client import API_ROOT, RATE, AnafClient
from .mapping import normalize_found

# ANAF's own CUI (a stable, found-and-valid answer) for the connection test.
PROBE_CUI = 14080700


class AnafConnector(TaxLookup, Connector):
    key = "anaf"
    display_name = "ANAF (VAT registry)"
    integration_type = "tax"
    auth_kind = AuthKind.NONE
    base_url = API_ROOT
    rate_limit = None  # ANAF limits per calling address, not per integration: client.py throttles globally
    docs_url = "https://www.anaf.ro/"
    urls_module = "connectors.anaf.urls"

    @property
    def client(self) -> AnafClient:
        return AnafClient(self.http)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {**super().describe(), "rate_limit": {"requests": RATE.requests, "per_seconds": RATE.per_seconds}}

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            answer = self.client.vat_status([PROBE_CUI], on=date.today())
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('ANAF', exc)}: {exc.message}")
        found = [normalize_found(item, checked_on=date.today()) for item in answer.get("found") or []]
        name = found[0]["name"] if found else "no answer for the probe CUI"
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"ANAF answered ({name}).")

    def vat_status(self, cuis: list[int], *, on: date) -> dict[str, Any]:
        return self.client.vat_status(cuis, on=on)
