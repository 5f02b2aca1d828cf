"""Connector for eBay sellers: Sell Fulfillment (orders, shipping fulfillments) and Sell Inventory (SKUs, stock).

Hosts: `is_test_mode` picks eBay's sandbox (`api.sandbox.ebay.com`, `auth.sandbox.ebay.com`,
`apiz.sandbox.ebay.com`), else production; `api_endpoint` overrides the API hosts (a proxy, tests).

Auth: OAuth authorization code grant with a user token (2 h) and a refresh token (~18 months) that a
refresh does NOT replace (tokens.py keeps the stored one). The app's client id and secret are the
integration's `credentials` (`client_id`/`client_secret`), else its `api_key`/`api_secret`, else the settings
`EBAY_CLIENT_ID`/`EBAY_CLIENT_SECRET`. eBay's `redirect_uri` is not a URL but the app's RuName
(`credentials["ru_name"]`, else `EBAY_RU_NAME`), whose accept URL at eBay must be Switchyard's callback.
A 401 refreshes once (the HTTP client); a refused refresh sends the integration to `pending_auth` with
`last_error` saying to reconnect (connectors/tokens.py).

Config: `marketplace_id` (`X-EBAY-C-MARKETPLACE-ID`, default EBAY_US), `content_language` (inventory
writes, default en-US), `notification_endpoint` (the exact URL given to eBay for notifications; default
this integration's receive URL); `ebay_user_id`/`ebay_username`, the seller, recorded by the connect from
the Commerce Identity API (`GET apiz.ebay.com/commerce/identity/v1/user/`) and matched against
AUTHORIZATION_REVOCATION notifications.

Orders: `GET /order?filter=lastmodifieddate:[since..]&limit=200&offset=n`; the cursor is a JSON string
`{"offset", "filter"}`, so a resumed job re-reads the same query from the same offset. Without `since`,
eBay serves the last 90 days. Products and stock: inventory items by offset (the Inventory API has no
modification filter: every pull is a full pull).

Rate limits: eBay meters daily call quotas per app (Fulfillment 100,000, Inventory 2,000,000 a day) and
answers 429 (errorId 2001) over them, without Retry-After: the HTTP client backs off and retries, and the
client-side bucket below keeps one integration from eating the app's quota.

Notifications: see webhooks.py (challenge, ECDSA signature, dedup on notificationId). Subscribing to topics
(Notification API destinations and subscriptions) is done at eBay by hand for now: register_webhooks is
the contract's no-op; MARKETPLACE_ACCOUNT_DELETION is an app-level topic configured in eBay's portal.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache
from django.utils import timezone

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
from connectors.capabilities import OAuthConnect, ShopChannel, WebhookReceiver
from connectors.errors import connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import token_set

from . import mapping, webhooks
from .client import (
    APP_SCOPE,
    AUTHORIZE_PATH,
    BULK_LIMIT,
    INVENTORY_PAGE_SIZE,
    ORDERS_PAGE_SIZE,
    PRODUCTION,
    SANDBOX,
    TOKEN_PATH,
    EbayClient,
)

logger = logging.getLogger(__name__)

SCOPES = (
    "https://api.ebay.com/oauth/api_scope",
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
    "https://api.ebay.com/oauth/api_scope/sell.account",
    "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly",  # who the seller is: account_display_name
)
PUBLIC_KEY_CACHE_SECONDS = 3600


class EbayConnector(OAuthConnect, WebhookReceiver, ShopChannel, Connector):
    key = "ebay"
    display_name = "eBay"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    # Stock semantics (README "Stock"): eBay's ship-to-home `quantity` is what is left for sale: sold units come off it.
    stock_nets_open_orders = True
    base_url = PRODUCTION["api"]
    oauth = OAuthMeta(authorize_url=PRODUCTION["auth"] + AUTHORIZE_PATH, token_url=PRODUCTION["api"] + TOKEN_PATH,
                      default_scopes=SCOPES)
    webhook_scheme = webhooks.SCHEME  # ECDSA by key id: verify_webhook below
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developer.ebay.com/api-docs/sell/fulfillment/overview.html"
    # eBay's immutable user id, read from the Identity API with the new token (account_display_name); the
    # username can change and be reused, so it routes nothing.
    routed_account_kinds = ("ebay.user",)
    # The eBay app (developer.ebay.com keyset): client id and secret, and its RuName (eBay's redirect_uri).
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "RU_NAME": ""}

    normalize_product = staticmethod(mapping.normalize_product)
    normalize_inventory_level = staticmethod(mapping.normalize_inventory_level)

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def hosts(self) -> dict[str, str]:
        return SANDBOX if self.integration.is_test_mode else PRODUCTION

    @property
    def client(self) -> EbayClient:
        return EbayClient(self.http, marketplace=str(self.config.get("marketplace_id") or "EBAY_US"),
                          content_language=str(self.config.get("content_language") or "en-US"))

    def resolved_base_url(self) -> str:
        return (self.integration.api_endpoint or self.hosts["api"]).rstrip("/")

    # ------------------------------------------------------------------ OAuth
    def oauth_meta(self) -> OAuthMeta:
        hosts = self.hosts
        return OAuthMeta(authorize_url=hosts["auth"] + AUTHORIZE_PATH, token_url=hosts["api"] + TOKEN_PATH,
                         default_scopes=SCOPES)

    def oauth_client_credentials(self) -> tuple[str, str]:
        """`credentials` client_id/secret, else api_key/api_secret, else EBAY_CLIENT_ID/EBAY_CLIENT_SECRET."""
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        if credentials.get("client_id"):
            return str(credentials["client_id"]), str(credentials.get("client_secret") or "")
        if self.integration.api_key:
            return self.integration.api_key, self.integration.api_secret
        return self.setting("CLIENT_ID"), self.setting("CLIENT_SECRET")

    def ru_name(self) -> str:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        name = str(credentials.get("ru_name") or self.setting("RU_NAME"))
        if not name:
            raise ValidationError("eBay needs the app's RuName (redirect URL name) as its redirect_uri.",
                                  details={"credentials": ['Set "ru_name", or EBAY_RU_NAME.']})
        return name

    def authorize_url(self, *, state: str, redirect_uri: str, scopes, code_challenge: str = "", **params: str) -> str:
        """eBay's consent page; the redirect_uri sent is the RuName (eBay then redirects to its accept URL)."""
        return super().authorize_url(state=state, redirect_uri=self.ru_name(), scopes=scopes, **params)

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.ru_name()}
        return self._token(form, action="exchange_code")

    def refresh_access_token(self) -> TokenSet:
        """The refresh grant; eBay answers no new refresh token (the stored one stays valid ~18 months)."""
        if not self.integration.refresh_token:
            raise ValidationError(f"The eBay integration {self.integration.code} has no refresh token; connect it "
                                  "again.")
        scopes = self.integration.scope or list(SCOPES)
        form = {"grant_type": "refresh_token", "refresh_token": self.integration.refresh_token,
                "scope": " ".join(scopes)}
        return self._token(form, action="refresh_token")

    def application_token(self) -> str:
        """A client-credentials token (the Notification API's public keys need one); not stored anywhere."""
        form = {"grant_type": "client_credentials", "scope": APP_SCOPE}
        return self._token(form, action="application_token").access_token

    def account_display_name(self) -> str:
        """The seller's eBay username, from the Commerce Identity API; records who the seller is in `config`.

        Sets `config["ebay_user_id"]` (eBay's immutable user id) and `config["ebay_username"]` on the
        integration in memory; the connect (integrations/oauth/flow.py) saves them with the tokens, and
        AUTHORIZATION_REVOCATION is matched against them (seller_accounts). The username can change at eBay
        (and eBay may withhold it), the user id cannot: the name falls back to the id. Raises what the call
        raises — a grant without the commerce.identity.readonly scope is refused with a 403 — which the
        connect logs and goes on without (no name, nothing recorded).
        """
        host = self.integration.api_endpoint or self.hosts["identity"]  # api_endpoint: a proxy, tests
        user = self.client.user(host=host)
        user_id, username = str(user.get("userId") or ""), str(user.get("username") or "")
        if user_id or username:  # both replaced: a reconnect may be another seller's account
            self.integration.config = {**self.config, "ebay_user_id": user_id, "ebay_username": username}
        return username or user_id

    def _token(self, form: dict[str, str], *, action: str) -> TokenSet:
        client_id, client_secret = self.oauth_client_credentials()
        if not (client_id and client_secret):
            raise ValidationError("The eBay integration needs the app's client id and secret (credentials, "
                                  "api_key/api_secret, or EBAY_CLIENT_ID/EBAY_CLIENT_SECRET).")
        body = self.client.token(form, client_id=client_id, client_secret=client_secret, action=action)
        return token_set(body)

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            body = self.client.orders_page(offset=0, limit=1, action="test_connection")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('eBay', exc)}: {exc.code}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to eBay ({self.client.marketplace}, "
                                       f"{'sandbox' if self.integration.is_test_mode else 'production'}): "
                                       f"{body.get('total', 0)} orders in the last 90 days.")

    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        """An order as pulled; a notification's bare `{"orderId"}` is fetched first (one call)."""
        if "lineItems" not in record and record.get("orderId"):
            record = self.client.order(str(record["orderId"]))
        return mapping.normalize_order(record)

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        state = _read_cursor(cursor) if cursor else {"offset": 0, "filter": _modified_filter(since)}
        offset = int(state["offset"])
        while True:
            body = self.client.orders_page(offset=offset, filter_=state["filter"])
            orders = list(body.get("orders") or [])
            offset += int(body.get("limit") or ORDERS_PAGE_SIZE)
            done = not body.get("next") or not orders
            yield Page(items=orders, next_cursor=None if done else json.dumps({**state, "offset": offset}))
            if done:
                return

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        return self._inventory_pages(cursor, mapping.group_products)

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        return self._inventory_pages(cursor, lambda items: items)

    def _inventory_pages(self, cursor: str | None, shape) -> Iterator[Page]:
        offset = int(_read_cursor(cursor)["offset"]) if cursor else 0
        while True:
            body = self.client.inventory_page(offset=offset)
            items = list(body.get("inventoryItems") or [])
            offset += int(body.get("limit") or INVENTORY_PAGE_SIZE)
            done = not body.get("next") or not items
            yield Page(items=shape(items), next_cursor=None if done else json.dumps({"offset": offset}))
            if done:
                return

    # ------------------------------------------------------------------ writes
    def stock_locations(self) -> list[dict[str, Any]]:
        """eBay keeps one ship-to-home figure per SKU: one location, the id its levels carry."""
        return [{"id": mapping.LOCATION, "name": "eBay ship-to-home", "pushable": True}]

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set each SKU's ship-to-home quantity (`inventory_item_id` is the SKU, else `sku`), 25 per request.

        eBay answers per SKU; SKUs it refused are reported in `failed` (`{sku, status_code, message}`).
        """
        updates = []
        for item in items:
            sku = item.get("inventory_item_id") or item.get("sku")
            if not sku or item.get("available") is None:
                raise ValidationError("Every stock item needs a SKU (inventory_item_id or sku) and `available`.",
                                      details={"sku": ["required"], "available": ["required"]})
            quantity = max(0, int(item["available"]))
            updates.append({"sku": str(sku), "shipToLocationAvailability": {"quantity": quantity}})
        failed = []
        for start in range(0, len(updates), BULK_LIMIT):
            answer = self.client.bulk_update_price_quantity(updates[start:start + BULK_LIMIT])
            for response in answer.get("responses") or []:
                if int(response.get("statusCode") or 200) >= 400:
                    errors = response.get("errors") or [{}]
                    failed.append({"sku": response.get("sku"), "status_code": response.get("statusCode"),
                                   "message": str(errors[0].get("message") or "")})
        return {"updated": len(updates) - len(failed), "failed": failed}

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Create a shipping fulfillment: the lines shipped, the carrier and the tracking number.

        `fulfillment`: `order_id` (eBay's orderId), optional `lines` ([{line_item_id or sku, quantity}]; none =
        every line item not yet fulfilled, as the order says), `tracking_number`, `carrier_code` (eBay's
        shippingCarrierCode, e.g. USPS, DHL) else `carrier`, optional `shipped_at`. eBay answers 201 with the
        new fulfillment's URL in `Location`; errors 32100 (bad order) and 32300 (bad tracking or carrier) are
        ProviderErrors (permanent).
        """
        order_id = str(fulfillment.get("order_id") or "")
        if not order_id:
            raise ValidationError("A fulfillment needs the order's eBay orderId.", details={"order_id": ["required"]})
        carrier = str(fulfillment.get("carrier_code") or fulfillment.get("carrier") or "")
        number = str(fulfillment.get("tracking_number") or "")
        if not (carrier and number):
            raise ValidationError("eBay needs a carrier code and a tracking number to record a shipment.",
                                  details={"carrier_code": ["required"], "tracking_number": ["required"]})
        lines = self._fulfillment_lines(order_id, fulfillment.get("lines"))
        shipped = fulfillment.get("shipped_at") or timezone.now()
        body = {"lineItems": lines, "shippedDate": _ebay_time(shipped), "shippingCarrierCode": carrier,
                "trackingNumber": number}
        response = self.client.create_shipping_fulfillment(order_id, body)
        location = response.headers.get("Location", "")
        return {"external_id": urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] if location else "",
                "status": "shipped", "tracking_number": number, "carrier": carrier, "line_items": lines}

    def _fulfillment_lines(self, order_id: str, wanted: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        if wanted and all(line.get("line_item_id") for line in wanted):
            return [{"lineItemId": str(line["line_item_id"]), "quantity": int(line["quantity"])} for line in wanted]
        order = self.client.order(order_id)
        items = order.get("lineItems") or []
        if not wanted:
            lines = [{"lineItemId": str(li["lineItemId"]), "quantity": int(li["quantity"])}
                     for li in items if li.get("lineItemFulfillmentStatus") != "FULFILLED"]
            if not lines:
                raise ValidationError(f"Order {order_id} has nothing left to ship.",
                                      details={"order_id": ["fulfilled"]})
            return lines
        by_sku = {li.get("sku"): str(li["lineItemId"]) for li in items if li.get("sku")}
        lines = []
        for line in wanted:
            line_id = line.get("line_item_id") or by_sku.get(line.get("sku"))
            if not line_id:
                raise ValidationError(f"Order {order_id} has no line {line.get('sku')!r}.",
                                      details={"lines": ["unknown line"]})
            lines.append({"lineItemId": str(line_id), "quantity": int(line["quantity"])})
        return lines

    # ------------------------------------------------------------------ notifications
    def notification_endpoint(self, receive_url: str) -> str:
        """The URL given to eBay: `config["notification_endpoint"]`, else this integration's receive URL."""
        return str(self.config.get("notification_endpoint") or receive_url)

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                          *, receive_url: str) -> tuple[int, Any] | None:
        """eBay's endpoint validation: `GET ?challenge_code=` → 200 `{"challengeResponse": …}`.

        The verification token is the integration's `webhook_secret` (what was typed into eBay's portal);
        without one the GET is no handshake of ours (None), so nothing is confirmed to a stranger.
        """
        code = query.get("challenge_code") or ""
        token = self.integration.webhook_secret
        if method.upper() != "GET" or not code or not token:
            return None
        answer = webhooks.challenge_response(code, token, self.notification_endpoint(receive_url))
        return 200, {"challengeResponse": answer}

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """ECDSA over the raw body with eBay's public key for the header's `kid` (fetched, cached an hour)."""
        signature = webhooks.signature_header(headers)
        if signature is None:
            return False
        try:
            key = self.notification_public_key(str(signature["kid"]))
        except (ApplicationError, KeyError, ValueError) as exc:
            logger.warning("eBay public key %s not fetched for %s: %s", signature["kid"], self.integration.code,
                           getattr(exc, "code", type(exc).__name__))
            return False
        return webhooks.verify(signature, body, key)

    def notification_public_key(self, kid: str) -> str:
        """The PEM of a notification key id, from Django's cache (an hour, as eBay advises) or the API."""
        cache_key = f"ebay:{'sandbox' if self.integration.is_test_mode else 'production'}:public_key:{kid}"
        found = cache.get(cache_key)
        if found is None:
            answer = self.client.public_key(kid, app_token=self.application_token())
            found = str(answer["key"])
            cache.set(cache_key, found, PUBLIC_KEY_CACHE_SECONDS)
        return found

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body, accounts=self.seller_accounts())

    def routed_accounts(self) -> list[ProviderAccount]:
        user_id = str(self.config.get("ebay_user_id") or "").strip()
        return [ProviderAccount("ebay.user", user_id)] if user_id else []

    def seller_accounts(self) -> frozenset[str]:
        """The eBay user this integration is connected as: `config["ebay_username"]`/`["ebay_user_id"]` (a connect
        records them: account_display_name; an operator may set them), or the account name a connect recorded.
        Empty: no revocation can be matched to it (it is then ignored)."""
        known = (self.config.get("ebay_username"), self.config.get("ebay_user_id"),
                 (self.integration.metadata or {}).get("account_name"))
        return frozenset(str(value) for value in known if value)


# ---------------------------------------------------------------------- helpers
def _modified_filter(since: datetime | None) -> str:
    """`lastmodifieddate:[2024-01-01T00:00:00.000Z..]`; "" without since (eBay's 90 days)."""
    return f"lastmodifieddate:[{_ebay_time(since)}..]" if since else ""


def _ebay_time(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _read_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = json.loads(cursor)
        int(state["offset"])
    except (ValueError, TypeError, KeyError):
        raise ValidationError("The eBay sync cursor is unreadable; start the sync without it.",
                              details={"cursor": ["not an eBay offset cursor"]}) from None
    state.setdefault("filter", "")
    return state

