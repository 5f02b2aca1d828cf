"""HTTP calls to ANAF's VAT registry web service (PlatitorTvaRest v9), through the one provider HTTP client.

`POST https://webservicesp.anaf.ro/api/PlatitorTvaRest/v9/tva` with
`[{"cui": 14399840, "data": "YYYY-MM-DD"}, …]`, no authentication; at most
MAX_PER_REQUEST CUIs per request and one request per second per client. The
answer is `{"cod", "message", "found": […], "notFound": […]}`; a `cod` other
than 200 in a 200 answer is an error too.

The rate is ANAF's per calling address, not per integration: every ANAF
integration on this deployment shares one bucket (RATE_KEY), through the same
limiter the HTTP client uses (Redis when configured, so workers share it too).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from connectors import http as provider_http
from connectors.base import RateLimitPolicy
from connectors.errors import ProviderError
from connectors.ratelimit import rate_limiter

if TYPE_CHECKING:
    from connectors.http import ProviderClient

API_ROOT = "https://webservicesp.anaf.ro"
VAT_PATH = "/api/PlatitorTvaRest/v9/tva"
MAX_PER_REQUEST = 100
RATE = RateLimitPolicy(requests=1, per_seconds=1.0)
RATE_KEY = "anaf:webservicesp"


class AnafClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def vat_status(self, cuis: list[int], *, on: date) -> dict[str, Any]:
        """One request for up to MAX_PER_REQUEST CUIs, as of `on`."""
        if not 0 < len(cuis) <= MAX_PER_REQUEST:
            raise ValueError(f"ANAF takes 1 to {MAX_PER_REQUEST} CUIs per request, not {len(cuis)}")
        wait = rate_limiter().reserve(RATE_KEY, RATE)
        if wait > 0:
            provider_http.sleep(wait)
        body = [{"cui": cui, "data": on.isoformat()} for cui in cuis]
        # A lookup changes nothing at ANAF, so a 5xx or a timeout may be retried: the Idempotency-Key header is the
        # HTTP client's sign for a replayable POST (ANAF ignores it).
        response = self.http.request("POST", VAT_PATH, action="vat_lookup", json=body,
                                     headers={"Idempotency-Key": uuid.uuid4().hex})
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError("ANAF answered with a body that is not JSON.", status_code=response.status_code,
                                transient=True) from None
        if not isinstance(answer, dict) or answer.get("cod") not in (200, "200", None):
            message = str(answer.get("message") if isinstance(answer, dict) else answer)[:300]
            raise ProviderError(f"ANAF refused the lookup: {message}", status_code=response.status_code,
                                provider_message=message)
        return answer
