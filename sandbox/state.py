"""The sandbox shop at run time: the generated data plus what changed since, and the queries the API answers.

Lists are ordered by id ascending (inventory levels by item, then location) and
paged by keyset: a page_info remembers the filters and the last index served,
so a record touched during a pull neither moves nor repeats within that pull.
Mutations return the (topic, REST body) webhooks they cause; the server hands
them to the sender.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .data import (
    FO_LINE_ITEM_ID_BASE,
    FULFILLMENT_ID_BASE,
    FULFILLMENT_ORDER_ID_BASE,
    INVENTORY_ITEM_ID_BASE,
    LINE_ITEM_ID_BASE,
    ORDER_ID_BASE,
    SHOP_TZ,
    VARIANT_ID_BASE,
    OrderOverlay,
    ShopData,
    iso,
)

Webhook = tuple[str, dict[str, Any]]


class ShopError(Exception):
    """A request the shop refuses: rendered as Shopify renders it, `{"errors": ...}` with a status."""

    def __init__(self, status: int, errors: Any):
        super().__init__(str(errors))
        self.status = status
        self.errors = errors


def parse_time(name: str, value: str) -> int:
    """An ISO 8601 query value → epoch seconds; a naive value is in the shop's time zone."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise ShopError(400, {name: [f"{value!r} is not a valid ISO 8601 time"]}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHOP_TZ)
    return int(parsed.timestamp())


