"""Connector for WooCommerce stores (REST API v3).

Where it is: the store's root URL in the integration's `api_endpoint`
(`https://shop.example.com`); the API lives under `/wp-json/wc/v3` (client.py).
Credentials: `api_key` = the consumer key (`ck_…`), `api_secret` = the consumer
secret (`cs_…`), sent as HTTP Basic auth. Basic auth sends the secret with every
request, so the store must be HTTPS: a plain-http `api_endpoint` is refused
unless its host is a loopback address listed in OUTBOUND_URL_ALLOWLIST (tests,
a local WordPress). WooCommerce's OAuth 1.0a-over-http mode is not offered.
Keys never expire, so a 401 cannot be refreshed: it raises AuthExpired, and an
active integration goes to status `error` with a `last_error` saying to check
the keys (integration.error is published), until a sync or test succeeds.

Config (all optional): `status_map` (plugin statuses → ERP statuses, see
mapping.py), `shipment_tracking` (true when the store runs the Shipment
Tracking extension), `location_id` (the name of the store's one stock location,
default "default").

Pulls are page-numbered (`page`, `per_page=100`, `X-WP-TotalPages`); the
cursor is a JSON string `{"page": n, "modified_after": iso}`, so a crashed job
resumes on the same page of the same query. Incremental by `modified_after`
(with `dates_are_gmt=true`; WooCommerce 5.8+).

Rate limits: WooCommerce core has none, but shared hosts and WAFs answer 429 or
5xx under load; the HTTP client retries both with backoff, and the client-side
limit below keeps us polite.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from config.errors import ApplicationError, ValidationError
from connectors.base import (
    AuthKind,
    ConnectionResult,
    Connector,
    Page,
    RateLimitPolicy,
    WebhookEvent,
)
from connectors.capabilities import ShopChannel, WebhookReceiver
from connectors.errors import AuthExpired, connection_failure
from connectors.http import elapsed_ms
from integrations.metadata import integration_metadata_write

from . import mapping, webhooks
from .client import BATCH_LIMIT, WooCommerceClient

WEBHOOKS_METADATA_KEY = "woocommerce_webhooks"  # integration.metadata: {topic: webhook id}


class WooCommerceConnector(WebhookReceiver, ShopChannel, Connector):
    key = "woocommerce"
    display_name = "WooCommerce"
    integration_type = "ecommerce"
    auth_kind = AuthKind.BASIC
    # Stock semantics (README "Stock"):
    # WooCommerce lowers `stock_quantity` when an order is placed (processing/on-hold); a pending-payment order
    # is not counted until paid.
    stock_nets_open_orders = True
    base_url = ""  # every store is its own host: api_endpoint
    webhook_scheme = webhooks.SCHEME
    rate_limit = RateLimitPolicy(requests=5, per_seconds=1.0)  # no limit in core; shared hosts are small
    docs_url = "https://woocommerce.github.io/woocommerce-rest-api-docs/"

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> WooCommerceClient:
        return WooCommerceClient(self.http)

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def resolved_base_url(self) -> str:
        """The store's root URL; HTTPS required (Basic auth), plain http only for an allowlisted loopback host."""
        url = (self.integration.api_endpoint or "").rstrip("/")
        if not url:
            raise ValidationError("A WooCommerce integration needs the store's URL in api_endpoint.",
                                  details={"api_endpoint": ["required"]})
        parts = urlsplit(url)
        if parts.scheme == "https":
            return url
        if parts.scheme == "http" and _allowlisted_loopback(parts.hostname or ""):
            return url
        raise ValidationError(
            "WooCommerce keys are sent with every request, so the store URL must use https://.",
            details={"api_endpoint": ["must be https"]},
        )

    def auth_headers(self) -> dict[str, str]:
        key, secret = self.integration.api_key, self.integration.api_secret
        if not (key and secret):
            raise ValidationError("A WooCommerce integration needs its consumer key (api_key) and secret (api_secret).",
                                  details={"api_key": ["required"], "api_secret": ["required"]})
        return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401  # keys do not expire: AuthExpired at once, nothing to refresh

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        if action in ("get_system_status", "delete_webhook"):
            return None  # a connection test reports it in its result; an unsubscription is best effort
        return (f"WooCommerce refused the consumer key and secret ({error.provider_message or 'HTTP 401'}); "
                "check them and save them again.")

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            environment = self.client.system_status().get("environment") or {}
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('the WooCommerce store', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to {environment.get('site_url') or 'the store'} "
                                       f"(WooCommerce {environment.get('version') or '?'}).")

    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        return mapping.normalize_order(record, self.config.get("status_map"))

    def normalize_product(self, record: dict[str, Any]) -> dict[str, Any]:
        """A product as the pull yields it, or as a webhook delivers it.

        A webhook's payload is the bare product, whose `variations` are ids: a variable product's variations
        are fetched first (every page, as the pull does). Raises what the fetch raises (a 404 when the product
        was deleted since; 5xx/429 are transient, so a webhook is retried).
        """
        if mapping.lists_variation_ids(record):
            [record] = self._with_variations([record])
        return mapping.normalize_product(record)

    def normalize_inventory_level(self, record: dict[str, Any]) -> dict[str, Any]:
        location = str(self.config.get("location_id") or mapping.DEFAULT_LOCATION)
        return mapping.normalize_inventory_level(record, location)

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        query = {"status": "any", "orderby": "date", "order": "asc"}
        return self._pages("orders", query, since, cursor, expand=None)

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        return self._pages("products", {"orderby": "id", "order": "asc"}, since, cursor, expand=self._with_variations)

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Stock lives on products and variations: their figures, one record per managed stock."""
        def records(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for p in self._with_variations(products) for r in mapping.stock_records(p)]

        return self._pages("products", {"orderby": "id", "order": "asc"}, since, cursor, expand=records,
                           action="list_products_stock")

    def _pages(self, resource: str, query: dict[str, Any], since: datetime | None, cursor: str | None, *,
               expand, action: str = "") -> Iterator[Page]:
        state = _read_cursor(cursor) if cursor else {"page": 1, "modified_after": _gmt(since) if since else None}
        params = dict(query)
        if state.get("modified_after"):
            params.update(modified_after=state["modified_after"], dates_are_gmt="true")
        page = int(state["page"])
        while True:
            items, total_pages = self.client.list_page(resource, params=params, page=page,
                                                       action=action or f"list_{resource}")
            if expand is not None:
                items = expand(items)
            done = page >= total_pages or not items and page > 1
            next_cursor = None if done else json.dumps({"page": page + 1,
                                                        "modified_after": state.get("modified_after")})
            yield Page(items=items, next_cursor=next_cursor)
            if done:
                return
            page += 1

    def _with_variations(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Attach each variable product's variations (every page of them) as `variation_records`."""
        expanded = []
        for product in products:
            if mapping.lists_variation_ids(product):
                variations, page, total = [], 1, 1
                while page <= total:
                    found, total = self.client.list_page(f"products/{product['id']}/variations", params={},
                                                         page=page, action="list_variations")
                    variations.extend(found)
                    page += 1
                product = {**product, "variation_records": variations}
            expanded.append(product)
        return expanded

    # ------------------------------------------------------------------ writes
    def stock_locations(self) -> list[dict[str, Any]]:
        """WooCommerce core keeps one figure per product: one location, the id its levels carry."""
        return [{"id": str(self.config.get("location_id") or mapping.DEFAULT_LOCATION), "name": "WooCommerce stock",
                 "pushable": True}]

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set stock: each item has `available` and `inventory_item_id` (`"12"` or `"12:34"`), or a `sku`.

        Simple products go in `products/batch`, variations in `products/{id}/variations/batch`, ≤100 a call;
        each sets `manage_stock: true` with the figure (WooCommerce only counts stock it manages).
        """
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("available") is None:
                raise ValidationError("Every stock item needs `available`.", details={"available": ["required"]})
            product_id, variation_id = self._stock_target(item)
            update = {"id": variation_id or product_id, "manage_stock": True,
                      "stock_quantity": int(item["available"])}
            resource = f"products/{product_id}/variations" if variation_id else "products"
            groups.setdefault(resource, []).append(update)
        updated = 0
        for resource, updates in groups.items():
            for start in range(0, len(updates), BATCH_LIMIT):
                answer = self.client.batch_update(resource, updates[start:start + BATCH_LIMIT])
                updated += len(answer.get("update") or [])
        return {"updated": updated}

    def _stock_target(self, item: dict[str, Any]) -> tuple[int, int | None]:
        if item.get("inventory_item_id"):
            try:
                return mapping.parse_inventory_item_id(str(item["inventory_item_id"]))
            except ValueError:
                raise ValidationError(
                    f"{item['inventory_item_id']!r} is not a WooCommerce stock id.",
                    details={"inventory_item_id": ["expected <product id>[:<variation id>]"]},
                ) from None
        sku = item.get("sku")
        found = self.client.products_by_sku(sku) if sku else []
        if not found:
            raise ValidationError(f"No WooCommerce product has the SKU {sku!r}.", details={"sku": ["unknown"]})
        product = found[0]
        if product.get("type") == "variation" or product.get("parent_id"):
            return int(product["parent_id"]), int(product["id"])
        return int(product["id"]), None

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Ship an order: post its tracking (Shipment Tracking extension) and complete it.

        `fulfillment`: `order_id` (WooCommerce's), optional `lines` ([{line_item_id, quantity}]; none = all),
        `tracking_number`, `carrier`, `tracking_url`, `notify_customer`. WooCommerce core has no partial
        shipments: the order is completed only when every line ships in full; otherwise the tracking (or a
        note) is recorded and the order stays as it is. Without the extension (`config["shipment_tracking"]`
        false) the tracking goes into an order note (a customer note when `notify_customer`). Tracking is
        posted before completing so that the "order completed" email carries it.
        """
        order_id = fulfillment.get("order_id")
        if not order_id:
            raise ValidationError("A fulfillment needs the order's WooCommerce id.", details={"order_id": ["required"]})
        number, carrier = fulfillment.get("tracking_number") or "", fulfillment.get("carrier") or ""
        order = self.client.order(order_id)
        complete = _ships_everything(order, fulfillment.get("lines"))
        tracking_id = ""
        if number and self.config.get("shipment_tracking"):
            body = {"tracking_number": number, "date_shipped": timezone.now().astimezone(UTC).date().isoformat()}
            if fulfillment.get("tracking_url"):
                body.update(custom_tracking_provider=carrier, custom_tracking_link=fulfillment["tracking_url"])
            else:
                body["tracking_provider"] = carrier
            tracking_id = str(self.client.add_shipment_tracking(order_id, body).get("tracking_id") or "")
        elif number:
            note = f"Shipped with {carrier or 'the carrier'}, tracking number {number}."
            if fulfillment.get("tracking_url"):
                note += f" {fulfillment['tracking_url']}"
            self.client.add_order_note(order_id, {"note": note,
                                                  "customer_note": bool(fulfillment.get("notify_customer"))})
        status = order.get("status", "")
        if complete and status != "completed":
            status = self.client.update_order(order_id, {"status": "completed"}).get("status", "completed")
        return {"external_id": tracking_id or str(order_id), "status": status, "tracking_number": number,
                "carrier": carrier, "completed": complete}

    # ------------------------------------------------------------------ webhooks
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(headers, body)

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                          *, receive_url: str) -> tuple[int, Any] | None:
        """The creation ping (webhooks.py): exactly 200 for an unsigned POST of `webhook_id=<n>`; nothing is stored."""
        return webhooks.ping_answer(method, headers, body)

    def register_webhooks(self, receive_url: str) -> list[str]:
        """Create one WooCommerce webhook per topic pointing at this integration's receive URL.

        The signing secret is generated here (once) and kept in `webhook_secret`; the webhook ids in
        `metadata["woocommerce_webhooks"]`, so a second call adds only what is missing.
        """
        integration = self.integration
        if not integration.webhook_secret:
            integration.webhook_secret = secrets.token_urlsafe(32)
            integration.save(update_fields=["webhook_secret", "updated_at"])
        registered = dict((integration.metadata or {}).get(WEBHOOKS_METADATA_KEY) or {})
        added = []
        for topic in webhooks.TOPICS:
            if topic in registered:
                continue
            created = self.client.create_webhook({"name": f"Switchyard {integration.code} {topic}",
                                                  "topic": topic, "delivery_url": receive_url,
                                                  "secret": integration.webhook_secret, "status": "active"})
            registered[topic] = created["id"]
            added.append(topic)
            _save_registrations(integration, registered)
        return added

    def unregister_webhooks(self, receive_url: str) -> int:
        integration = self.integration
        registered = dict((integration.metadata or {}).get(WEBHOOKS_METADATA_KEY) or {})
        removed = 0
        for topic, webhook_id in list(registered.items()):
            self.client.delete_webhook(webhook_id)
            registered.pop(topic)
            removed += 1
            _save_registrations(integration, registered)
        return removed


# ---------------------------------------------------------------------- helpers
def _save_registrations(integration, registered: dict[str, Any]) -> None:
    integration_metadata_write(integration, values={WEBHOOKS_METADATA_KEY: registered})


def _ships_everything(order: dict[str, Any], lines: list[dict[str, Any]] | None) -> bool:
    if not lines:
        return True
    shipped: dict[str, int] = {}
    for line in lines:
        key = str(line.get("line_item_id") or "")
        shipped[key] = shipped.get(key, 0) + int(line.get("quantity") or 0)
    return all(shipped.get(str(item["id"]), 0) >= int(item.get("quantity") or 0)
               for item in order.get("line_items") or [])


def _allowlisted_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback and host.strip("[]") in settings.OUTBOUND_URL_ALLOWLIST


def _read_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = json.loads(cursor)
        int(state["page"])
    except (ValueError, TypeError, KeyError):
        raise ValidationError("The WooCommerce sync cursor is unreadable; start the sync without it.",
                              details={"cursor": ["not a WooCommerce page cursor"]}) from None
    return state


def _gmt(value: datetime | date) -> str:
    """A `since` for modified_after with dates_are_gmt: UTC, whole seconds, no offset (rounded down)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    return datetime(value.year, value.month, value.day).isoformat()
