"""Connector for the sandbox shop simulator (sandbox/): Shopify's Admin API (REST, GraphQL products), so Shopify's.

Used by the demo organization and the end-to-end tests. The simulator speaks
Shopify's paths, headers, pagination, OAuth grants and webhook signature, so
everything that reads, writes and refreshes is ShopifyConnector's (a fix there
holds here, and the simulator keeps testing the real connector). Only what
differs is below:

- where it is: the integration's `api_endpoint` (the shop's root URL, e.g.
  `http://127.0.0.1:8765`), else the provider setting URL (`SANDBOX_URL`); not a myshopify.com
  domain, so the shop-domain checks of the OAuth connect are off
  (`check_shop_domain`) while the callback's HMAC and age are still checked;
- credentials: `api_key`/`api_secret` are the app's client id and secret (else
  SANDBOX_CLIENT_ID/SANDBOX_CLIENT_SECRET); `webhook_secret` signs webhooks,
  with the client secret as the fallback (Shopify signs with it);
- limits: the simulator runs with tiny buckets on purpose, so the client does
  not pace itself on the call-limit header, and `config["rate_limit"]`
  (`{"requests": n, "per_seconds": s}`, or null for no client-side limit)
  replaces the bucket when it was started with other limits;
- the version: the one the simulator speaks (DEFAULT_API_VERSION), whatever
  SHOPIFY_API_VERSION says; a bulk export is polled every 0.1 s (the simulator
  finishes one on its second poll);
- no webhook subscription or uninstall endpoints: webhooks are pointed at the
  receive URL by whoever starts the simulator, and a disconnect revokes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from connectors import schemes
from connectors.base import OAuthMeta, WebhookEvent
from connectors.shopify.connector import ShopifyConnector

from . import mapping, webhooks
from .client import AUTHORIZE_PATH, DEFAULT_API_VERSION, TOKEN_PATH, SandboxClient

if TYPE_CHECKING:
    from integrations.models import Integration


class SandboxConnector(ShopifyConnector):
    key = "sandbox"
    display_name = "Sandbox shop"
    base_url = ""  # resolved_base_url(): api_endpoint, else the URL setting
    oauth = OAuthMeta(
        authorize_url=AUTHORIZE_PATH,
        token_url=TOKEN_PATH,
        default_scopes=("read_products", "read_orders", "read_inventory", "write_inventory",
                        "read_merchant_managed_fulfillment_orders", "write_merchant_managed_fulfillment_orders"),
        scope_separator=",",
    )
    webhook_scheme = schemes.HMAC_SHA256_BASE64  # what /api/providers/ says; verify_webhook reads its own header
    routed_account_kinds = ()  # a simulator's shop is no myshopify.com shop: nothing routes to it by shop domain
    check_shop_domain = False  # the shop is wherever the simulator listens (127.0.0.1); HMACs are still checked
    # The simulator app's OAuth client (an integration's own api_key/api_secret win) and where `make run` starts it.
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "URL": "http://127.0.0.1:8765"}
    # Shopify-shaped channels split the state over financial_status and fulfillment_status; the mapping collapses
    # them, and this table covers the raw words a webhook handler may pass through unchanged.
    order_statuses = mapping.RAW_STATUSES

    def __init__(self, integration: Integration):
        super().__init__(integration)
        config = integration.config or {}
        if "rate_limit" in config and not config["rate_limit"]:  # null: the simulator was started without limits
            self.rate_limit = None

    @property
    def client(self) -> SandboxClient:
        return SandboxClient(self.http, api_version=self.api_version())

    def api_version(self) -> str:
        return DEFAULT_API_VERSION

    def bulk_timing(self) -> tuple[float, float]:
        return 0.1, 60.0

    def resolved_base_url(self) -> str:
        return (self.integration.api_endpoint or self.setting("URL")).rstrip("/")

    def revoke_token(self) -> bool:
        """The simulator has no uninstall endpoint: nothing is sent."""
        return False

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Signed with `webhook_secret`, else the client secret (`api_secret`); only the one secret is accepted."""
        secret = self.integration.webhook_secret or self.integration.api_secret
        return webhooks.verify(headers, body, [secret])

    def webhook_signature(self, headers: Mapping[str, str]) -> str:
        return webhooks.header(headers, webhooks.SIGNATURE_HEADER)[:512]

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(headers, body)

    def register_webhooks(self, receive_url: str) -> list[str]:
        """No subscription API in the simulator: nothing to subscribe."""
        return []

    def unregister_webhooks(self, receive_url: str) -> int:
        return 0
