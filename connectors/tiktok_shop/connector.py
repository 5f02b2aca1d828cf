"""Connector for TikTok Shop sellers (Open API, 202309 versions): orders, products, stock, shipping, webhooks.

App: the app key and secret are the integration's `credentials` (`client_id`/`client_secret`), else its
`api_key`/`api_secret`, else the settings `TIKTOK_SHOP_CLIENT_ID`/`TIKTOK_SHOP_CLIENT_SECRET`; the secret
signs every call (signing.py, client.py) and verifies webhooks. Host: `api_endpoint`, else
open-api.tiktokglobalshop.com (TikTok has no separate sandbox host: `is_test_mode` changes nothing here).

Auth: the seller authorizes on services.tiktokshop.com (`service_id`: `credentials["service_id"]` or
`TIKTOK_SHOP_SERVICE_ID`); the callback brings `code` (older apps: `auth_code`); token get and refresh are
GETs on auth.tiktok-shops.com whose `*_expire_in` are Unix timestamps (the expiry instant, not a duration).
The access token goes in `x-tts-access-token`. Envelope codes 105001/105002/105005 (token invalid, expired,
not for this shop) or an HTTP 401 refresh once; a refused refresh (36004001, 36004005) sends the integration
to `pending_auth` (connectors/tokens.py).

Shop: shop resources need the shop's cipher: `config["shop_cipher"]`, else looked up once from
/authorization/202309/shops (the shop of `config["shop_id"]`, else the only one) and saved in config.

Pulls: orders by `update_time_ge` with TikTok's page token, sorted by update time; the cursor is a JSON
string `{"page_token", "filters"}`, so a resumed job re-runs the same search from the same page. Each page's
returns are looked up in one call, for the refunded status (mapping.py). Products the same way; stock is
the products' SKUs per warehouse.

Rate limits: TikTok throttles per app and shop; a 429 is retried by the HTTP client (Retry-After if sent,
else backoff), a throttling envelope code raises RateLimited (transient) so the job is retried later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from config.errors import ApplicationError, ValidationError
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
)
from connectors.capabilities import LabelSource, OAuthConnect, ShopChannel, WebhookReceiver
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms

from . import labels, mapping, webhooks
from .client import API_URL, AUTH_CODES, AUTHORIZE_URL, TOKEN_GET, TOKEN_REFRESH, TikTokShopClient, envelope_code

WEBHOOK_EVENTS = ("ORDER_STATUS_CHANGE", "RECIPIENT_ADDRESS_UPDATE", "PACKAGE_UPDATE")


class TikTokShopConnector(OAuthConnect, WebhookReceiver, ShopChannel, LabelSource, Connector):
    key = "tiktok_shop"
    display_name = "TikTok Shop"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    # Stock semantics (README "Stock"): TikTok Shop lowers a warehouse's quantity when an order is placed.
    stock_nets_open_orders = True
    base_url = API_URL
    oauth = OAuthMeta(authorize_url=AUTHORIZE_URL, token_url=TOKEN_GET)
    webhook_scheme = webhooks.SCHEME  # HMAC of app_key + body: verify_webhook below
    rate_limit = RateLimitPolicy(requests=20, per_seconds=1.0)
    docs_url = "https://partner.tiktokshop.com/docv2/page/seller-api-overview"
    routed_account_kinds = ("tiktok_shop.shop",)  # the shop id every webhook body carries
    # The TikTok Shop app: app key and secret (the secret signs every call and verifies webhooks) and the service
    # id its authorization page takes.
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "SERVICE_ID": ""}

    normalize_product = staticmethod(mapping.normalize_product)
    normalize_inventory_level = staticmethod(mapping.normalize_inventory_level)

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def client(self) -> TikTokShopClient:
        app_key, app_secret = self.oauth_client_credentials()
        if not (app_key and app_secret):
            raise ValidationError("TikTok Shop needs the app key and secret (credentials, api_key/api_secret, or "
                                  "TIKTOK_SHOP_CLIENT_ID/TIKTOK_SHOP_CLIENT_SECRET).",
                                  details={"credentials": ["client_id and client_secret are required"]})
        return TikTokShopClient(self.http, app_key=app_key, app_secret=app_secret, shop_cipher=self.shop_cipher)

    def oauth_client_credentials(self) -> tuple[str, str]:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        if credentials.get("client_id"):
            return str(credentials["client_id"]), str(credentials.get("client_secret") or "")
        if self.integration.api_key:
            return self.integration.api_key, self.integration.api_secret
        return self.setting("CLIENT_ID"), self.setting("CLIENT_SECRET")

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.access_token
        return {"x-tts-access-token": token} if token else {}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401 or envelope_code(response) in AUTH_CODES

    def shop_cipher(self) -> str:
        """The shop's cipher: from config, else the authorized shops (saved into config once found)."""
        cipher = str(self.config.get("shop_cipher") or "")
        if cipher:
            return cipher
        shops = self.client.shops()
        wanted = str(self.config.get("shop_id") or "")
        chosen = [s for s in shops if str(s.get("id")) == wanted] if wanted else shops[:1] if len(shops) == 1 else []
        if not chosen:
            raise ValidationError("Say which TikTok shop this integration is: set config['shop_id'] to one of "
                                  f"{', '.join(str(s.get('id')) for s in shops) or 'the authorized shops'}.",
                                  details={"config": ["shop_id"]})
        shop = chosen[0]
        self.integration.config = {**self.config, "shop_id": str(shop.get("id")), "shop_cipher": shop["cipher"]}
        if self.integration.pk:
            self.integration.save(update_fields=["config", "updated_at"])
        return str(shop["cipher"])

    # ------------------------------------------------------------------ OAuth
    def authorize_url(self, *, state: str, redirect_uri: str, scopes, code_challenge: str = "", **params: str) -> str:
        """TikTok's authorization page takes the app's service id and the state; the redirect is set in the app."""
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        service_id = str(credentials.get("service_id") or self.setting("SERVICE_ID"))
        if not service_id:
            raise ValidationError("TikTok Shop's authorization page needs the app's service id.",
                                  details={"credentials": ['Set "service_id", or TIKTOK_SHOP_SERVICE_ID.']})
        return f"{AUTHORIZE_URL}?{urlencode({'service_id': service_id, 'state': state})}"

    def callback_code(self, query: Mapping[str, str]) -> str:
        return query.get("code") or query.get("auth_code") or ""

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        data = self.client.token(TOKEN_GET, {"auth_code": code, "grant_type": "authorized_code"},
                                 action="exchange_code")
        return _token_set(data)

    def refresh_access_token(self) -> TokenSet:
        if not self.integration.refresh_token:
            raise ValidationError(f"The TikTok Shop integration {self.integration.code} has no refresh token; "
                                  "connect it again.")
        data = self.client.token(TOKEN_REFRESH, {"refresh_token": self.integration.refresh_token,
                                                 "grant_type": "refresh_token"}, action="refresh_token")
        return _token_set(data)

    def account_display_name(self) -> str:
        """The shop's name when the grant covers one shop, whose id it records in `config["shop_id"]` (read with
        the new token, so the connect proves it; a grant of several shops leaves the choice to the operator)."""
        shops = self.client.shops()
        if len(shops) != 1:
            return ""
        shop_id = str(shops[0].get("id") or "")
        if shop_id and not self.config.get("shop_id"):
            self.integration.config = {**self.config, "shop_id": shop_id}
        return str(shops[0].get("name") or "")

    def routed_accounts(self) -> list[ProviderAccount]:
        shop_id = str(self.config.get("shop_id") or "").strip()
        return [ProviderAccount("tiktok_shop.shop", shop_id)] if shop_id else []

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            shops = self.client.shops()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('TikTok Shop', exc)}: {exc.code}: {exc.message}")
        names = ", ".join(f"{s.get('name')} ({s.get('region')})" for s in shops) or "no shop"
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"Connected to TikTok Shop: {names}.")

    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        """An order as pulled; a webhook's `{id, status}` is fetched (with its returns) first."""
        if "line_items" not in record and record.get("id"):
            [record] = self._with_returns(self.client.orders([str(record["id"])])) or [record]
        return mapping.normalize_order(record)

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        filters = {"update_time_ge": _seconds(since)} if since else {}
        return self._pages(cursor, filters, self.client.orders_page, "orders", self._with_returns)

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        filters = {"update_time_ge": _seconds(since)} if since else {}
        return self._pages(cursor, filters, self.client.products_page, "products", lambda items: items)

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        return self._pages(cursor, {}, self.client.products_page, "products",
                           lambda items: [r for p in items for r in mapping.stock_records(p)])

    def _pages(self, cursor: str | None, filters: dict[str, Any], fetch, key: str, shape) -> Iterator[Page]:
        state = _read_cursor(cursor) if cursor else {"page_token": "", "filters": filters}
        while True:
            data = fetch(page_token=state["page_token"], filters=state["filters"])
            items = list(data.get(key) or [])
            token = str(data.get("next_page_token") or "")
            done = not token or not items
            yield Page(items=shape(items), next_cursor=None if done else json.dumps({**state, "page_token": token}))
            if done:
                return
            state = {**state, "page_token": token}

    def _with_returns(self, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Attach each order's return/refund records (one call for the page), for the refunded status."""
        if not orders:
            return orders
        found: dict[str, list[dict[str, Any]]] = {}
        for reverse in self.client.returns([str(o["id"]) for o in orders if o.get("id")]):
            found.setdefault(str(reverse.get("order_id")), []).append(reverse)
        return [{**order, "returns": found.get(str(order.get("id")), [])} for order in orders]

    # ------------------------------------------------------------------ writes
    def stock_locations(self) -> list[dict[str, Any]]:
        """The shop's warehouses; sales warehouses take stock writes, return warehouses do not."""
        return [{"id": str(w["id"]), "name": str(w.get("name") or ""),
                 "pushable": w.get("type") in (None, "SALES_WAREHOUSE")} for w in self.client.warehouses()]

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set stock per SKU and warehouse; `inventory_item_id` is `{product_id}:{sku_id}` (the product import's).

        The warehouse is the item's `location_id`, else `config["warehouse_id"]`, else the shop's default
        sales warehouse. One call per product.
        """
        by_product: dict[str, list[dict[str, Any]]] = {}
        default_warehouse = None
        for item in items:
            product_id, _, sku_id = str(item.get("inventory_item_id") or "").partition(":")
            if not (product_id and sku_id) or item.get("available") is None:
                raise ValidationError("Every stock item needs a TikTok inventory_item_id (product:sku, from the "
                                      "product import) and `available`.",
                                      details={"inventory_item_id": ["product_id:sku_id"], "available": ["required"]})
            warehouse = item.get("location_id") or self.config.get("warehouse_id")
            if not warehouse:
                default_warehouse = default_warehouse or self._default_warehouse()
                warehouse = default_warehouse
            by_product.setdefault(product_id, []).append(
                {"id": sku_id, "inventory": [{"warehouse_id": str(warehouse),
                                              "quantity": max(0, int(item["available"]))}]})
        for product_id, skus in by_product.items():
            self.client.update_inventory(product_id, skus)
        return {"updated": sum(len(s) for s in by_product.values()), "products": sorted(by_product)}

    def _default_warehouse(self) -> str:
        warehouses = self.client.warehouses()
        sales = [w for w in warehouses if w.get("type") in (None, "SALES_WAREHOUSE")]
        chosen = next((w for w in sales if w.get("is_default")), sales[0] if sales else None)
        if chosen is None:
            raise ValidationError("The TikTok shop has no sales warehouse; set config['warehouse_id'].")
        return str(chosen["id"])

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Ship order lines in one package with the seller's carrier and tracking number.

        `fulfillment`: `order_id`, optional `lines` ([{line_item_id or sku, quantity}]; a TikTok line item is
        one unit, so a sku with quantity n takes n unshipped line items), `tracking_number`, `carrier_code`
        (TikTok's shipping_provider_id) else `config["shipping_providers"][carrier]`.
        """
        order_id = str(fulfillment.get("order_id") or "")
        number = str(fulfillment.get("tracking_number") or "")
        carrier = str(fulfillment.get("carrier") or "")
        provider_id = str(fulfillment.get("carrier_code") or (self.config.get("shipping_providers") or {}).get(
            carrier) or "")
        if not (order_id and number and provider_id):
            raise ValidationError("TikTok Shop needs the order id, a tracking number and a shipping provider id "
                                  "(carrier_code, or config['shipping_providers'][carrier]).",
                                  details={"order_id": ["required"], "tracking_number": ["required"],
                                           "carrier_code": ["required"]})
        line_ids = self._line_ids(order_id, fulfillment.get("lines"))
        body = {"tracking_number": number, "shipping_provider_id": provider_id, "order_line_item_ids": line_ids}
        data = self.client.create_package(order_id, body)
        return {"external_id": str(data.get("package_id") or ""), "status": "shipped", "tracking_number": number,
                "carrier": carrier or provider_id, "line_items": line_ids}

    def fetch_label(self, label: dict[str, Any]) -> dict[str, Any]:
        """The package's shipping label (labels.py); `config["label_size"]` A6 (default) or A5."""
        size = str(self.config.get("label_size") or "A6").upper()
        if size not in labels.DOCUMENT_SIZES:
            raise ValidationError("config.label_size must be A6 or A5.", details={"config.label_size": [size]})
        return labels.shipping_label(self.client, str(label.get("fulfillment_external_id") or ""), size=size)

    def _line_ids(self, order_id: str, wanted: list[dict[str, Any]] | None) -> list[str]:
        if wanted and all(line.get("line_item_id") for line in wanted):
            return [str(line["line_item_id"]) for line in wanted]
        orders = self.client.orders([order_id])
        if not orders:
            raise ValidationError(f"TikTok Shop has no order {order_id}.", details={"order_id": ["unknown"]})
        open_lines = [li for li in orders[0].get("line_items") or []
                      if not li.get("package_id") and li.get("display_status") not in mapping.SHIPPED_LINE_STATUSES]
        if not wanted:
            if not open_lines:
                raise ValidationError(f"Order {order_id} has nothing left to ship.", details={"order_id": ["shipped"]})
            return [str(li["id"]) for li in open_lines]
        chosen: list[str] = []
        for line in wanted:
            if line.get("line_item_id"):
                chosen.append(str(line["line_item_id"]))
                continue
            free = [str(li["id"]) for li in open_lines if li.get("seller_sku") == line.get("sku")
                    and str(li["id"]) not in chosen]
            if len(free) < int(line.get("quantity") or 1):
                raise ValidationError(f"Order {order_id} has not {line.get('quantity')} unshipped {line.get('sku')}.",
                                      details={"lines": ["unknown line"]})
            chosen.extend(free[:int(line.get("quantity") or 1)])
        return chosen

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        app_key, app_secret = self.oauth_client_credentials()
        return webhooks.verify(headers, body, app_key=app_key, secrets=[app_secret])

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body, shop_id=str(self.config.get("shop_id") or ""))

    def register_webhooks(self, receive_url: str) -> list[str]:
        """Point the shop's order webhooks at this integration's receive URL (one address per event type)."""
        present = {w.get("event_type") for w in self.client.webhooks() if w.get("address") == receive_url}
        missing = [event for event in WEBHOOK_EVENTS if event not in present]
        for event in missing:
            self.client.put_webhook(address=receive_url, event_type=event)
        return missing


# ---------------------------------------------------------------------- helpers
def _token_set(data: dict[str, Any]) -> TokenSet:
    """TikTok's token data; `access_token_expire_in` is the Unix time it expires at."""
    if not data.get("access_token"):
        raise ProviderError("TikTok Shop answered without an access token.", transient=False)
    expires = data.get("access_token_expire_in")
    return TokenSet(
        access_token=str(data["access_token"]),
        refresh_token=str(data.get("refresh_token") or "") or None,
        expires_at=datetime.fromtimestamp(int(expires), tz=UTC) if expires else None,
        scope=tuple(str(s) for s in data.get("granted_scopes") or ()),
    )


def _seconds(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _read_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = json.loads(cursor)
        state["page_token"], state["filters"]  # noqa: B018 - both must be there
    except (ValueError, TypeError, KeyError):
        raise ValidationError("The TikTok Shop sync cursor is unreadable; start the sync without it.",
                              details={"cursor": ["not a TikTok Shop page cursor"]}) from None
    return state
