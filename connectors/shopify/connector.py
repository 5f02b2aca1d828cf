"""Shopify (Admin API, version = the SHOPIFY_API_VERSION setting): products, orders, inventory, fulfillments, webhooks.

Products are read with the GraphQL Admin API (graphql.py: every variant of a product, however
many; a full import as one bulk operation); orders, inventory levels, fulfillments and webhook
subscriptions stay on the REST Admin API of the same version (legacy since 2024-10, but served
on every supported version; only its `/products` and `/variants` endpoints are deprecated).

The shop: `config["shop_domain"]` (`name.myshopify.com`; the app-level webhook
address routes to the integration once its OAuth install claimed it), else the host of
`api_endpoint`; calls go to `api_endpoint` when set, else `https://{shop_domain}`.
An integration created in the admin or the API needs only the shop domain in
its config (no DNS lookup at save time); the OAuth connect sets both.

Auth: OAuth per shop (connectors/shopify/auth.py: the shop-domain and callback
HMAC checks), then `X-Shopify-Access-Token`. The app's client id and secret are
the integration's `api_key`/`api_secret`, else `credentials`, else the settings
`SHOPIFY_CLIENT_ID`/`SHOPIFY_CLIENT_SECRET`. Offline tokens do not expire; an
expiring offline token comes with a refresh token that rotates on every use.
A 401 refreshes when there is a refresh token; without one the token was
revoked (the app uninstalled), the refresh fails with TOKEN_EXPIRED's words and
the integration goes to `pending_auth` with `last_error` saying to reconnect.

Rate limits: a client-side bucket of Shopify's size (40 calls, 2/s; a Plus shop
sets `config["rate_limit"] = {"requests": 400, "per_seconds": 20}`), pacing on
the call-limit header (client.py), and every 429's Retry-After honoured by the
HTTP client.

Pulls yield Shopify's records as they come; `mapping.py` (also reachable as
`normalize_order` & co.) turns them into the ERP's words. An orders/inventory
page's cursor is Shopify's `page_info`, which carries the filters; a products
cursor is JSON naming the GraphQL `after` and search query, or the bulk operation
and how many of its products were written; either way a crashed job resumes from
its checkpoint with `cursor=` alone (a bulk export's file stays downloadable for a week).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from config.errors import ApplicationError, OAuthFailed, ValidationError
from connectors.base import (
    AuthKind,
    ConnectionResult,
    Connector,
    OAuthMeta,
    Page,
    ProviderAccount,
    RateLimitPolicy,
    TokenSet,
    WebhookEvent,
    provider_setting_variable,
)
from connectors.capabilities import DeliveryNotifier, ReturnsSource, ShopChannel, WebhookReceiver
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms

from . import delivery, mapping, webhooks
from .auth import ShopifyOAuth, normalized_shop, valid_shop_domain, verify_callback
from .client import AUTHORIZE_PATH, DEFAULT_API_VERSION, TOKEN_PATH, ShopifyClient
from .graphql import ProductsGraphQL, assemble, search_query

API_VERSION_FORMAT = re.compile(r"^\d{4}-(01|04|07|10)$")  # Shopify's quarterly stable versions
BULK_PAGE_SIZE = 250  # products of a bulk export written per page (one checkpoint each)
RETURNS_FIRST_LOOKBACK = timedelta(days=90)  # how far back a first returns sync reads refunds

if TYPE_CHECKING:
    from integrations.models import Integration


class ShopifyConnector(ShopifyOAuth, WebhookReceiver, ShopChannel, ReturnsSource, DeliveryNotifier, Connector):
    key = "shopify"
    display_name = "Shopify"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    # Stock semantics (README "Stock"):
    # Shopify lowers a location's `available` when an order is placed (the units move to `committed`);
    # `inventory_levels/set` writes `available`. One write per level: each is recorded as soon as it is confirmed.
    stock_nets_open_orders = True
    inventory_push_batch = 1
    base_url = ""  # per shop: resolved_base_url()
    oauth = OAuthMeta(
        authorize_url=AUTHORIZE_PATH,
        token_url=TOKEN_PATH,
        revoke_url="/admin/api_permissions/current.json",
        default_scopes=("read_products", "read_orders", "read_inventory", "write_inventory", "read_locations",
                        "read_merchant_managed_fulfillment_orders", "write_merchant_managed_fulfillment_orders"),
        scope_separator=",",
    )
    webhook_scheme = webhooks.SCHEME
    rate_limit = RateLimitPolicy(requests=40, per_seconds=20.0)  # the standard leaky bucket: 40, leaking 2/s
    docs_url = f"https://shopify.dev/docs/api/admin-graphql/{DEFAULT_API_VERSION}"
    routed_account_kinds = ("shopify.shop",)  # the app-level webhooks (webhooks.APP_ROUTE) name the shop
    # The app's OAuth client (an integration's own api_key/api_secret or credentials win; the secret also
    # verifies the app's webhooks), and how long a delivery's fingerprint makes a later one a replay.
    # API_VERSION: the Admin API version of every call (one place; a test fails when Shopify no longer supports
    # the default); BULK_*: how often a bulk product export is polled and how long one sync waits for it.
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "REPLAY_WINDOW_HOURS": "48",
                         "API_VERSION": DEFAULT_API_VERSION, "BULK_POLL_SECONDS": "5", "BULK_TIMEOUT_SECONDS": "1800"}

    normalize_order = staticmethod(mapping.normalize_order)
    normalize_product = staticmethod(mapping.normalize_product)
    normalize_inventory_level = staticmethod(mapping.normalize_inventory_level)
    normalize_return = staticmethod(mapping.normalize_refund)

    def __init__(self, integration: Integration):
        super().__init__(integration)
        limit = (integration.config or {}).get("rate_limit")
        if limit:  # Advanced and Plus shops have bigger buckets
            self.rate_limit = RateLimitPolicy(int(limit["requests"]), float(limit.get("per_seconds", 1.0)))

    # ------------------------------------------------------------------ the shop
    @property
    def client(self) -> ShopifyClient:
        policy = self.rate_limit
        return ShopifyClient(self.http, api_version=self.api_version(),
                             leak_per_second=policy.requests / policy.per_seconds if policy else None)

    def api_version(self) -> str:
        """The Admin API version of every call: the API_VERSION setting, checked to be a stable `YYYY-MM`."""
        version = self.setting("API_VERSION").strip()
        if not API_VERSION_FORMAT.match(version):
            raise ValidationError(f"{provider_setting_variable(self.key, 'API_VERSION')} must be a stable Shopify "
                                  f"Admin API version such as {DEFAULT_API_VERSION}, not {version!r}.",
                                  details={"API_VERSION": ["YYYY-01, -04, -07 or -10"]})
        return version

    def bulk_timing(self) -> tuple[float, float]:
        """(seconds between polls, seconds one sync waits) for a bulk product export."""
        return float(self.setting("BULK_POLL_SECONDS")), float(self.setting("BULK_TIMEOUT_SECONDS"))

    def bulk_import_enabled(self) -> bool:
        """A full product import runs as one bulk operation unless `config["bulk_import"]` is false."""
        return (self.integration.config or {}).get("bulk_import", True) is not False

    def shop_domain(self) -> str:
        """`name.myshopify.com`: the config's, else the api_endpoint's host; "" when neither is set."""
        configured = str((self.integration.config or {}).get("shop_domain") or "").strip().lower()
        return configured or (urlsplit(self.integration.api_endpoint).hostname or "").lower()

    def routed_accounts(self) -> list[ProviderAccount]:
        """The shop, when its domain is a myshopify.com one the callback was checked against (check_shop_domain)."""
        domain = self.shop_domain()
        if not (self.check_shop_domain and valid_shop_domain(domain)):
            return []
        return [ProviderAccount("shopify.shop", domain)]

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        domain = self.shop_domain()
        if not valid_shop_domain(domain):
            raise ValidationError(
                "The Shopify integration has no valid shop domain.",
                details={"config": ['Set "shop_domain" to the shop\'s name.myshopify.com domain.']},
            )
        return f"https://{domain}"

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.access_token
        return {"X-Shopify-Access-Token": token} if token else {}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401

    # ------------------------------------------------------------------ OAuth
    def oauth_connect_fields(self, *, shop: str = "") -> dict[str, Any]:
        """A new integration gets the shop's endpoint and `config["shop_domain"]`; an existing one keeps its shop."""
        if not self.check_shop_domain:  # a shop off myshopify.com (the sandbox): any http(s) URL, auth.py
            return super().oauth_connect_fields(shop=shop)
        if self.integration.pk is None:
            domain = normalized_shop(shop)
            return {"api_endpoint": f"https://{domain}", "config": {**(self.integration.config or {}),
                                                                    "shop_domain": domain}}
        known = self.shop_domain()
        if not valid_shop_domain(known):
            raise ValidationError("Set the integration's shop domain before connecting it.",
                                  details={"config": ['"shop_domain" must be name.myshopify.com']})
        if shop and normalized_shop(shop) != known:
            raise ValidationError("The shop is not the integration's.", details={"shop": ["does not match"]})
        return {}

    def validate_callback(self, query: Mapping[str, str]) -> None:
        """The callback's HMAC and age (auth.py), and its `shop` must be this integration's shop."""
        verify_callback(query, self.oauth_client_credentials()[1])
        if not self.check_shop_domain:  # a shop off myshopify.com (the sandbox): the HMAC is the check
            return
        shop = (query.get("shop") or "").lower()
        if not valid_shop_domain(shop):
            raise OAuthFailed("The callback names a shop outside myshopify.com.", details={"shop": ["invalid"]})
        if shop != self.shop_domain():
            raise OAuthFailed("The callback is for another shop.", details={"shop": ["does not match"]})

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        return _token_set(self.client.token({**self._client_credentials(), "code": code}, action="exchange_code"))

    def refresh_access_token(self) -> TokenSet:
        """Expiring offline tokens only (the refresh token rotates); a non-expiring token cannot be refreshed."""
        if not self.integration.refresh_token:
            raise AuthExpired(
                f"{self.display_name} refused the access token of the shop {self.shop_domain()} and it cannot be "
                "refreshed (the app was uninstalled or the token revoked); connect the shop again."
            )
        form = {**self._client_credentials(), "grant_type": "refresh_token",
                "refresh_token": self.integration.refresh_token}
        return _token_set(self.client.token(form, action="refresh_token"))

    def revoke_token(self) -> bool:
        """Uninstall the app from the shop (Shopify's only revocation); it deletes the app's webhooks too."""
        if not self.integration.access_token:
            return False
        self.client.revoke()
        return True

    def account_display_name(self) -> str:
        return str(self.client.shop().get("name") or "")

    def _client_credentials(self) -> dict[str, str]:
        client_id, client_secret = self.oauth_client_credentials()
        if not (client_id and client_secret):
            client_id_variable, secret_variable = (provider_setting_variable(self.key, name)
                                                   for name in ("CLIENT_ID", "CLIENT_SECRET"))
            raise ValidationError(f"The {self.display_name} integration needs the app's client id (api_key) and "
                                  f"secret (api_secret), or {client_id_variable}/{secret_variable}.")
        return {"client_id": client_id, "client_secret": client_secret}

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        """Read the shop. Any failure (no shop domain, DNS, network, a refused token) is a result, not a raise."""
        started = time.monotonic()
        try:
            shop = self.client.shop()
        except ApplicationError as exc:
            where = self.shop_domain() or "the shop"
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure(where, exc)}: {exc.code}: {exc.message}")
        name, domain = shop.get("name", "the shop"), shop.get("myshopify_domain", "")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"Connected to {name} ({domain}).")

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {"status": "any"}
        if since is not None:
            params["updated_at_min"] = _query_time(since)
        return self._pages("orders", params, cursor)

    def iter_returns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Refunds as returns: the refunds of the orders changed since `since` (a refund changes its order), read
        with the orders' ids alone. Shopify restocks a returned unit at its location itself; the ERP, which
        pushes stock in push mode, must know it came back or its next push would take the unit away again."""
        if since is None:  # a first sync: the returns that can still matter, not every order the shop ever had
            since = timezone.now() - RETURNS_FIRST_LOOKBACK
        params: dict[str, Any] = {"status": "any", "fields": "id,refunds", "updated_at_min": _query_time(since)}
        for page in self._pages("orders", params, cursor):
            yield Page(items=[{**refund, "order_id": refund.get("order_id") or order["id"]}
                              for order in page.items for refund in order.get("refunds") or []],
                       next_cursor=page.next_cursor)

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Products through GraphQL: changed since `since` page by page, or all of them in one bulk export."""
        state = _product_cursor(cursor)
        if state.get("mode") == "bulk" or (not state and since is None and self.bulk_import_enabled()):
            return self._bulk_product_pages(state)
        query = state["query"] if state else search_query(_query_time(since) if since is not None else None)
        return self._graphql_product_pages(query, state.get("after"))

    def _graphql_product_pages(self, query: str | None, after: str | None) -> Iterator[Page]:
        products = ProductsGraphQL(self.client)
        while True:
            items, after = products.products_page(after=after, query=query)
            yield Page(items=items, next_cursor=json.dumps({"mode": "paged", "after": after, "query": query})
                       if after else None)
            if not after:
                return

    def _bulk_product_pages(self, state: dict[str, Any]) -> Iterator[Page]:
        """Start (or resume) the bulk export, wait for it, then write its products BULK_PAGE_SIZE at a time."""
        products = ProductsGraphQL(self.client)
        operation = state.get("id") or products.start_bulk(query=None)
        poll, timeout = self.bulk_timing()
        finished = products.wait_bulk(operation, poll_seconds=poll, timeout_seconds=timeout)
        found = list(assemble(products.download(finished["url"]))) if finished.get("url") else []
        start = int(state.get("offset") or 0)
        if start >= len(found):
            yield Page(items=[], next_cursor=None)
            return
        for offset in range(start, len(found), BULK_PAGE_SIZE):
            end = offset + BULK_PAGE_SIZE
            yield Page(items=found[offset:end], next_cursor=json.dumps({"mode": "bulk", "id": operation, "offset": end})
                       if end < len(found) else None)

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
    def stock_locations(self) -> list[dict[str, Any]]:
        """The shop's locations; each takes stock writes."""
        return [{"id": str(loc["id"]), "name": str(loc.get("name") or ""), "pushable": True}
                for loc in self.client.locations()]

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
                    by_sku = ProductsGraphQL(self.client).inventory_items_by_sku(
                        sorted({str(i["sku"]) for i in items if i.get("sku") and not i.get("inventory_item_id")}))
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

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Fulfil an order through its fulfillment orders, with tracking (commerce's fulfillment_push calls this).

        `fulfillment`: `order_id` (Shopify's), optional `lines` ([{line_item_id or sku, quantity}]; none =
        everything still open), `tracking_number`, `carrier` (Shopify's company name, e.g. "UPS"),
        `tracking_url`, `notify_customer`. Only open and in-progress fulfillment orders are fulfilled.
        """
        order_id = fulfillment.get("order_id")
        if not order_id:
            raise ValidationError("A fulfillment needs the order's Shopify id.", details={"order_id": ["required"]})
        open_orders = [fo for fo in self.client.fulfillment_orders(order_id) if fo["status"] in ("open", "in_progress")]
        if not open_orders:
            raise ValidationError(f"Order {order_id} has nothing left to fulfil.", details={"order_id": ["fulfilled"]})
        groups = self._fulfillment_groups(order_id, open_orders, fulfillment.get("lines"))
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

    def push_delivery(self, delivery_info: dict[str, Any]) -> dict[str, Any] | None:
        """A `delivered` fulfillment event on the fulfillment our tracking push created (delivery.py)."""
        return delivery.fulfillment_delivered(
            self.client, order_id=str(delivery_info.get("order_id") or ""),
            fulfillment_id=str(delivery_info.get("fulfillment_external_id") or ""),
            happened_at=delivery_info.get("delivered_at"))

    def _fulfillment_groups(self, order_id: Any, open_orders: list[dict[str, Any]],
                            wanted: list[dict[str, Any]] | None) -> dict[int, list[dict[str, int]]]:
        """{fulfillment order id: [{id: its line id, quantity}]} for the wanted order lines (None: all still open)."""
        groups: dict[int, list[dict[str, int]]] = {}
        if not wanted:
            for fo in open_orders:
                lines = [{"id": li["id"], "quantity": li["fulfillable_quantity"]}
                         for li in fo["line_items"] if li["fulfillable_quantity"] > 0]
                if lines:
                    groups[fo["id"]] = lines
            return groups
        fo_lines = {int(line["line_item_id"]): (fo["id"], line) for fo in open_orders for line in fo["line_items"]}
        skus: dict[str, int] | None = None
        for line in wanted:
            line_item_id = line.get("line_item_id")
            if not line_item_id and line.get("sku"):
                if skus is None:
                    skus = {li["sku"]: li["id"] for li in self.client.order(order_id)["line_items"] if li.get("sku")}
                line_item_id = skus.get(line["sku"])
            if not line_item_id or int(line_item_id) not in fo_lines:
                raise ValidationError(f"Order {order_id} has no open line {line.get('sku') or line_item_id}.",
                                      details={"lines": ["unknown line"]})
            fo_id, fo_line = fo_lines[int(line_item_id)]
            groups.setdefault(fo_id, []).append({"id": fo_line["id"], "quantity": int(line["quantity"])})
        return groups

    # ------------------------------------------------------------------ webhooks
    def webhook_secrets(self) -> list[str]:
        """Signed with the app's client secret; `webhook_secret` may hold the previous one during a rotation."""
        return [self.oauth_client_credentials()[1], self.integration.webhook_secret]

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(headers, body)

    def webhook_replay_window(self) -> timedelta:
        return timedelta(hours=int(self.setting("REPLAY_WINDOW_HOURS")))

    def register_webhooks(self, receive_url: str) -> list[str]:
        """Subscribe `webhooks.TOPICS` to this integration's receive URL; topics already subscribed there are kept."""
        if not receive_url.startswith("https://"):
            raise ValidationError("Shopify delivers webhooks to HTTPS addresses only.",
                                  details={"PUBLIC_BASE_URL": [f"{settings.PUBLIC_BASE_URL!r} is not https"]})
        present = {hook["topic"] for hook in self.client.webhooks() if hook.get("address") == receive_url}
        missing = [topic for topic in webhooks.TOPICS if topic not in present]
        for topic in missing:
            self.client.create_webhook(topic=topic, address=receive_url)
        return missing

    def unregister_webhooks(self, receive_url: str) -> int:
        """Delete this app's subscriptions that deliver to this integration; one already gone counts as removed."""
        removed = 0
        for hook in self.client.webhooks():
            if hook.get("address") != receive_url:
                continue
            try:
                self.client.delete_webhook(hook["id"])
            except ProviderError as exc:
                if exc.status_code != 404:
                    raise
            removed += 1
        return removed


def _token_set(body: dict[str, Any]) -> TokenSet:
    """Shopify's token answer: `scope` comma-separated; `expires_in` only for online and expiring offline tokens."""
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_at=timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None,
        scope=tuple(s for s in (body.get("scope") or "").split(",") if s),
    )


def _product_cursor(cursor: str | None) -> dict[str, Any]:
    """A products checkpoint; {} for none (or one written before products moved to GraphQL: start over)."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    return state if isinstance(state, dict) and state.get("mode") in ("paged", "bulk") else {}


def _query_time(value: datetime) -> str:
    """A `since` for updated_at_min: UTC, whole seconds (rounded down, so the boundary record comes again)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
