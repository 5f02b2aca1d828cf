"""HTTP calls to a WooCommerce store's REST API v3, through the one provider client.

Only requests and responses here: paths (the API root pinned in one place),
page/per_page pagination read from `X-WP-TotalPages`, the batch endpoints and
the Shipment Tracking extension's route. What the records mean is mapping.py's
business, what to pull when is connector.py's.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.http import ProviderClient

API_ROOT = "/wp-json/wc/v3"  # pinned here and only here
TRACKING_ROOT = "/wp-json/wc-shipment-tracking/v3"  # the Shipment Tracking extension's own namespace
PER_PAGE = 100  # WooCommerce's maximum
BATCH_LIMIT = 100  # items per batch request


class WooCommerceClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def system_status(self) -> dict[str, Any]:
        return self.http.get(f"{API_ROOT}/system_status", action="get_system_status").json()

    def list_page(self, resource: str, *, params: dict[str, Any], page: int,
                  action: str) -> tuple[list[dict[str, Any]], int]:
        """One page of `resource` (orders, products, products/{id}/variations) and the number of pages in all."""
        query = {**params, "page": page, "per_page": PER_PAGE}
        response = self.http.get(f"{API_ROOT}/{resource}", action=action, params=query)
        try:
            total_pages = int(response.headers.get("X-WP-TotalPages") or 1)
        except ValueError:
            total_pages = 1
        return response.json(), total_pages

    def order(self, order_id: int | str) -> dict[str, Any]:
        return self.http.get(f"{API_ROOT}/orders/{order_id}", action="get_order").json()

    def update_order(self, order_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.put(f"{API_ROOT}/orders/{order_id}", action="update_order", json=body).json()

    def add_order_note(self, order_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.post(f"{API_ROOT}/orders/{order_id}/notes", action="add_order_note", json=body).json()

    def add_shipment_tracking(self, order_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.post(f"{TRACKING_ROOT}/orders/{order_id}/shipment-trackings",
                              action="add_shipment_tracking", json=body).json()

    def products_by_sku(self, sku: str) -> list[dict[str, Any]]:
        return self.http.get(f"{API_ROOT}/products", action="find_product_by_sku", params={"sku": sku}).json()

    def batch_update(self, resource: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """`POST {resource}/batch {"update": [...]}` (≤100). Setting absolute stock is safe to replay, so the
        request carries an Idempotency-Key and the client may retry it after a 5xx (WooCommerce ignores the header)."""
        response = self.http.post(f"{API_ROOT}/{resource}/batch", action="batch_update_stock",
                                  json={"update": updates}, headers={"Idempotency-Key": uuid.uuid4().hex})
        return response.json()

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.http.post(f"{API_ROOT}/webhooks", action="create_webhook", json=body).json()

    def delete_webhook(self, webhook_id: int | str) -> None:
        self.http.delete(f"{API_ROOT}/webhooks/{webhook_id}", action="delete_webhook", params={"force": "true"})
