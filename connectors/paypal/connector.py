"""Connector for PayPal (payments): captures and refunds from webhooks, verified by PayPal.

Credentials: `api_key`/`api_secret` are the REST app's client id and secret
(or `credentials["client_id"/"client_secret"]`); `config["webhook_id"]` is the
id of the webhook subscribed in that app to PAYMENT.CAPTURE.COMPLETED and
PAYMENT.CAPTURE.REFUNDED, pointing at `/api/webhooks/receive/<route_key>/`.
`is_test_mode` uses the sandbox host.

Tokens: client-credentials access tokens (about 9 h) are fetched on first use,
kept encrypted on the integration with their expiry, and fetched again when
they expire or PayPal answers 401 (connectors/tokens.py, under a lock). A
refused client id/secret (the token call's 401) sets the integration to
`pending_auth` with a readable `last_error`.

Which order: the capture's `custom_id` (set as `purchase_units[].custom_id` at
checkout), else its `invoice_id`; `config["reference_field"]` picks another
field. A refund event whose resource carries neither is traced to its capture
through the refund's `up` link (one call).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from config.errors import ApplicationError, ValidationError
from connectors import tokens
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy, TokenSet, WebhookEvent
from connectors.capabilities import PaymentsGateway, WebhookReceiver
from connectors.errors import connection_failure
from connectors.http import elapsed_ms
from connectors.payments import settle

from . import webhooks
from .client import LIVE_URL, SANDBOX_URL, PayPalClient, capture_id_from_links


class PayPalConnector(WebhookReceiver, PaymentsGateway, Connector):
    key = "paypal"
    display_name = "PayPal"
    integration_type = "payment_gateway"
    auth_kind = AuthKind.API_KEY  # the app's client id and secret; tokens come from the client credentials grant
    base_url = LIVE_URL
    webhook_scheme = None  # verified by PayPal's verify-webhook-signature call (verify_webhook)
    webhook_resources = frozenset({"payment"})
    rate_limit = RateLimitPolicy(requests=30, per_seconds=1.0)
    docs_url = "https://developer.paypal.com/api/rest/"

    @property
    def client(self) -> PayPalClient:
        return PayPalClient(self.http)

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        return SANDBOX_URL if self.integration.is_test_mode else LIVE_URL

    def _app_credentials(self) -> tuple[str, str]:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        client_id = str(credentials.get("client_id") or self.integration.api_key or "")
        secret = str(credentials.get("client_secret") or self.integration.api_secret or "")
        if not (client_id and secret):
            raise ValidationError("A PayPal integration needs its app's client id (api_key) and secret (api_secret).",
                                  details={"api_key": ["required"], "api_secret": ["required"]})
        return client_id, secret

    # ------------------------------------------------------------------ tokens
    def refresh_access_token(self) -> TokenSet:
        """A new client-credentials token (PayPal has no refresh token: the app's secret is the grant)."""
        body = self.client.token(*self._app_credentials(), action="get_token")
        expires_in = int(body.get("expires_in") or 0)
        return TokenSet(
            access_token=str(body["access_token"]),
            expires_at=timezone.now() + timedelta(seconds=expires_in) if expires_in else None,
            token_type=str(body.get("token_type") or "Bearer"),
            scope=tuple(str(body.get("scope") or "").split()),
        )

    def auth_headers(self) -> dict[str, str]:
        if not self.integration.access_token:  # first use: fetch one (once, however many workers ask)
            tokens.refresh_token(self, stale_token="", force=True)
        return {"Authorization": f"Bearer {self.integration.access_token}"}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            body = self.client.token(*self._app_credentials(), action="test_connection")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('PayPal', exc)}: {exc.message}")
        where = "sandbox" if self.integration.is_test_mode else "live"
        webhook = "" if self.config.get("webhook_id") else " Set config['webhook_id'] to receive webhooks."
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to PayPal ({where}), app {body.get('app_id', '')}.{webhook}")

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """PayPal's verdict on the delivery. False for missing headers or webhook id, or a FAILURE.

        PayPal being unreachable is not a verdict: the ProviderError goes up and the receive endpoint answers
        503, so PayPal delivers again later instead of the event being refused as forged.
        """
        fields = webhooks.transmission(headers)
        webhook_id = str(self.config.get("webhook_id") or "")
        if fields is None or not webhook_id:
            return False
        try:
            if not isinstance(json.loads(body), dict):
                return False
        except ValueError:
            return False
        answer = self.client.verify_webhook_signature({**fields, "webhook_id": webhook_id}, body)
        return answer.get("verification_status") == "SUCCESS"

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body)

    def handle_webhook_event(self, event: WebhookEvent) -> dict[str, Any] | None:
        resource = event.payload.get("resource") or {}
        if resource.get("status") != "COMPLETED":
            return None  # a pending capture or refund: its COMPLETED event follows
        reference = self._reference(resource)
        if event.event_type == "PAYMENT.CAPTURE.COMPLETED":
            action, money = "paid", resource.get("amount")
        else:
            action = "refunded"
            breakdown = resource.get("seller_payable_breakdown") or {}
            money = breakdown.get("total_refunded_amount") or resource.get("amount")
            if not reference:
                capture_id = capture_id_from_links(resource)
                if capture_id:
                    reference = self._reference(self.client.capture(capture_id))
        if not reference:
            return None  # not a payment for an ERP order
        amount, currency = _money(money)
        return settle(self.integration, reference=reference, action=action, amount=amount, currency=currency,
                      provider_id=str(resource.get("id") or ""))

    def _reference(self, resource: dict[str, Any]) -> str:
        field = str(self.config.get("reference_field") or "custom_id")
        return str(resource.get(field) or resource.get("invoice_id") or "").strip()


def _money(money: Any) -> tuple[Decimal | None, str]:
    if not isinstance(money, dict) or money.get("value") is None:
        return None, ""
    try:
        return Decimal(str(money["value"])), str(money.get("currency_code") or "").upper()
    except InvalidOperation:
        raise ValidationError("PayPal sent an amount that is not a number.", details={"amount": [money]}) from None
