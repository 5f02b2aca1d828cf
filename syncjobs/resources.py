"""What a sync can pull, and how each resource goes from a provider page to the ERP's records.

A resource names the connector calls that pull and normalize it and the
commerce service that upserts it. A job type is an ordered list of resources
(products before inventory before orders, so stock and order lines find their
products). Adding a resource (campaigns, say) is one entry here and a writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from connectors.base import Capability, Connector, Page

from .models import JobType


class UpsertOutcome(Protocol):
    """What a writer answers (commerce.services.UpsertResult has this shape)."""

    created: int
    updated: int
    unchanged: int
    failed: list[dict[str, Any]]


# writer(integration=…, <resource.writer_kwarg>=[normalized records]) -> UpsertOutcome, inside the caller's transaction
Writer = Callable[..., UpsertOutcome]


@dataclass(frozen=True)
class Resource:
    name: str
    capability: Capability
    writer_name: str  # the function in commerce.services
    writer_kwarg: str  # its keyword for the list of records

    def pages(self, connector: Connector, *, since: datetime | None, cursor: str | None) -> Iterator[Page]:
        method = {
            "products": connector.iter_products,
            "inventory": connector.iter_inventory,
            "orders": connector.iter_orders,
        }[self.name]
        return method(since=since, cursor=cursor)

    def normalize(self, connector: Connector, record: dict[str, Any]) -> dict[str, Any]:
        method = {
            "products": connector.normalize_product,
            "inventory": connector.normalize_inventory_level,
            "orders": connector.normalize_order,
        }[self.name]
        return method(record)

    def external_id(self, record: Mapping[str, Any]) -> str:
        """The provider id of a raw record, for error reports; an inventory level is item@location."""
        if self.name == "inventory":
            return f"{record.get('inventory_item_id', '?')}@{record.get('location_id', '?')}"
        value = record.get("id")
        return "" if value is None else str(value)


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("products", Capability.PRODUCTS, "upsert_products", "products"),
        Resource("inventory", Capability.INVENTORY, "upsert_inventory_levels", "levels"),
        Resource("orders", Capability.ORDERS, "upsert_orders", "orders"),
    )
}

JOB_RESOURCES: dict[str, tuple[str, ...]] = {
    JobType.SCHEDULED_SYNC: ("products", "inventory", "orders"),
    JobType.SYNC_PRODUCTS: ("products",),
    JobType.SYNC_INVENTORY: ("inventory",),
    JobType.SYNC_ORDERS: ("orders",),
    JobType.BACKFILL: ("orders",),
    JobType.SYNC_CAMPAIGNS: (),  # no connector pulls campaigns yet: starting one is refused
}


def resources_for(job_type: str, provider_supports: Callable[[Capability], bool]) -> list[Resource]:
    """The resources a job of this type pulls from a provider, in order. A single-resource type the provider
    lacks gives [], which callers refuse; the scheduled sync takes whatever the provider has."""
    names = JOB_RESOURCES.get(job_type, ())
    return [RESOURCES[name] for name in names if provider_supports(RESOURCES[name].capability)]


def default_writers() -> dict[str, Writer]:
    """The commerce services, imported late: commerce is its own app and may be absent in a unit test."""
    from commerce import services

    return {name: getattr(services, resource.writer_name) for name, resource in RESOURCES.items()}
