"""HTTP calls to Stripe's API, through the one provider client. The API version is pinned here, once.

Stripe answers in the version the request names (`Stripe-Version`), whatever
the account's default is, so a dashboard upgrade never changes the shapes
mapping.py reads. Webhook payloads follow the *endpoint's* version, set when
the endpoint is created in the dashboard; pin it to the same one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.http import ProviderClient

BASE_URL = "https://api.stripe.com"
API_VERSION = "2024-06-20"


class StripeClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def account(self, *, action: str = "get_account") -> dict[str, Any]:
        return self.http.get("/v1/account", action=action).json()

    def payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/payment_intents/{payment_intent_id}", action="get_payment_intent").json()
