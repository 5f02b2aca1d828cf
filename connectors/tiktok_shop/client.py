"""HTTP calls to TikTok Shop's Open API (202309 versions, pinned in the paths here and only here), signed.

Every call goes through `TikTokShopClient.call`: it adds `app_key`, `timestamp` and (for shop resources)
`shop_cipher` to the query, signs path + query + the exact body bytes (signing.py), and sends that through
the one provider client (retries, refresh, rate limit, call log). The timestamp is taken once per call; the
HTTP client's retries (at most PROVIDER_MAX_RETRIES waits of ≤ 60 s) stay inside TikTok's 5-minute window.

TikTok answers HTTP 200 with an envelope `{code, message, request_id, data}`; `code != 0` is an error, turned
into a typed one here (`envelope_error`). The token endpoints live on another host (auth.tiktok-shops.com),
are plain GETs with the app secret in the query (the call log redacts it by name) and are not signed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connectors.errors import AuthExpired, ProviderError, RateLimited

from . import signing

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

API_URL = "https://open-api.tiktokglobalshop.com"
AUTH_URL = "https://auth.tiktok-shops.com"
AUTHORIZE_URL = "https://services.tiktokshop.com/open/authorize"
TOKEN_GET = f"{AUTH_URL}/api/v2/token/get"
TOKEN_REFRESH = f"{AUTH_URL}/api/v2/token/refresh"
VERSION = "202309"
PAGE_SIZE = 50  # orders/products search: at most 100
SHOPS = f"/authorization/{VERSION}/shops"
ORDERS_SEARCH = f"/order/{VERSION}/orders/search"
ORDERS = f"/order/{VERSION}/orders"
PRODUCTS_SEARCH = f"/product/{VERSION}/products/search"
WAREHOUSES = f"/logistics/{VERSION}/warehouses"
RETURNS_SEARCH = f"/return_refund/{VERSION}/returns/search"
WEBHOOKS = f"/event/{VERSION}/webhooks"

# Envelope codes (TikTok's error-code list; the throttling one is UNCONFIRMED, see the README note).
AUTH_CODES = frozenset({105001, 105002, 105005})  # access token invalid / expired / not authorized for the shop
REFRESH_REFUSED = frozenset({36004001, 36004005})  # refresh token expired / no such authorization
BAD_SIGNATURE = 106001
BAD_TIMESTAMP = 36009004
THROTTLED = frozenset({36009003})

clock: Callable[[], float] = time.time  # tests pin it


def envelope_code(response: requests.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def envelope_error(body: dict[str, Any], status_code: int) -> ProviderError:
    code, message = body.get("code"), str(body.get("message") or "")
    words = f"TikTok Shop answered code {code}: {message}".strip()
    details = {"provider": "tiktok_shop", "code": code, "request_id": body.get("request_id")}
    kwargs = {"status_code": status_code, "provider_message": message, "details": details}
    if code in AUTH_CODES:
        return AuthExpired(f"{words} (the shop's authorization is not valid; reconnect it)", **kwargs)
    if code in REFRESH_REFUSED:
        return ProviderError(f"{words} (the refresh token is no longer valid; reconnect the shop)",
                             transient=False, **kwargs)
    if code == BAD_SIGNATURE:
        return ProviderError(f"{words} (the request signature was refused; check the app secret)",
                             transient=False, **kwargs)
    if code == BAD_TIMESTAMP:
        return ProviderError(f"{words} (the request time was refused; check this server's clock)",
                             transient=False, **kwargs)
    if code in THROTTLED:
        return RateLimited(words, retry_after=1.0, **kwargs)
    return ProviderError(words, transient=False, **kwargs)


def unwrap(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError("TikTok Shop answered something that is not JSON.", status_code=response.status_code,
                            transient=False) from None
    if not isinstance(body, dict) or body.get("code") != 0:
        raise envelope_error(body if isinstance(body, dict) else {}, response.status_code)
    data = body.get("data")
    return data if isinstance(data, dict) else {}


class TikTokShopClient:
    def __init__(self, http: ProviderClient, *, app_key: str, app_secret: str, shop_cipher: Callable[[], str]):
        self.http = http
        self.app_key = app_key
        self.app_secret = app_secret
        self.shop_cipher = shop_cipher

    def call(self, method: str, path: str, *, action: str, params: dict[str, Any] | None = None,
             body: Any = None, cipher: bool = True) -> dict[str, Any]:
        """One signed Open API call; its `data`, or a typed error for a non-zero envelope code."""
        query = {key: str(value) for key, value in (params or {}).items()}
        query.update(app_key=self.app_key, timestamp=str(int(clock())))
        if cipher:
            query["shop_cipher"] = self.shop_cipher()
        raw = signing.body_bytes(body)
        query["sign"] = signing.sign(self.app_secret, path, query, raw)
        headers = {"Content-Type": "application/json"} if body is not None else None
        response = self.http.request(method, path, action=action, params=query, data=raw or None, headers=headers)
        return unwrap(response)

    # ------------------------------------------------------------------ reads
    def shops(self) -> list[dict[str, Any]]:
        return list(self.call("GET", SHOPS, action="list_shops", cipher=False).get("shops") or [])

    def orders_page(self, *, page_token: str, filters: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"page_size": PAGE_SIZE, "sort_field": "update_time", "sort_order": "ASC"}
        if page_token:
            params["page_token"] = page_token
        return self.call("POST", ORDERS_SEARCH, action="search_orders", params=params, body=filters)

    def orders(self, ids: list[str]) -> list[dict[str, Any]]:
        return list(self.call("GET", ORDERS, action="get_orders", params={"ids": ",".join(ids)}).get("orders") or [])

    def products_page(self, *, page_token: str, filters: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        if page_token:
            params["page_token"] = page_token
        return self.call("POST", PRODUCTS_SEARCH, action="search_products", params=params, body=filters)

    def returns(self, order_ids: list[str]) -> list[dict[str, Any]]:
        data = self.call("POST", RETURNS_SEARCH, action="search_returns", params={"page_size": PAGE_SIZE},
                         body={"order_ids": order_ids})
        return list(data.get("return_orders") or [])

    def warehouses(self) -> list[dict[str, Any]]:
        return list(self.call("GET", WAREHOUSES, action="list_warehouses").get("warehouses") or [])

    # ------------------------------------------------------------------ writes
    def update_inventory(self, product_id: str, skus: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("POST", f"/product/{VERSION}/products/{product_id}/inventory/update",
                         action="update_inventory", body={"skus": skus})

    def create_package(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/fulfillment/{VERSION}/orders/{order_id}/packages", action="ship_order",
                         body=body)

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.call("GET", WEBHOOKS, action="list_webhooks").get("webhooks") or [])

    def put_webhook(self, *, address: str, event_type: str) -> None:
        self.call("PUT", WEBHOOKS, action="update_webhook", body={"address": address, "event_type": event_type})

    # ------------------------------------------------------------------ tokens (auth host, unsigned)
    def token(self, url: str, params: dict[str, str], *, action: str) -> dict[str, Any]:
        query = {"app_key": self.app_key, "app_secret": self.app_secret, **params}
        return unwrap(self.http.request("GET", url, action=action, params=query, authenticate=False))
