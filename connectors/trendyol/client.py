"""HTTP calls to Trendyol's seller integration API, through the one provider client.

Only requests and responses here: the two hosts (production, stage) and the
paths, all under `/integration` with the seller id in the path, 0-based
`page`/`size` pagination. What the records mean is mapping.py's business, what
to pull when is connector.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.http import ProviderClient

PRODUCTION_URL = "https://apigw.trendyol.com"
STAGE_URL = "https://stageapigw.trendyol.com"  # answers only IP-whitelisted callers (else 503)
ORDERS_PAGE_SIZE = 200  # getShipmentPackages' maximum
PRODUCTS_PAGE_SIZE = 100  # the approved-products (v2) maximum
PRODUCTS_PAGE_WINDOW = 10_000  # page × size may not pass this: beyond it, the answer's nextPageToken
STOCK_BATCH_LIMIT = 1000  # items per price-and-inventory request


class TrendyolClient:
    def __init__(self, http: ProviderClient, seller_id: str):
        self.http = http
        self.seller = seller_id

    def products_page(self, page: int, params: dict[str, Any] | None = None, *, token: str | None = None,
                      size: int = PRODUCTS_PAGE_SIZE, action: str = "list_products") -> dict[str, Any]:
        """A page of approved products (Product v2: one content per product, its barcodes as `variants`).

        The v1 filter (`…/products?approved=true`, one item per barcode) stopped answering on 2026-08-10.
        Pages go by number up to the 10,000-item window, then by the `nextPageToken` of the page before.
        """
        query = {**(params or {}), "size": size, **({"nextPageToken": token} if token else {"page": page})}
        return self.http.get(f"/integration/product/sellers/{self.seller}/products/approved", action=action,
                             params=query).json()

    def orders_page(self, page: int, params: dict[str, Any]) -> dict[str, Any]:
        query = {**params, "page": page, "size": ORDERS_PAGE_SIZE}
        return self.http.get(f"/integration/order/sellers/{self.seller}/orders", action="list_packages",
                             params=query).json()

    def packages_of_order(self, order_number: str) -> list[dict[str, Any]]:
        """Every package of one order (a split gives an order several, each with its own id)."""
        body = self.http.get(f"/integration/order/sellers/{self.seller}/orders", action="list_order_packages",
                             params={"orderNumber": order_number, "size": ORDERS_PAGE_SIZE}).json()
        return list(body.get("content") or [])

    def update_package(self, package_id: int | str, body: dict[str, Any]) -> None:
        self.http.put(f"/integration/order/sellers/{self.seller}/shipment-packages/{package_id}",
                      action="update_package_status", json=body)

    def update_tracking(self, package_id: int | str, body: dict[str, Any]) -> None:
        self.http.put(f"/integration/order/sellers/{self.seller}/shipment-packages/{package_id}/tracking-details",
                      action="update_tracking", json=body)

    def update_stock(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self.http.post(f"/integration/inventory/sellers/{self.seller}/products/price-and-inventory",
                              action="update_price_and_inventory", json={"items": items}).json()

    def brands(self, page: int, size: int) -> dict[str, Any]:
        return self.http.get("/integration/product/brands", action="list_brands",
                             params={"page": page, "size": size}).json()

    def categories(self) -> dict[str, Any]:
        return self.http.get("/integration/product/product-categories", action="list_categories").json()

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.post(f"/integration/webhook/sellers/{self.seller}/webhooks", action="create_webhook",
                              json=body).json()

    def delete_webhook(self, webhook_id: str) -> None:
        self.http.delete(f"/integration/webhook/sellers/{self.seller}/webhooks/{webhook_id}",
                         action="delete_webhook")
