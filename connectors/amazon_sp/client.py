"""HTTP calls to Amazon's Selling Partner API (SP-API), through the one provider client.

Only requests and responses here: the regional hosts, the API versions (pinned
below and only here), the paths, the per-operation rates and the pagination
tokens. What the records mean is mapping.py's business, what to pull when is
connector.py's.

Versions: order reads use Orders 2026-01-01 (`searchOrders`: `GET
/orders/2026-01-01/orders`, items inline, paged by passing the answer's
`pagination.nextToken` back as `paginationToken`; `getOrder`: `GET
/orders/2026-01-01/orders/{orderId}`). Orders v0 (`getOrders`, `getOrder`,
`getOrderItems`) is deprecated and Amazon removes it on 2027-03-27; it stays here
behind the AMAZON_SP_ORDERS_API setting (`v0`) until then. `confirmShipment`
stays in v0 (v2026-01-01 has no write operations; whether Amazon keeps it after
the removal date is UNCONFIRMED in the docs read).

Rate limits: SP-API meters every operation with its own token bucket per
seller and app (rate/burst below, from Amazon's models) and says the rate it
applied in `x-amzn-RateLimit-Limit` (requests per second; sometimes absent).
The connector's integration-wide bucket (`Connector.rate_limit`, 0.5/s burst 30)
is getOrderItems' rate, the call a sync makes most; operations slower than that
are paced here on a bucket of their own (`OPERATION_LIMITS`, through the same
rate limiter, so Redis shares it across workers). A 429 is retried by the HTTP
client after the wait the connector reads from the rate header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors import http as provider_http
from connectors.base import RateLimitPolicy
from connectors.ratelimit import rate_limiter

if TYPE_CHECKING:
    from connectors.http import ProviderClient

ORDERS_VERSION = "v0"  # deprecated; getOrders/getOrderItems/confirmShipment
ORDERS_2026_VERSION = "2026-01-01"
ORDERS_2026_INCLUDED = "FULFILLMENT,PROCEEDS,RECIPIENT"  # items come always; these add status, money, address
LISTINGS_VERSION = "2021-08-01"
FBA_INVENTORY_VERSION = "v1"
SELLERS_VERSION = "v1"
FINANCES_VERSION = "v0"

TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # Login with Amazon; one host for every region
REGION_HOSTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_HOSTS = {region: host.replace("https://", "https://sandbox.") for region, host in REGION_HOSTS.items()}

ORDERS_PAGE_SIZE = 100  # getOrders' MaxResultsPerPage maximum
LISTINGS_PAGE_SIZE = 20  # searchListingsItems' pageSize maximum
LISTINGS_IDENTIFIERS_LIMIT = 20  # SKUs per searchListingsItems `identifiers`
LISTINGS_INCLUDED = "summaries,offers,fulfillmentAvailability,relationships"
FINANCES_PAGE_SIZE = 100

# Operations slower than the connector's integration-wide 0.5/s: their own bucket (requests, per_seconds).
# getOrders: 0.0167/s burst 20; searchOrders (2026-01-01): 0.0056/s burst 20; getMarketplaceParticipations:
# 0.016/s burst 15.
OPERATION_LIMITS: dict[str, RateLimitPolicy] = {
    "getOrders": RateLimitPolicy(requests=20, per_seconds=20 / 0.0167),
    "searchOrders": RateLimitPolicy(requests=20, per_seconds=20 / 0.0056),
    "getMarketplaceParticipations": RateLimitPolicy(requests=15, per_seconds=15 / 0.016),
}


class AmazonSPClient:
    def __init__(self, http: ProviderClient, *, pace_key: str):
        self.http = http
        self.pace_key = pace_key  # "amazon_sp:<integration pk>", the prefix of the per-operation buckets

    def _call(self, operation: str, method: str, path: str, **kwargs: Any):
        policy = OPERATION_LIMITS.get(operation)
        if policy is not None:
            wait = rate_limiter().reserve(f"{self.pace_key}:{operation}", policy)
            if wait > 0:
                provider_http.sleep(wait)
        return self.http.request(method, path, action=operation, **kwargs)

    # ------------------------------------------------------------------ sellers
    def marketplace_participations(self) -> list[dict[str, Any]]:
        response = self._call("getMarketplaceParticipations", "GET",
                              f"/sellers/{SELLERS_VERSION}/marketplaceParticipations")
        return list(response.json().get("payload") or [])

    # ------------------------------------------------------------------ orders (2026-01-01)
    def search_orders_page(self, marketplace_ids: list[str], *, last_updated_after: str,
                           pagination_token: str = "") -> dict[str, Any]:
        """One searchOrders page: `{orders: [...], pagination: {nextToken}, lastUpdatedBefore}`.

        The next page repeats the request with `paginationToken` = the previous answer's `nextToken`
        (whether the filters may be left out then is UNCONFIRMED: they are sent again, unchanged).
        """
        params: dict[str, Any] = {"marketplaceIds": ",".join(marketplace_ids), "lastUpdatedAfter": last_updated_after,
                                  "maxResultsPerPage": ORDERS_PAGE_SIZE, "includedData": ORDERS_2026_INCLUDED}
        if pagination_token:
            params["paginationToken"] = pagination_token
        return self._call("searchOrders", "GET", f"/orders/{ORDERS_2026_VERSION}/orders", params=params).json()

    def order_2026(self, order_id: str) -> dict[str, Any]:
        """getOrder (2026-01-01): the order with its items."""
        response = self._call("getOrder", "GET", f"/orders/{ORDERS_2026_VERSION}/orders/{order_id}",
                              params={"includedData": ORDERS_2026_INCLUDED})
        return response.json()["order"]

    # ------------------------------------------------------------------ orders (v0, deprecated: see above)
    def orders_page(self, marketplace_ids: list[str], *, last_updated_after: str = "",
                    next_token: str = "") -> dict[str, Any]:
        """One getOrders page. With a NextToken only the marketplaces go along: the token carries the filters."""
        params: dict[str, Any] = {"MarketplaceIds": ",".join(marketplace_ids), "MaxResultsPerPage": ORDERS_PAGE_SIZE}
        if next_token:
            params["NextToken"] = next_token
        else:
            params["LastUpdatedAfter"] = last_updated_after
        return self._call("getOrders", "GET", f"/orders/{ORDERS_VERSION}/orders", params=params).json()["payload"]

    def order(self, order_id: str) -> dict[str, Any]:
        return self._call("getOrder", "GET", f"/orders/{ORDERS_VERSION}/orders/{order_id}").json()["payload"]

    def order_items(self, order_id: str) -> list[dict[str, Any]]:
        """Every item of one order (getOrderItems pages with its own NextToken past 100 items)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"NextToken": token} if token else None
            payload = self._call("getOrderItems", "GET", f"/orders/{ORDERS_VERSION}/orders/{order_id}/orderItems",
                                 params=params).json()["payload"]
            items.extend(payload.get("OrderItems") or [])
            token = payload.get("NextToken") or ""
            if not token:
                return items

    def confirm_shipment(self, order_id: str, body: dict[str, Any]) -> None:
        """confirmShipment answers 204 with no body; re-posting a packageReferenceId edits that package."""
        self._call("confirmShipment", "POST", f"/orders/{ORDERS_VERSION}/orders/{order_id}/shipmentConfirmation",
                   json=body)

    # ------------------------------------------------------------------ finances (refunds)
    def financial_events_page(self, *, posted_after: str = "", next_token: str = "") -> dict[str, Any]:
        params: dict[str, Any] = {"MaxResultsPerPage": FINANCES_PAGE_SIZE}
        if next_token:
            params["NextToken"] = next_token
        else:
            params["PostedAfter"] = posted_after
        return self._call("listFinancialEvents", "GET", f"/finances/{FINANCES_VERSION}/financialEvents",
                          params=params).json()["payload"]

    def order_refunds(self, order_id: str) -> list[dict[str, Any]]:
        """Every RefundEvent of one order (listFinancialEventsByOrderId, paged by NextToken)."""
        events: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"MaxResultsPerPage": FINANCES_PAGE_SIZE, **({"NextToken": token} if token else {})}
            payload = self._call("listFinancialEventsByOrderId", "GET",
                                 f"/finances/{FINANCES_VERSION}/orders/{order_id}/financialEvents",
                                 params=params).json()["payload"]
            events.extend((payload.get("FinancialEvents") or {}).get("RefundEventList") or [])
            token = payload.get("NextToken") or ""
            if not token:
                return events

    # ------------------------------------------------------------------ listings
    def listings_page(self, seller_id: str, marketplace_ids: list[str], *, last_updated_after: str = "",
                      page_token: str = "") -> dict[str, Any]:
        params: dict[str, Any] = {"marketplaceIds": ",".join(marketplace_ids), "includedData": LISTINGS_INCLUDED,
                                  "pageSize": LISTINGS_PAGE_SIZE, "sortBy": "lastUpdatedDate", "sortOrder": "ASC"}
        if last_updated_after:
            params["lastUpdatedAfter"] = last_updated_after
        if page_token:
            params["pageToken"] = page_token
        return self._call("searchListingsItems", "GET", f"/listings/{LISTINGS_VERSION}/items/{seller_id}",
                          params=params).json()

    def listings_by_sku(self, seller_id: str, marketplace_ids: list[str], skus: list[str]) -> list[dict[str, Any]]:
        """The listings of these SKUs, 20 per searchListingsItems call."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(skus), LISTINGS_IDENTIFIERS_LIMIT):
            params = {"marketplaceIds": ",".join(marketplace_ids), "includedData": LISTINGS_INCLUDED,
                      "identifiers": ",".join(skus[start:start + LISTINGS_IDENTIFIERS_LIMIT]),
                      "identifiersType": "SKU", "pageSize": LISTINGS_PAGE_SIZE}
            body = self._call("searchListingsItems", "GET", f"/listings/{LISTINGS_VERSION}/items/{seller_id}",
                              params=params).json()
            found.extend(body.get("items") or [])
        return found

    def patch_listing(self, seller_id: str, sku: str, marketplace_ids: list[str],
                      body: dict[str, Any]) -> dict[str, Any]:
        return self._call("patchListingsItem", "PATCH", f"/listings/{LISTINGS_VERSION}/items/{seller_id}/{sku}",
                          params={"marketplaceIds": ",".join(marketplace_ids)}, json=body).json()

    # ------------------------------------------------------------------ FBA inventory
    def inventory_page(self, marketplace_id: str, *, start: str = "", next_token: str = "") -> dict[str, Any]:
        """One getInventorySummaries page; a nextToken page repeats the first request's startDateTime."""
        params: dict[str, Any] = {"details": "true", "granularityType": "Marketplace", "granularityId": marketplace_id,
                                  "marketplaceIds": marketplace_id}
        if start:
            params["startDateTime"] = start
        if next_token:
            params["nextToken"] = next_token
        return self._call("getInventorySummaries", "GET", f"/fba/inventory/{FBA_INVENTORY_VERSION}/summaries",
                          params=params).json()
