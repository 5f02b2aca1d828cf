"""The one resource table, and the one way a provider record becomes an ERP record.

A sync page, a webhook delivery and an order re-pull all hand raw provider
records to `resource_import(integration, resource, records, source=...)`. It
normalizes each record through the connector, leaves out what a backfill
window excludes, and writes the rest with the resource's commerce service
(bulk, idempotent, never regressing, with its ExternalRefs). The answer is one
ImportResult in one vocabulary: created / updated / unchanged / skipped counts,
failed records with their external ids and a stable `reason`, and the channel
locations that map to no ERP location.

What differs between the three callers is policy, and stays with them: the
sync engine counts failures on its job and goes on, a webhook fails (or
retries) its row, a re-pull reports totals to the operator.

A row of the table names everything about a resource: the connector
capability that serves it, the resource its webhook events carry (connectors
map their topics to it), the connector calls that pull and normalize it, and
the commerce service that writes it. A job type is an ordered list of
resources (products before inventory before orders, so stock and order lines
find their products). Adding a resource (campaigns, say) is one row here and
its writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import import_module
from typing import Any, Protocol

from connectors import registry
from connectors.base import Capability, Connector, Page
from integrations.models import Integration

from .models import JobType

# A record whose shape the mapping did not expect surfaces as one of these; the contract asks for ValueError.
RECORD_ERRORS = (ValueError, KeyError, TypeError)


class ImportSource(StrEnum):
    SYNC = "sync"
    WEBHOOK = "webhook"
    REPULL = "repull"


class UpsertOutcome(Protocol):
    """What a writer answers (commerce.services.UpsertResult has this shape; `unmapped_locations` is optional)."""

    created: int
    updated: int
    unchanged: int
    failed: list[dict[str, Any]]


# writer(integration=…, <resource.writer_kwarg>=[normalized records]) -> UpsertOutcome, inside the caller's transaction
Writer = Callable[..., UpsertOutcome]


@dataclass(frozen=True)
class Resource:
    name: str  # the one vocabulary: job steps, counts, webhook results
    capability: Capability
    event_resource: str  # WebhookEvent.resource of the events that carry it
    pull: str  # the Connector method that pulls pages: (since=, cursor=) -> Iterator[Page]
    normalize_with: str  # the Connector method that maps one raw record to commerce's shape
    writer_name: str  # the function in `writers` (commerce.services, ads.services, social.services)
    writer_kwarg: str  # its keyword for the list of records
    label: str  # one record, for people ("stock level")
    writers: str = "commerce.services"

    def pages(self, connector: Connector, *, since: datetime | None, cursor: str | None) -> Iterator[Page]:
        return getattr(connector, self.pull)(since=since, cursor=cursor)

    def normalize(self, connector: Connector, record: dict[str, Any]) -> dict[str, Any]:
        return getattr(connector, self.normalize_with)(record)

    def writer(self) -> Writer:
        return getattr(import_module(self.writers), self.writer_name)

    def external_id(self, record: Mapping[str, Any]) -> str:
        """The provider id of a raw record, for error reports; an inventory level is item@location, a day of a
        campaign's figures campaign:date."""
        if self.name == "inventory":
            return f"{record.get('inventory_item_id', '?')}@{record.get('location_id', '?')}"
        if self.name == "ad_metrics":
            return f"{record.get('campaign_id', '?')}:{record.get('date_start', record.get('date', '?'))}"
        value = record.get("id")
        return "" if value is None else str(value)


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("products", Capability.PRODUCTS, "product", "iter_products", "normalize_product",
                 "upsert_products", "products", "product"),
        Resource("inventory", Capability.INVENTORY, "inventory_level", "iter_inventory", "normalize_inventory_level",
                 "upsert_inventory_levels", "levels", "stock level"),
        Resource("orders", Capability.ORDERS, "order", "iter_orders", "normalize_order",
                 "upsert_orders", "orders", "order"),
        # A channel's claims: after orders, so that a return finds its order.
        Resource("returns", Capability.RETURNS, "return", "iter_returns", "normalize_return",
                 "upsert_returns", "returns", "return"),
        # Ad platforms (connectors' AdsSource): structure, parents first, then the daily figures.
        Resource("ad_accounts", Capability.CAMPAIGNS, "ad_account", "iter_ad_accounts", "normalize_ad_account",
                 "upsert_ad_accounts", "accounts", "ad account", writers="ads.services"),
        Resource("campaigns", Capability.CAMPAIGNS, "campaign", "iter_campaigns", "normalize_campaign",
                 "upsert_campaigns", "campaigns", "campaign", writers="ads.services"),
        Resource("ad_sets", Capability.CAMPAIGNS, "ad_set", "iter_ad_sets", "normalize_ad_set",
                 "upsert_ad_sets", "ad_sets", "ad set", writers="ads.services"),
        Resource("ad_metrics", Capability.CAMPAIGNS, "ad_metrics_day", "iter_ad_metrics", "normalize_ad_metrics_day",
                 "upsert_campaign_metrics", "rows", "campaign's day of metrics", writers="ads.services"),
        Resource("social_accounts", Capability.POSTS, "social_account", "iter_social_accounts",
                 "normalize_social_account", "upsert_social_accounts", "accounts", "social account",
                 writers="social.services"),
        Resource("posts", Capability.POSTS, "post", "iter_posts", "normalize_post",
                 "upsert_posts", "posts", "post", writers="social.services"),
        # A CRM's marketing campaigns (MarketingCampaignSource) into the ads records.
        Resource("marketing_campaigns", Capability.MARKETING_CAMPAIGNS, "marketing_campaign",
                 "iter_marketing_campaigns", "normalize_marketing_campaign", "upsert_marketing_campaigns",
                 "campaigns", "marketing campaign", writers="ads.services"),
    )
}

