"""Connector for Payme (payments, Uzbekistan): the merchant API Payme calls, no calls of ours.

Payme drives the payment: it calls `POST /api/payments/payme/<route_key>/` (api.py)
with JSON-RPC methods, and transactions.py answers them from
PaymentTransaction rows and the order. Settings: `api_key` is the cashbox key
(the test key while the cashbox is in Payme's sandbox); `config["merchant_id"]`
the cashbox id (for checkout links); `config["account_field"]` the account
field naming the order (default `order_id`); `config["order_lookup"]` and
`config["order_channel"]` how that value finds an order (connectors/payments.py).
Orders must be in UZS; amounts travel in tiyin.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from connectors.base import AuthKind, ConnectionResult, Connector
from connectors.capabilities import PaymentsGateway

TEST_CHECKOUT_URL = "https://checkout.test.paycom.uz"
CHECKOUT_URL = "https://checkout.paycom.uz"


class PaymeConnector(PaymentsGateway, Connector):
    key = "payme"
    display_name = "Payme"
    integration_type = "payment_gateway"
    auth_kind = AuthKind.BASIC
    secret_fields = ("api_key",)
    base_url = CHECKOUT_URL
    docs_url = "https://developer.help.paycom.uz/metody-merchant-api/"
    urls_module = "connectors.payme.urls"  # the merchant API Payme calls

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        return TEST_CHECKOUT_URL if self.integration.is_test_mode else CHECKOUT_URL

    def merchant_api_url(self) -> str:
        return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("payme-merchant-api",
                                                              kwargs={"route_key": self.integration.route_key})

    def test_connection(self) -> ConnectionResult:
        """No call: Payme calls us. Checks what Payme's calls need and says where to point the cashbox."""
        missing = []
        if not self.integration.api_key:
            missing.append("the cashbox key (api_key)")
        if not (self.integration.config or {}).get("merchant_id"):
            missing.append("the cashbox id (config['merchant_id'])")
        if missing:
            return ConnectionResult(ok=False, latency_ms=0,
                                    detail=f"The Payme integration needs {' and '.join(missing)}.")
        return ConnectionResult(ok=True, latency_ms=0,
                                detail=f"Ready: set the cashbox's endpoint to {self.merchant_api_url()} "
                                       f"(Payme calls it with Basic auth Paycom:<cashbox key>).")
