"""Connector for Click (payments, Uzbekistan): the SHOP-API prepare/complete endpoints Click calls.

Click drives the payment: it posts to `/api/payments/click/<route_key>/prepare/`,
then `…/complete/` (api.py, transactions.py). Settings: `api_secret` is the
service's SECRET_KEY (signs every request); `config["service_id"]` and
`config["merchant_id"]` the service and merchant ids from Click's merchant
cabinet. Click's `merchant_trans_id` names the order (connectors/payments.py:
`order_lookup`, `order_channel`). Orders must be in UZS.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from connectors.base import AuthKind, ConnectionResult, Connector
from connectors.capabilities import PaymentsGateway


class ClickConnector(PaymentsGateway, Connector):
    key = "click"
    display_name = "Click"
    integration_type = "payment_gateway"
    auth_kind = AuthKind.API_KEY
    secret_fields = ("api_secret",)
    base_url = "https://my.click.uz"
    docs_url = "https://docs.click.uz/en/click-api-request/"
    urls_module = "connectors.click.urls"  # the prepare and complete steps Click calls

    def endpoint_urls(self) -> tuple[str, str]:
        root = settings.PUBLIC_BASE_URL.rstrip("/")
        key = {"route_key": self.integration.route_key}
        return root + reverse("click-prepare", kwargs=key), root + reverse("click-complete", kwargs=key)

    def test_connection(self) -> ConnectionResult:
        """No call: Click calls us. Checks what its calls need and says where to point the service."""
        missing = []
        if not self.integration.api_secret:
            missing.append("the service's secret key (api_secret)")
        if not str((self.integration.config or {}).get("service_id") or "").strip():
            missing.append("the service id (config['service_id'])")
        if missing:
            return ConnectionResult(ok=False, latency_ms=0,
                                    detail=f"The Click integration needs {' and '.join(missing)}.")
        prepare_url, complete_url = self.endpoint_urls()
        return ConnectionResult(ok=True, latency_ms=0,
                                detail=f"Ready: set the service's Prepare URL to {prepare_url} and its "
                                       f"Complete URL to {complete_url}.")