# Webhook events name their resource in the connectors' words (`order`); this finds the row.
BY_EVENT_RESOURCE: dict[str, Resource] = {r.event_resource: r for r in RESOURCES.values()}

AD_STRUCTURE = ("ad_accounts", "campaigns", "ad_sets")

JOB_RESOURCES: dict[str, tuple[str, ...]] = {
    # A shop pulls its own (claims after orders); an ad platform its structure and figures; a social platform its
    # accounts and posts (each provider takes what it has).
    JobType.SCHEDULED_SYNC: ("products", "inventory", "orders", "returns", *AD_STRUCTURE, "ad_metrics",
                             "social_accounts", "posts", "marketing_campaigns"),
    JobType.SYNC_PRODUCTS: ("products",),
    JobType.SYNC_INVENTORY: ("inventory",),
    JobType.SYNC_ORDERS: ("orders",),
    JobType.SYNC_ORDER_STATUS: ("orders",),  # the same updated-since pull, on a shorter clock (cadences.py)
    JobType.BACKFILL: ("orders",),
    JobType.SYNC_CAMPAIGNS: AD_STRUCTURE,
    JobType.SYNC_AD_METRICS: ("ad_metrics",),  # the last AD_METRICS_RESTATEMENT_DAYS days, or from `since`
    JobType.SYNC_POSTS: ("social_accounts", "posts"),
    JobType.SYNC_MARKETING_CAMPAIGNS: ("marketing_campaigns",),
}



def resources_for(job_type: str, provider_supports: Callable[[Capability], bool]) -> list[Resource]:
    """The resources a job of this type pulls from a provider, in order. A single-resource type the provider
    lacks gives [], which callers refuse; the scheduled sync takes whatever the provider has."""
    names = JOB_RESOURCES.get(job_type, ())
    return [RESOURCES[name] for name in names if provider_supports(RESOURCES[name].capability)]


def default_writers() -> dict[str, Writer]:
    return {name: resource.writer() for name, resource in RESOURCES.items()}