def parse_ids(name: str, value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ShopError(400, {name: ["expected a comma-separated list of ids"]}) from None


@dataclass
class Listing:
    """One resource's list: how many indices, whether an index passes the filters, how it renders."""

    size: int
    keep: Callable[[int], bool]
    render: Callable[[int], dict[str, Any]]

    def forward(self, start: int) -> Iterator[int]:
        return (j for j in range(start, self.size) if self.keep(j))

    def backward(self, start: int) -> Iterator[int]:
        return (j for j in range(start, -1, -1) if self.keep(j))


class ShopState:
    def __init__(self, data: ShopData, *, clock: Callable[[], float] = time.time):
        self.data = data
        self.clock = clock
        self.lock = threading.RLock()
        self.overlays: dict[int, OrderOverlay] = {}
        self._encoded: dict[int, bytes] = {}  # order_json's cache
        self.stock: dict[tuple[int, int], tuple[int, int]] = {}  # (inventory_item_id, location_id) → (available, ts)
        self._last_change_ts = data.max_generated_ts
        self._mutations = 0
        self._next_fulfillment = 0

    # ------------------------------------------------------------------ time
    def _change_ts(self) -> int:
        """A change's timestamp: now, but never before what was generated or changed already."""
        ts = max(int(self.clock()), self._last_change_ts)
        self._last_change_ts = ts
        return ts

    # ------------------------------------------------------------------ rendering
    def order(self, j: int) -> dict[str, Any]:
        return self.data.order(j, self.overlays.get(j))

    def order_json(self, j: int) -> bytes:
        """Order j as compact JSON, encoded once while it is as generated (a changed order is encoded afresh).

        Why: generating an order costs the simulator more than a real shop spends
        reading one, and a backfill bench then measures the simulator instead of
        the engine. Orders only ever gain an overlay, never lose one, so an order
        without one is exactly what was generated and its bytes stay true."""
        if j in self.overlays:
            return json.dumps(self.order(j), separators=(",", ":")).encode()
        encoded = self._encoded.get(j)
        if encoded is None:
            encoded = self._encoded[j] = json.dumps(self.order(j), separators=(",", ":")).encode()
        return encoded

    def prerender_orders(self) -> None:
        """Encode every order up front (a bench's shop: its pages then cost what serving stored rows costs)."""
        for j in range(self.data.order_count):
            self.order_json(j)

    def product(self, i: int) -> dict[str, Any]:
        return self.data.product(i, self.stock)

    def shop(self) -> dict[str, Any]:
        d = self.data
        return {
            "id": 10_000_000 + d.seed, "name": d.name, "email": f"owner@{d.domain}", "domain": d.domain,
            "myshopify_domain": d.domain, "currency": d.currency, "enabled_presentment_currencies": [d.currency],
            "iana_timezone": "Etc/GMT+5", "timezone": "(GMT-05:00) Etc/GMT+5", "plan_name": "basic",
            "plan_display_name": "Basic", "country_code": "RO", "primary_location_id": d.locations[0].id,
            "created_at": iso(d.product_created_ts(0) - 86400), "updated_at": iso(d.product_created_ts(0)),
        }

    def locations(self) -> list[dict[str, Any]]:
        return [{"id": loc.id, "name": loc.name, "active": True, "country_code": "RO", "legacy": False}
                for loc in self.data.locations]

    # ------------------------------------------------------------------ listings
    def orders_listing(self, query: dict[str, str]) -> Listing:
        d = self.data
        status = query.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            raise ShopError(400, {"status": [f"{status!r} is not one of open, closed, cancelled, any"]})
        checks: list[Callable[[int], bool]] = []
        if "ids" in query:
            wanted = {j for j in (d.order_index(x) for x in parse_ids("ids", query["ids"])) if j is not None}
            checks.append(wanted.__contains__)
        if "since_id" in query:
            since_id = int(query["since_id"]) if query["since_id"].isdigit() else 0
            checks.append(lambda j: ORDER_ID_BASE + j > since_id)
        bounds = [(key, parse_time(key, query[key])) for key in
                  ("updated_at_min", "updated_at_max", "created_at_min", "created_at_max") if key in query]
        updated = d.order_updated_ts
        for key, ts in bounds:
            if key == "updated_at_min":
                checks.append(lambda j, ts=ts: self._updated(j, updated) >= ts)
            elif key == "updated_at_max":
                checks.append(lambda j, ts=ts: self._updated(j, updated) <= ts)
            elif key == "created_at_min":
                checks.append(lambda j, ts=ts: d.order_created_ts(j) >= ts)
            else:
                checks.append(lambda j, ts=ts: d.order_created_ts(j) <= ts)
        if status != "any":
            checks.append(lambda j: self._order_status(j) == status)
        return Listing(d.order_count, _all(checks), self.order)

    def _updated(self, j: int, updated: list[int]) -> int:
        overlay = self.overlays.get(j)
        return overlay.updated_ts if overlay and overlay.updated_ts else updated[j]

    def _order_status(self, j: int) -> str:
        if j in self.overlays:
            order = self.order(j)
            cancelled, closed = order["cancelled_at"] is not None, order["closed_at"] is not None
        else:
            cancelled, closed = self.data.order_kind(j)[2], self.data.order_closed(j)
        return "cancelled" if cancelled else ("closed" if closed else "open")

    def products_listing(self, query: dict[str, str]) -> Listing:
        d = self.data
        checks: list[Callable[[int], bool]] = []
        if "ids" in query:
            wanted = {i for i in (d.product_index(x) for x in parse_ids("ids", query["ids"])) if i is not None}
            checks.append(wanted.__contains__)
        for key in ("updated_at_min", "updated_at_max"):
            if key in query:
                ts = parse_time(key, query[key])
                if key.endswith("min"):
                    checks.append(lambda i, ts=ts: d.product_updated_ts(i) >= ts)
                else:
                    checks.append(lambda i, ts=ts: d.product_updated_ts(i) <= ts)
        if "status" in query:
            wanted_status = set(query["status"].split(","))
            checks.append(lambda i: self.product(i)["status"] in wanted_status)
        return Listing(d.product_count, _all(checks), self.product)

    def levels_listing(self, query: dict[str, str]) -> Listing:
        d = self.data
        if "inventory_item_ids" not in query and "location_ids" not in query:
            raise ShopError(422, {"base": ["inventory_item_ids or location_ids must be given"]})
        checks: list[Callable[[int], bool]] = []
        if "inventory_item_ids" in query:
            items = {x for x in parse_ids("inventory_item_ids", query["inventory_item_ids"]) if d.inventory_item(x)}
            checks.append(lambda f: INVENTORY_ITEM_ID_BASE + _item_key(d, f) in items)
        if "location_ids" in query:
            locations = {d.location_index(x) for x in parse_ids("location_ids", query["location_ids"])}
            checks.append(lambda f: f % len(d.locations) in locations)
        if "updated_at_min" in query:
            ts = parse_time("updated_at_min", query["updated_at_min"])
            checks.append(lambda f: self.data.available(*d.level_at(f), self.stock)[1] >= ts)
        return Listing(d.level_count, _all(checks), lambda f: d.inventory_level(f, self.stock))

    # ------------------------------------------------------------------ fulfillment orders
    def fulfillment_orders(self, j: int) -> list[dict[str, Any]]:
        order = self.order(j)
        open_lines = [line for line in order["line_items"] if line["fulfillable_quantity"] > 0]
        if order["cancelled_at"]:
            status = "cancelled"
        elif not open_lines:
            status = "closed"
        else:
            status = "open"
        fo_id = FULFILLMENT_ORDER_ID_BASE + j
        return [{
            "id": fo_id, "shop_id": self.shop()["id"], "order_id": order["id"], "status": status,
            "assigned_location_id": self.data.locations[0].id, "request_status": "unsubmitted",
            "supported_actions": ["create_fulfillment"] if status == "open" else [],
            "created_at": order["created_at"], "updated_at": order["updated_at"],
            "line_items": [{
                "id": FO_LINE_ITEM_ID_BASE + (line["id"] - LINE_ITEM_ID_BASE), "shop_id": self.shop()["id"],
                "fulfillment_order_id": fo_id, "line_item_id": line["id"], "variant_id": line["variant_id"],
                "inventory_item_id": INVENTORY_ITEM_ID_BASE + (line["variant_id"] - VARIANT_ID_BASE),
                "quantity": line["quantity"], "fulfillable_quantity": line["fulfillable_quantity"],
            } for line in order["line_items"]],
        }]

    # ------------------------------------------------------------------ mutations
    def touch_orders(self, n: int) -> tuple[list[int], list[Webhook]]:
        """Change n orders (chosen by the seed and a counter): pay pending ones, note the others; bump updated_at."""
        d = self.data
        touched, hooks = [], []
        with self.lock:
            if not d.order_count:
                return [], []
            ts = self._change_ts()
            for _ in range(n):
                self._mutations += 1
                j = d._h(9, self._mutations) % d.order_count
                overlay = self.overlays.setdefault(j, OrderOverlay())
                overlay.updated_ts = ts
                financial = overlay.financial_status or d.order_kind(j)[0]
                paid_now = financial in ("pending", "authorized") and not d.order_kind(j)[2]
                if paid_now:
                    overlay.financial_status = "paid"
                else:
                    overlay.note = f"Touched by the sandbox ({self._mutations})"
                order = self.order(j)
                touched.append(order["id"])
                hooks.append(("orders/updated", order))
                if paid_now:
                    hooks.append(("orders/paid", order))
        return touched, hooks

    def set_inventory(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[Webhook]]:
        d = self.data
        missing = [k for k in ("location_id", "inventory_item_id", "available") if body.get(k) is None]
        if missing:
            raise ShopError(422, {k: ["is required"] for k in missing})
        try:
            item_id, location_id, available = (int(body["inventory_item_id"]), int(body["location_id"]),
                                               int(body["available"]))
        except (TypeError, ValueError):
            raise ShopError(422, {"base": ["inventory_item_id, location_id and available must be integers"]}) from None
        if d.inventory_item(item_id) is None:
            raise ShopError(422, {"inventory_item_id": ["Inventory item does not exist"]})
        n = d.location_index(location_id)
        if n is None:
            raise ShopError(422, {"location_id": ["Location does not exist"]})
        with self.lock:
            self.stock[(item_id, location_id)] = (available, self._change_ts())
            i, k = d.inventory_item(item_id)
            level = d.inventory_level(d.level_flat(i, k, n), self.stock)
        return level, [("inventory_levels/update", level)]

    def create_fulfillment(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[Webhook]]:
        spec = body.get("fulfillment") if isinstance(body, dict) else None
        groups = spec.get("line_items_by_fulfillment_order") if isinstance(spec, dict) else None
        if not groups:
            raise ShopError(422, {"fulfillment": ["line_items_by_fulfillment_order is required"]})
        if len(groups) != 1:
            raise ShopError(422, {"fulfillment": ["the sandbox fulfils one fulfillment order per call"]})
        group = groups[0]
        j = _int(group.get("fulfillment_order_id")) - FULFILLMENT_ORDER_ID_BASE
        if not 0 <= j < self.data.order_count:
            raise ShopError(404, "Not Found")
        with self.lock:
            fo = self.fulfillment_orders(j)[0]
            if fo["status"] != "open":
                message = f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status']}."
                raise ShopError(422, {"base": [message]})
            by_id = {line["id"]: line for line in fo["line_items"]}
            wanted = group.get("fulfillment_order_line_items") or [
                {"id": line["id"], "quantity": line["fulfillable_quantity"]} for line in fo["line_items"]
                if line["fulfillable_quantity"] > 0]
            picks: dict[int, int] = {}
            for item in wanted:
                line = by_id.get(_int(item.get("id")))
                quantity = _int(item.get("quantity"))
                if line is None or quantity <= 0 or quantity + picks.get(line["id"], 0) > line["fulfillable_quantity"]:
                    raise ShopError(422, {"base": ["Invalid fulfillment order line item quantity requested."]})
                picks[line["id"]] = picks.get(line["id"], 0) + quantity
            ts = self._change_ts()
            tracking = spec.get("tracking_info") or {}
            self._next_fulfillment += 1
            fulfillment = {
                "id": FULFILLMENT_ID_BASE + 3_000_000_000 + self._next_fulfillment,
                "order_id": fo["order_id"], "status": "success", "created_at": iso(ts), "updated_at": iso(ts),
                "tracking_company": tracking.get("company"), "tracking_number": tracking.get("number"),
                "tracking_numbers": [tracking["number"]] if tracking.get("number") else [],
                "tracking_url": tracking.get("url"), "notify_customer": bool(spec.get("notify_customer")),
                "location_id": fo["assigned_location_id"],
                "line_items": [{"id": by_id[fid]["line_item_id"], "quantity": q} for fid, q in picks.items()],
            }
            overlay = self.overlays.setdefault(j, OrderOverlay())
            for fid, quantity in picks.items():
                n = by_id[fid]["line_item_id"] - LINE_ITEM_ID_BASE - j * 10
                overlay.fulfilled_extra[n] = overlay.fulfilled_extra.get(n, 0) + quantity
            overlay.fulfillments.append(fulfillment)
            overlay.updated_ts = ts
            order = self.order(j)
        hooks = [("fulfillments/create", fulfillment), ("orders/updated", order)]
        if order["fulfillment_status"] == "fulfilled":
            hooks.append(("orders/fulfilled", order))
        else:
            hooks.append(("orders/partially_fulfilled", order))
        return fulfillment, hooks


def _all(checks: list[Callable[[int], bool]]) -> Callable[[int], bool]:
    if not checks:
        return lambda _: True
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(check(x) for check in checks)


def _item_key(d: ShopData, flat: int) -> int:
    i, k, _ = d.level_at(flat)
    return i * 10 + k


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
