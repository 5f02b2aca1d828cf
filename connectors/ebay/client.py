"""HTTP calls to eBay's Sell APIs (Inventory v1, Fulfillment v1), the identity token endpoint, the Commerce
Identity API's user and the Notification API's public keys, through the one provider client.

Only requests and responses here: the two environments' hosts, the paths (API versions pinned in the
paths below, and only here), the marketplace header, offset/limit pages. What the records mean is
mapping.py's business, what to pull when is connector.py's.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

# "identity": the Commerce Identity API lives on eBay's apiz hosts, not the api ones.
PRODUCTION = {"api": "https://api.ebay.com", "auth": "https://auth.ebay.com", "identity": "https://apiz.ebay.com"}
SANDBOX = {"api": "https://api.sandbox.ebay.com", "auth": "https://auth.sandbox.ebay.com",
           "identity": "https://apiz.sandbox.ebay.com"}
AUTHORIZE_PATH = "/oauth2/authorize"  # on the auth host
TOKEN_PATH = "/identity/v1/oauth2/token"  # on the api host
INVENTORY = "/sell/inventory/v1"
FULFILLMENT = "/sell/fulfillment/v1"
PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"
IDENTITY_USER_PATH = "/commerce/identity/v1/user/"  # getUser, on the identity host; the trailing slash is eBay's
ORDERS_PAGE_SIZE = 200  # getOrders' maximum
INVENTORY_PAGE_SIZE = 200  # getInventoryItems' maximum
BULK_LIMIT = 25  # requests per bulkUpdatePriceQuantity
APP_SCOPE = "https://api.ebay.com/oauth/api_scope"  # the client-credentials scope the public key call needs


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class EbayClient:
    def __init__(self, http: ProviderClient, *, marketplace: str, content_language: str):
        self.http = http
        self.marketplace = marketplace
        self.content_language = content_language

    def _headers(self, *, write: bool = False) -> dict[str, str]:
        headers = {"X-EBAY-C-MARKETPLACE-ID": self.marketplace, "Accept": "application/json"}
        if write:
            headers["Content-Language"] = self.content_language
        return headers

    # ------------------------------------------------------------------ reads
    def orders_page(self, *, offset: int, filter_: str = "", limit: int = ORDERS_PAGE_SIZE,
                    action: str = "list_orders") -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if filter_:
            params["filter"] = filter_
        return self.http.get(f"{FULFILLMENT}/order", action=action, params=params, headers=self._headers()).json()

    def order(self, order_id: str) -> dict[str, Any]:
        return self.http.get(f"{FULFILLMENT}/order/{quote(order_id, safe='')}", action="get_order",
                             headers=self._headers()).json()

    def inventory_page(self, *, offset: int, limit: int = INVENTORY_PAGE_SIZE) -> dict[str, Any]:
        return self.http.get(f"{INVENTORY}/inventory_item", action="list_inventory_items",
                             params={"limit": limit, "offset": offset}, headers=self._headers()).json()

    # ------------------------------------------------------------------ writes
    def create_shipping_fulfillment(self, order_id: str, body: dict[str, Any]) -> requests.Response:
        """201 with `Location: …/shipping_fulfillment/{fulfillmentId}` and an empty body."""
        return self.http.post(f"{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment",
                              action="create_shipping_fulfillment", json=body, headers=self._headers(write=True))

    def bulk_update_price_quantity(self, requests_: list[dict[str, Any]]) -> dict[str, Any]:
        """200 when all succeeded, 207 when some did: each `responses[]` entry has its own statusCode."""
        return self.http.post(f"{INVENTORY}/bulk_update_price_quantity", action="bulk_update_price_quantity",
                              json={"requests": requests_}, headers=self._headers(write=True)).json()

    # ------------------------------------------------------------------ OAuth and notifications
    def token(self, form: dict[str, str], *, client_id: str, client_secret: str, action: str) -> dict[str, Any]:
        """POST the token endpoint: form body, the app's credentials as Basic auth, never the user's token."""
        headers = {"Authorization": basic_auth(client_id, client_secret),
                   "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        return self.http.post(TOKEN_PATH, action=action, data=form, headers=headers, authenticate=False).json()

    def user(self, *, host: str) -> dict[str, Any]:
        """The seller the user token belongs to (Commerce Identity getUser; scope commerce.identity.readonly):
        `userId` (immutable), `username`, `accountType`, `registrationMarketplaceId`…"""
        return self.http.get(host.rstrip("/") + IDENTITY_USER_PATH, action="get_user",
                             headers={"Accept": "application/json"}).json()

    def public_key(self, kid: str, *, app_token: str) -> dict[str, Any]:
        """`{algorithm, digest, key}` for a notification signature's key id (an application token's call)."""
        return self.http.get(f"{PUBLIC_KEY_PATH}/{quote(kid, safe='')}", action="get_notification_public_key",
                             headers={"Authorization": f"Bearer {app_token}", "Accept": "application/json"},
                             authenticate=False).json()
