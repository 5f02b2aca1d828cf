"""Connector for Stripe (payments): the secret key's connection test and the payment webhooks.

Credentials: `api_key` is the secret key (`sk_live_…`/`sk_test_…`, or a
restricted `rk_…` with read access to the account and PaymentIntents);
`webhook_secret` is the endpoint's signing secret (`whsec_…`). Keys do not
expire: a 401 raises AuthExpired and an active integration goes to `error` with
a readable `last_error`.

Webhooks arrive at `/api/webhooks/receive/<route_key>/` (subscribe the endpoint to
payment_intent.succeeded, checkout.session.completed, charge.refunded). Stored
once per event id, they mark the referenced order paid or refunded through
the order book commerce installs (see connectors/payments.py for how the order
is found and mapping.py for what each event means); a second delivery of an
event is acknowledged and not processed again, and marking is idempotent anyway.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from config.errors import ApplicationError
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy, WebhookEvent
from connectors.capabilities import PaymentsGateway, WebhookReceiver
from connectors.errors import AuthExpired, connection_failure
from connectors.http import elapsed_ms
from connectors.payments import settle

from . import mapping, webhooks
from .client import API_VERSION, BASE_URL, StripeClient


class StripeConnector(WebhookReceiver, PaymentsGateway, Connector):
    key = "stripe"
    display_name = "Stripe"
    integration_type = "payment_gateway"
    auth_kind = AuthKind.API_KEY
    secret_fields = ("api_key", "webhook_secret")
    base_url = BASE_URL
    webhook_scheme = webhooks.SCHEME  # Stripe-Signature, verified with the endpoint's webhook_secret
    webhook_resources = frozenset({"payment"})
    rate_limit = RateLimitPolicy(requests=25, per_seconds=1.0)  # test mode's limit (live allows 100/s)
    docs_url = "https://docs.stripe.com/api"

    @property
    def client(self) -> StripeClient:
        return StripeClient(self.http)

    def auth_headers(self) -> dict[str, str]:
        headers = {"Stripe-Version": API_VERSION}
        if self.integration.api_key:
            headers["Authorization"] = f"Bearer {self.integration.api_key}"
        return headers

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401  # a revoked or rolled key: nothing to refresh

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        return (f"Stripe refused the secret key ({error.provider_message or 'HTTP 401'}); roll it in the dashboard "
                "and save the new one.")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        if not self.integration.api_key:
            return ConnectionResult(ok=False, latency_ms=0,
                                    detail="A Stripe integration needs its secret key (api_key).")
        try:
            account = self.client.account(action="test_connection")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Stripe', exc)}: {exc.message}")
        mode = "test" if self.integration.api_key.startswith(("sk_test_", "rk_test_")) else "live"
        name = (account.get("business_profile") or {}).get("name") or account.get("email") or ""
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to Stripe account {account.get('id', '')}"
                                       f"{f' ({name})' if name else ''} in {mode} mode.")

    # ------------------------------------------------------------------ webhooks
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body)

    def handle_webhook_event(self, event: WebhookEvent) -> dict[str, Any] | None:
        config = self.integration.config if isinstance(self.integration.config, dict) else {}
        key = str(config.get("metadata_key") or "order_id")
        change = mapping.payment_change(event.payload, metadata_key=key)
        if not change.action:
            return None
        reference = change.reference
        if not reference and change.payment_intent:
            intent = self.client.payment_intent(change.payment_intent)
            reference = str((intent.get("metadata") or {}).get(key) or "")
        if not reference:
            return None  # a payment that is not for an ERP order (no reference anywhere)
        return settle(self.integration, reference=reference, action=change.action, amount=change.amount,
                      currency=change.currency, provider_id=change.provider_id)
