"""HTTP calls to a shop's Admin API (REST, and GraphQL for products), through the one provider client.

Only requests and responses here: paths, the API version, the Link header, the
call-limit header, GraphQL's errors and cost. The version is the provider setting
SHOPIFY_API_VERSION (default DEFAULT_API_VERSION, a version Shopify supports;
tests/connectors/test_shopify_versions.py fails once it is older than Shopify's
support window), one value for every call, REST and GraphQL alike. What the records mean is mapping.py's business,
what to pull when is connector.py's. The sandbox simulator speaks the same API
and uses this client too (connectors/sandbox/client.py).

Rate limits: Shopify meters each app on each shop with a leaky bucket (40
calls, leaking 2/s on standard plans) and reports the level after every call in
`X-Shopify-Shop-Api-Call-Limit: 32/40`. The HTTP client's token bucket
(`Connector.rate_limit`) paces our own calls; when the header says the shop's
bucket is nearly full anyway (other workers without a shared Redis limiter, a
plan with another size) `pace` waits for it to drain below `HEADROOM` before the
next call, with the client's own `sleep` (patched in tests). A 429 that still
happens is retried by the HTTP client after its `Retry-After`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from connectors import http as provider_http
from connectors.errors import ProviderError, RateLimited

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

DEFAULT_API_VERSION = "2026-10"  # the default of the SHOPIFY_API_VERSION setting; released 2026-10-01
AUTHORIZE_PATH = "/admin/oauth/authorize"
TOKEN_PATH = "/admin/oauth/access_token"
REVOKE_PATH = "/admin/api_permissions/current.json"  # unversioned: uninstalls the app, deleting its webhooks
PAGE_LIMIT = 250  # Shopify's maximum
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
HEADROOM = 4  # calls kept free in the shop's bucket for other work (webhook registration, a push)
GRAPHQL_THROTTLE_RETRIES = 5
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


def next_page_info(response: requests.Response) -> str | None:
    """The page_info of the `rel="next"` link, or None on the last page."""
    for url, rel in _LINK.findall(response.headers.get("Link", "")):
        if rel == "next":
            values = parse_qs(urlsplit(url).query).get("page_info")
            return values[0] if values else None
    return None


def call_limit(response: requests.Response) -> tuple[int, int] | None:
    """(used, size) from `X-Shopify-Shop-Api-Call-Limit: 32/40`; None when absent or malformed."""
    used, _, size = response.headers.get(CALL_LIMIT_HEADER, "").partition("/")
    try:
        return int(used), int(size)
    except ValueError:
        return None


def api_root(version: str) -> str:
    return f"/admin/api/{version}"


def graphql_throttle_wait(body: dict[str, Any]) -> float:
    """Seconds until the shop's GraphQL bucket holds the points the throttled query asked for (1 s if unknown)."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost.get("requestedQueryCost", 0)) - float(status.get("currentlyAvailable", 0))
        return max(0.5, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


class ShopifyClient:
    """`leak_per_second`: the shop bucket's drain rate, for `pace`; None turns pacing off (the sandbox)."""

    def __init__(self, http: ProviderClient, *, api_version: str = DEFAULT_API_VERSION,
                 leak_per_second: float | None = None):
        self.http = http
        self.api_version = api_version
        self.api_root = api_root(api_version)
        self.leak_per_second = leak_per_second

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, path: str, *, action: str, **kwargs: Any) -> requests.Response:
        response = self.http.request(method, path, action=action, **kwargs)
        self.pace(response)
        return response

    def pace(self, response: requests.Response) -> float:
        """Wait until the shop's bucket has drained below its size minus HEADROOM; returns the seconds waited."""
        level = call_limit(response)
        if level is None or not self.leak_per_second:
            return 0.0
        used, size = level
        over = used - max(0, size - HEADROOM)
        if over <= 0:
            return 0.0
        wait = over / self.leak_per_second
        provider_http.sleep(wait)
        return wait

    # ------------------------------------------------------------------ GraphQL
    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, action: str) -> dict[str, Any]:
        """POST one GraphQL operation; its `data`. THROTTLED answers wait for the shop's points and retry.

        GraphQL answers 200 with `errors` for a bad query or an empty point bucket: the former raises
        ProviderError with Shopify's message (permanent), the latter waits `(cost - available) / restoreRate`.
        """
        for attempt in range(GRAPHQL_THROTTLE_RETRIES + 1):
            body = self._call("POST", f"{self.api_root}/graphql.json", action=action,
                              json={"query": query, "variables": variables or {}}).json()
            errors = body.get("errors") or []
            if not errors:
                return body.get("data") or {}
            if not any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
                message = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)[:500]
                raise ProviderError(f"Shopify refused the GraphQL {action}: {message}", provider_message=message)
            if attempt < GRAPHQL_THROTTLE_RETRIES:
                provider_http.sleep(graphql_throttle_wait(body))
        raise RateLimited("Shopify kept throttling the GraphQL queries of this shop.", transient=True)

    # ------------------------------------------------------------------ reads
    def shop(self) -> dict[str, Any]:
        return self._call("GET", f"{self.api_root}/shop.json", action="get_shop").json()["shop"]

    def locations(self) -> list[dict[str, Any]]:
        return self._call("GET", f"{self.api_root}/locations.json", action="list_locations").json()["locations"]

    def list_page(self, resource: str, *, params: dict[str, Any] | None = None,
                  page_info: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `resource` (orders, products, inventory_levels) and the next page_info.

        With a page_info only `limit` goes along: the filters live inside it (Shopify refuses anything else).
        """
        query: dict[str, Any] = {"limit": PAGE_LIMIT}
        if page_info:
            query["page_info"] = page_info
        else:
            query.update(params or {})
        response = self._call("GET", f"{self.api_root}/{resource}.json", action=f"list_{resource}", params=query)
        return response.json()[resource], next_page_info(response)

    def order(self, order_id: int | str) -> dict[str, Any]:
        return self._call("GET", f"{self.api_root}/orders/{order_id}.json", action="get_order").json()["order"]

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        response = self._call("GET", f"{self.api_root}/orders/{order_id}/fulfillment_orders.json",
                              action="list_fulfillment_orders")
        return response.json()["fulfillment_orders"]

    # ------------------------------------------------------------------ writes
    def create_fulfillment(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self._call("POST", f"{self.api_root}/fulfillments.json", action="create_fulfillment", json=body)
        return response.json()["fulfillment"]

    def set_inventory_level(self, *, inventory_item_id: int, location_id: int, available: int) -> dict[str, Any]:
        body = {"inventory_item_id": inventory_item_id, "location_id": location_id, "available": available}
        response = self._call("POST", f"{self.api_root}/inventory_levels/set.json", action="set_inventory_level",
                              json=body)
        return response.json()["inventory_level"]

    # ------------------------------------------------------------------ webhook subscriptions
    def webhooks(self) -> list[dict[str, Any]]:
        """This app's subscriptions on the shop (ones made in the shop's admin are not listed)."""
        response = self._call("GET", f"{self.api_root}/webhooks.json", action="list_webhooks",
                              params={"limit": PAGE_LIMIT})
        return response.json()["webhooks"]

    def create_webhook(self, *, topic: str, address: str) -> dict[str, Any]:
        body = {"webhook": {"topic": topic, "address": address, "format": "json"}}
        response = self._call("POST", f"{self.api_root}/webhooks.json", action="create_webhook", json=body)
        return response.json()["webhook"]

    def delete_webhook(self, webhook_id: int | str) -> None:
        self._call("DELETE", f"{self.api_root}/webhooks/{webhook_id}.json", action="delete_webhook")

    # ------------------------------------------------------------------ OAuth
    def token(self, form: dict[str, Any], *, action: str) -> dict[str, Any]:
        """POST the token endpoint (not authenticated with the access token, which may be the thing that expired)."""
        return self._call("POST", TOKEN_PATH, action=action, json=form, authenticate=False).json()

    def revoke(self) -> None:
        """Uninstall the app from the shop: the token stops working and Shopify deletes the app's webhooks."""
        self._call("DELETE", REVOKE_PATH, action="revoke_token")