# ---------------------------------------------------------------------- the import
@dataclass
class ImportResult:
    """What one `resource_import` did. `failed` items are `{"resource", "external_id", "error", "reason"}`:
    `reason` is the writer's stable word (`unknown_item`: the product is not imported yet; `invalid`) or
    `unreadable` (the connector could not normalize the raw record); `error` is for people."""

    resource: str
    source: str
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # outside a backfill window: neither imported nor failed
    failed: list[dict[str, str]] = field(default_factory=list)
    unmapped_locations: set[str] = field(default_factory=set)
    external_ids: set[str] = field(default_factory=set)  # of the normalized records handed to the writer

    @property
    def processed(self) -> int:
        return self.received - self.skipped

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def fail(self, external_id: Any, error: str, reason: str) -> None:
        self.failed.append({"resource": self.resource, "external_id": "" if external_id is None else str(external_id),
                            "error": error, "reason": reason})


@dataclass
class Normalized:
    """Raw records of one resource read through the connector, not yet written: the records for the writer, and
    in `result` what was received, skipped (outside the window) and unreadable on the way.

    Why apart from the write: normalizing reads no ERP table (a connector may call its provider to complete a
    record, which writes only that call's log row), so the sync engine normalizes page N+1 on its fetching thread
    while page N is written (prefetch.py), and the writing thread only writes. `len()` is the number of raw
    records received.
    """

    result: ImportResult
    items: list[dict[str, Any]]

    def __len__(self) -> int:
        return self.result.received


def normalize_records(
    resource: Resource | str,
    records: list[dict[str, Any]],
    *,
    source: ImportSource,
    connector: Connector,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> Normalized:
    """Normalize raw provider `records` through `connector`, leaving out what `window` (since, until) excludes (a
    backfill covers orders placed in it; the provider filters by update time). A record the connector cannot
    normalize is failed as `unreadable`. Reads no ERP table: safe on a fetching thread."""
    resource = RESOURCES[resource] if isinstance(resource, str) else resource
    result = ImportResult(resource.name, str(source), received=len(records))
    since, until = window
    normalized: list[dict[str, Any]] = []
    for record in records:
        try:
            item = resource.normalize(connector, record)
        except RECORD_ERRORS as exc:
            result.fail(resource.external_id(record), f"{type(exc).__name__}: {exc}"[:500], "unreadable")
            continue
        placed = item.get("placed_at")
        if placed is not None and ((since and placed < since) or (until and placed >= until)):
            result.skipped += 1
            continue
        normalized.append(item)
    return Normalized(result, normalized)


def resource_import(
    integration: Integration,
    resource: Resource | str,
    records: list[dict[str, Any]] | Normalized,
    *,
    source: ImportSource,
    connector: Connector | None = None,
    window: tuple[datetime | None, datetime | None] = (None, None),
    write: Writer | None = None,
) -> ImportResult:
    """Normalize raw provider `records` of one resource and write them through commerce; never calls a provider
    itself (a connector's normalize may).

    Runs in the caller's transaction (each writer is atomic on its own). A
    record the connector cannot normalize, or the writer refuses, is reported
    in `failed` and nothing of it is written; the others are. `window` (since,
    until) skips records placed outside it (`normalize_records`). `records`
    already `Normalized` (the sync engine's fetching thread did it) are
    written as they are. `write` replaces the commerce writer (tests, the
    engine's injected writers).
    """
    resource = RESOURCES[resource] if isinstance(resource, str) else resource
    if isinstance(records, Normalized):
        prepared = records
    else:
        connector = connector if connector is not None else registry.connector_for(integration)
        prepared = normalize_records(resource, records, source=source, connector=connector, window=window)
    result, normalized = prepared.result, prepared.items
    if not normalized:
        return result
    outcome = (write or resource.writer())(integration=integration, **{resource.writer_kwarg: normalized})
    result.created, result.updated, result.unchanged = outcome.created, outcome.updated, outcome.unchanged
    for failure in outcome.failed:
        result.fail(failure.get("external_id"), str(failure["error"]), failure.get("reason", "invalid"))
    result.unmapped_locations |= set(getattr(outcome, "unmapped_locations", ()) or ())
    result.external_ids = {str(item["external_id"]) for item in normalized if item.get("external_id")}
    return result
