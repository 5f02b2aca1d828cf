"""A provider and a writer made of dicts, so the engine can be tested without HTTP or commerce.

FakeShop holds records per resource; FakeConnector pages through them (cursor =
the offset of the next page, `since` filtering on `updated`), can fail on a
given page, and normalizes records (one flagged `bad` raises a ValueError, as
mappings must). FakeWriter keeps what it was given by external id and answers
like commerce's UpsertResult (unchanged when the record is the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors import registry
from connectors.base import ConnectionResult, Connector, Page
from connectors.capabilities import InventorySource, OrdersSource, ProductsSource
from connectors.errors import ProviderError, ProviderUnavailable

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


class Mapping(ValueError):
    pass


@dataclass
class FakeShop:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"orders": [], "products": [],
                                                                              "inventory": []})
    page_size: int = 10
    fail_at: dict[tuple[str, int], Exception] = field(default_factory=dict)  # (resource, offset) -> error, once
    calls: list[tuple[str, Any, Any]] = field(default_factory=list)  # (resource, since, cursor)
    healthy: bool = True

    def add_orders(self, n: int, *, start: int = 0, bad: set[int] = frozenset()) -> None:
        for i in range(start, start + n):
            self.records["orders"].append({
                "id": 1000 + i, "total": f"{i}.00", "bad": i in bad,
                "placed": (BASE_TIME + timedelta(days=i)).isoformat(),
                "updated": (BASE_TIME + timedelta(days=i, hours=1)).isoformat(),
            })


SHOP = FakeShop()


class FakeConnector(OrdersSource, ProductsSource, InventorySource, Connector):
    key = "fakeshop"
    display_name = "Fake shop"
    integration_type = "ecommerce"

    def test_connection(self) -> ConnectionResult:
        if not SHOP.healthy:
            return ConnectionResult(ok=False, latency_ms=1, detail="PROVIDER_ERROR: shop is down")
        return ConnectionResult(ok=True, latency_ms=1, detail="ok")

    def _pages(self, resource: str, since, cursor):
        SHOP.calls.append((resource, since, cursor))
        items = [r for r in SHOP.records[resource]
                 if since is None or datetime.fromisoformat(r["updated"]) >= since]
        offset = int(cursor or 0)
        while True:
            error = SHOP.fail_at.pop((resource, offset), None)
            if error is not None:
                raise error
            chunk = items[offset:offset + SHOP.page_size]
            offset += SHOP.page_size
            next_cursor = str(offset) if offset < len(items) else None
            yield Page(items=chunk, next_cursor=next_cursor)
            if next_cursor is None:
                return

    def iter_orders(self, *, since=None, cursor=None):
        return self._pages("orders", since, cursor)

    def iter_products(self, *, since=None, cursor=None):
        return self._pages("products", since, cursor)

    def iter_inventory(self, *, since=None, cursor=None):
        return self._pages("inventory", since, cursor)

    @staticmethod
    def normalize_order(record):
        if record.get("bad"):
            raise Mapping(f"order {record['id']} has no currency.")
        return {"external_id": str(record["id"]), "total": record["total"],
                "placed_at": datetime.fromisoformat(record["placed"]),
                "updated_at": datetime.fromisoformat(record["updated"])}

    @staticmethod
    def normalize_product(record):
        return {"external_id": str(record["id"]), "title": record.get("title", "")}

    @staticmethod
    def normalize_inventory_level(record):
        return {"inventory_item_id": str(record["inventory_item_id"]), "location_id": "1",
                "available": record.get("available", 0)}


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list = field(default_factory=list)


class FakeWriter:
    """`writers()` maps every resource to an upsert into `self.stored[resource]`."""

    def __init__(self, fail_ids: set[str] = frozenset()):
        self.stored: dict[str, dict[str, dict]] = {"orders": {}, "products": {}, "inventory": {}}
        self.fail_ids = set(fail_ids)
        self.calls = 0

    def _upsert(self, resource: str, records: list[dict]) -> Result:
        self.calls += 1
        result = Result()
        for record in records:
            key = record.get("external_id") or record.get("inventory_item_id")
            if key in self.fail_ids:
                result.failed.append({"external_id": key, "error": "refused by the writer"})
                continue
            old = self.stored[resource].get(key)
            if old is None:
                result.created += 1
            elif old == record:
                result.unchanged += 1
            else:
                result.updated += 1
            self.stored[resource][key] = record
        return result

    def writers(self) -> dict:
        return {
            "orders": lambda *, integration, orders: self._upsert("orders", orders),
            "products": lambda *, integration, products: self._upsert("products", products),
            "inventory": lambda *, integration, levels: self._upsert("inventory", levels),
        }


def transient() -> ProviderUnavailable:
    return ProviderUnavailable("The provider is unavailable.", status_code=503)


def permanent() -> ProviderError:
    return ProviderError("The provider refused the request.", status_code=403)


def install() -> None:
    registry.register(FakeConnector)


def uninstall() -> None:
    registry.unregister(FakeConnector.key)
