"""HTTP calls to the sandbox shop (Shopify REST Admin API shapes), through the one provider client.

Only requests and responses here: paths, the pinned API version, the Link
header. What the records mean is mapping.py's business, what to pull when is
connector.py's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

API_VERSION = "2024-01"  # pinned here and only here
API_ROOT = f"/admin/api/{API_VERSION}"
AUTHORIZE_PATH = "/admin/oauth/authorize"
TOKEN_PATH = "/admin/oauth/access_token"
PAGE_LIMIT = 250  # Shopify's maximum
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


def next_page_info(response: requests.Response) -> str | None:
    """The page_info of the `rel="next"` link, or None on the last page."""
    for url, rel in _LINK.findall(response.headers.get("Link", "")):
        if rel == "next":
            values = parse_qs(urlsplit(url).query).get("page_info")
            return values[0] if values else None
    return None


class SandboxClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def shop(self) -> dict[str, Any]:
        return self.http.get(f"{API_ROOT}/shop.json", action="get_shop").json()["shop"]

    def locations(self) -> list[dict[str, Any]]:
        return self.http.get(f"{API_ROOT}/locations.json", action="list_locations").json()["locations"]

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
        response = self.http.get(f"{API_ROOT}/{resource}.json", action=f"list_{resource}", params=query)
        return response.json()[resource], next_page_info(response)

    def order(self, order_id: int | str) -> dict[str, Any]:
        return self.http.get(f"{API_ROOT}/orders/{order_id}.json", action="get_order").json()["order"]

    def fulfillment_orders(self, order_id: int | str) -> list[dict[str, Any]]:
        response = self.http.get(f"{API_ROOT}/orders/{order_id}/fulfillment_orders.json",
                                 action="list_fulfillment_orders")
        return response.json()["fulfillment_orders"]

    def create_fulfillment(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{API_ROOT}/fulfillments.json", action="create_fulfillment", json=body)
        return response.json()["fulfillment"]

    def set_inventory_level(self, *, inventory_item_id: int, location_id: int, available: int) -> dict[str, Any]:
        body = {"inventory_item_id": inventory_item_id, "location_id": location_id, "available": available}
        response = self.http.post(f"{API_ROOT}/inventory_levels/set.json", action="set_inventory_level", json=body)
        return response.json()["inventory_level"]

    def token(self, form: dict[str, Any], *, action: str) -> dict[str, Any]:
        """POST the token endpoint (not authenticated with the access token, which may be the thing that expired)."""
        return self.http.post(TOKEN_PATH, action=action, json=form, authenticate=False).json()
