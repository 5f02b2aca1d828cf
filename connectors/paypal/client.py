"""HTTP calls to PayPal's REST API, through the one provider client: the token, webhook verification, captures.

Hosts: `api-m.paypal.com` (live) and `api-m.sandbox.paypal.com` (sandbox,
`is_test_mode`); `api_endpoint` overrides both.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from connectors.http import ProviderClient

LIVE_URL = "https://api-m.paypal.com"
SANDBOX_URL = "https://api-m.sandbox.paypal.com"
TOKEN_PATH = "/v1/oauth2/token"
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
CAPTURE_PATH = "/v2/payments/captures/{capture_id}"


class PayPalClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def token(self, client_id: str, client_secret: str, *, action: str = "get_token") -> dict[str, Any]:
        """Client credentials grant: form `grant_type=client_credentials`, HTTP Basic with the app's id and secret."""
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        return self.http.post(TOKEN_PATH, action=action, authenticate=False,
                              data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}", "Accept": "application/json"}).json()

    def verify_webhook_signature(self, fields: dict[str, str], raw_event: bytes) -> dict[str, Any]:
        """POST the transmission headers with the event exactly as received.

        The event is spliced in as raw bytes, not parsed and re-serialized: PayPal checks
        the signature over the body it sent, and a re-serialization (key order, `1.0` → `1`)
        makes an authentic event fail verification.
        """
        head = json.dumps(fields, separators=(",", ":"))[:-1]
        body = head.encode() + b',"webhook_event":' + raw_event.strip() + b"}"
        return self.http.post(VERIFY_PATH, action="verify_webhook_signature", data=body,
                              headers={"Content-Type": "application/json"}).json()

    def capture(self, capture_id: str) -> dict[str, Any]:
        return self.http.get(CAPTURE_PATH.format(capture_id=capture_id), action="get_capture").json()


def capture_id_from_links(resource: dict[str, Any]) -> str:
    """The capture a refund belongs to: the id at the end of its `up` link (only the id is used, never the host)."""
    for link in resource.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up":
            path = urlsplit(str(link.get("href") or "")).path.rstrip("/")
            if "/captures/" in path:
                return path.rsplit("/", 1)[-1]
    return ""
