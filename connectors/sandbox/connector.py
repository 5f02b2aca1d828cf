"""Connector for the sandbox shop simulator (sandbox/): Shopify REST Admin API 2024-01 shapes.

Used by the demo organization and the end-to-end tests, and the model for a
real Shopify connector: the same paths, headers, pagination, OAuth grants and
webhook signature.

Where it is: the integration's `api_endpoint` (the shop's root URL, e.g.
`http://127.0.0.1:8765`), else `settings.SANDBOX_URL`. The OAuth URLs in
`oauth` are paths relative to that root (Shopify's OAuth lives on each shop's
own host); join them with `connector.http.url_for(path)`.

Credentials: `api_key`/`api_secret` are the app's client id and secret;
`access_token`/`refresh_token` the tokens; `webhook_secret` signs webhooks
(Shopify signs with the client secret, so that is the fallback).
`config["rate_limit"]` (`{"requests": n, "per_seconds": s}` or null for none)
replaces the client-side limit when the sandbox runs with other limits.

Pulls yield the provider's records as they come; `mapping.py` (also reachable
as `normalize_order` & co. below) turns them into the ERP's words. A page's
cursor is Shopify's `page_info`, which carries the filters, so a crashed job
resumes from its checkpoint with `cursor=` alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from config.errors import ValidationError
from connectors.base import (
    AuthKind,
    Capability,
    ConnectionResult,
    Connector,
    OAuthMeta,
    Page,
    RateLimitPolicy,
    TokenSet,
    WebhookEvent,
)
from connectors.errors import ProviderError
from connectors.shopify_auth import ShopifyOAuth

from . import mapping, webhooks
from .client import AUTHORIZE_PATH, TOKEN_PATH, SandboxClient

if TYPE_CHECKING:
    from integrations.models import Integration


class SandboxConnector(ShopifyOAuth, Connector):
    key = "sandbox"
    display_name = "Sandbox shop"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    capabilities = frozenset({Capability.PRODUCTS, Capability.ORDERS, Capability.INVENTORY, Capability.FULFILLMENTS})
    base_url = ""  # resolved_base_url(): api_endpoint, else settings.SANDBOX_URL
    oauth = OAuthMeta(
        authorize_url=AUTHORIZE_PATH,
        token_url=TOKEN_PATH,
        default_scopes=("read_products", "read_orders", "read_inventory", "write_inventory",
                        "read_merchant_managed_fulfillment_orders", "write_merchant_managed_fulfillment_orders"),
        scope_separator=",",
    )
    webhook_scheme = "hmac-sha256-base64"
    rate_limit = RateLimitPolicy(requests=40, per_seconds=20.0)  # Shopify's standard bucket: 40, leaking 2/s
    docs_url = "https://shopify.dev/docs/api/admin-rest/2024-01"
    check_shop_domain = False  # the shop is wherever the simulator listens (127.0.0.1); HMACs are still checked

    normalize_order = staticmethod(mapping.normalize_order)
    normalize_product = staticmethod(mapping.normalize_product)
    normalize_inventory_level = staticmethod(mapping.normalize_inventory_level)

    def __init__(self, integration: Integration):
        super().__init__(integration)
        config = integration.config or {}
        if "rate_limit" in config:  # the sandbox runs with whatever limits it was started with
            limit = config["rate_limit"]
            self.rate_limit = RateLimitPolicy(int(limit["requests"]), float(limit.get("per_seconds", 1.0))) \
                if limit else None

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> SandboxClient:
        return SandboxClient(self.http)

    def resolved_base_url(self) -> str:
        return (self.integration.api_endpoint or settings.SANDBOX_URL).rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.access_token
        return {"X-Shopify-Access-Token": token} if token else {}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401

    # ------------------------------------------------------------------ tokens
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """Trade an authorization code for tokens (the OAuth callback calls this)."""
        body = self.client.token({**self._client_credentials(), "code": code}, action="exchange_code")
        return self._token_set(body)

    def refresh_access_token(self) -> TokenSet:
        """The refresh grant; the sandbox (like Shopify's expiring tokens) rotates the refresh token every time."""
        if not self.integration.refresh_token:
            raise ValidationError("The sandbox integration has no refresh token; connect it again.")
        form = {**self._client_credentials(), "grant_type": "refresh_token",
                "refresh_token": self.integration.refresh_token}
        return self._token_set(self.client.token(form, action="refresh_token"))

    def _client_credentials(self) -> dict[str, str]:
        client_id, client_secret = self.oauth_client_credentials()  # api_key/api_secret, else SANDBOX_CLIENT_ID/…
        if not (client_id and client_secret):
            raise ValidationError("The sandbox integration needs its client id (api_key) and secret (api_secret).")
        return {"client_id": client_id, "client_secret": client_secret}

    def account_display_name(self) -> str:
        return str(self.client.shop().get("name") or "")

    @staticmethod
    def _token_set(body: dict[str, Any]) -> TokenSet:
        expires_in = body.get("expires_in")
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None,
            scope=tuple(s for s in (body.get("scope") or "").split(",") if s),
        )

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            shop = self.client.shop()
        except ProviderError as exc:
            return ConnectionResult(ok=False, latency_ms=_ms(started), detail=f"{exc.code}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=_ms(started), detail=f"Connected to {shop.get('name', 'the shop')}"
                                f" ({shop.get('myshopify_domain', '')}).")

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {"status": "any"}
        if since is not None:
            params["updated_at_min"] = _query_time(since)
        return self._pages("orders", params, cursor)

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {}
        if since is not None:
            params["updated_at_min"] = _query_time(since)
        return self._pages("products", params, cursor)

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {}
        if cursor is None:  # a cursor already carries the locations; don't spend a call on them
            params["location_ids"] = ",".join(str(loc["id"]) for loc in self.client.locations())
            if since is not None:
                params["updated_at_min"] = _query_time(since)
        return self._pages("inventory_levels", params, cursor)

    def _pages(self, resource: str, params: dict[str, Any], cursor: str | None) -> Iterator[Page]:
        page_info = cursor
        while True:
            items, next_info = self.client.list_page(resource, params=params, page_info=page_info)
            yield Page(items=items, next_cursor=next_info)
            if not next_info:
                return
            page_info = next_info

    # ------------------------------------------------------------------ writes
    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set stock: each item has `available` and `inventory_item_id` (or `sku`), optionally `location_id`.

        Without a location the integration's `config["location_id"]`, else the shop's first location, is used.
        """
        default_location = (self.integration.config or {}).get("location_id")
        by_sku: dict[str, str] | None = None
        levels = []
        for item in items:
            if item.get("available") is None:
                raise ValidationError("Every stock item needs `available`.", details={"available": ["required"]})
            item_id = item.get("inventory_item_id")
            if not item_id and item.get("sku"):
                if by_sku is None:
                    by_sku = self._inventory_items_by_sku()
                item_id = by_sku.get(item["sku"])
            if not item_id:
                raise ValidationError(f"No inventory item for {item.get('sku') or item!r}.",
                                      details={"inventory_item_id": ["unknown or missing"]})
            location = item.get("location_id") or default_location
            if not location:
                location = default_location = self.client.locations()[0]["id"]
            level = self.client.set_inventory_level(inventory_item_id=int(item_id), location_id=int(location),
                                                    available=int(item["available"]))
            levels.append(mapping.normalize_inventory_level(level))
        return {"updated": len(levels), "levels": levels}

    def _inventory_items_by_sku(self) -> dict[str, str]:
        found = {}
        for page in self.iter_products():
            for product in page.items:
                for variant in product.get("variants") or []:
                    if variant.get("sku"):
                        found[variant["sku"]] = str(variant["inventory_item_id"])
        return found

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Fulfil an order through its fulfillment order, with tracking.

        `fulfillment`: `order_id` (the provider's), optional `lines` ([{line_item_id or sku, quantity}]; none =
        everything still open), `tracking_number`, `carrier`, `tracking_url`, `notify_customer`.
        """
        order_id = fulfillment.get("order_id")
        if not order_id:
            raise ValidationError("A fulfillment needs the order's provider id.", details={"order_id": ["required"]})
        open_orders = [fo for fo in self.client.fulfillment_orders(order_id) if fo["status"] in ("open", "in_progress")]
        if not open_orders:
            raise ValidationError(f"Order {order_id} has nothing left to fulfil.", details={"order_id": ["fulfilled"]})
        fo_lines = {line["line_item_id"]: (fo["id"], line) for fo in open_orders for line in fo["line_items"]}
        wanted = fulfillment.get("lines")
        groups: dict[int, list[dict[str, int]]] = {}
        if wanted:
            skus = None
            for line in wanted:
                line_item_id = line.get("line_item_id")
                if not line_item_id and line.get("sku"):
                    if skus is None:
                        skus = {li["sku"]: li["id"] for li in self.client.order(order_id)["line_items"]}
                    line_item_id = skus.get(line["sku"])
                if not line_item_id or int(line_item_id) not in fo_lines:
                    raise ValidationError(f"Order {order_id} has no open line {line.get('sku') or line_item_id}.",
                                          details={"lines": ["unknown line"]})
                fo_id, fo_line = fo_lines[int(line_item_id)]
                groups.setdefault(fo_id, []).append({"id": fo_line["id"], "quantity": int(line["quantity"])})
        else:
            for fo in open_orders:
                groups[fo["id"]] = [{"id": li["id"], "quantity": li["fulfillable_quantity"]}
                                    for li in fo["line_items"] if li["fulfillable_quantity"] > 0]
        tracking = {k: v for k, v in (("number", fulfillment.get("tracking_number")),
                                      ("company", fulfillment.get("carrier")),
                                      ("url", fulfillment.get("tracking_url"))) if v}
        body = {"fulfillment": {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo_id, "fulfillment_order_line_items": lines}
                                                for fo_id, lines in groups.items()],
            "tracking_info": tracking,
            "notify_customer": bool(fulfillment.get("notify_customer", False)),
        }}
        created = self.client.create_fulfillment(body)
        return {
            "external_id": str(created["id"]),
            "status": created.get("status", ""),
            "tracking_number": created.get("tracking_number") or "",
            "carrier": created.get("tracking_company") or "",
            "line_items": created.get("line_items", []),
        }

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        secret = self.integration.webhook_secret or self.integration.api_secret
        return webhooks.verify(headers, body, [secret])

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(headers, body)


def _query_time(value: datetime) -> str:
    """A `since` for updated_at_min: UTC, whole seconds (rounded down, so the boundary record comes again)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
