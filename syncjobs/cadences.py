"""The per-integration schedules' one table: which job types run on a clock, how often by default, and for whom.

Seed cadences: products every 6 h, inventory every 2 h, orders every hour,
order status every 30 min, ad structure every 6 h and ad metrics hourly, social
posts and CRM marketing campaigns every 6 h, health every 15 min. Each integration gets one
SyncSchedule row per cadence its provider can run (a sync job type whose
resources the connector pulls — the engine's own rule, `resources_for` — and
the health check for every provider); operators change the interval and switch
each on or off. A provider may declare other defaults (`Connector.schedule_minutes`).

Adding a scheduled job type is one entry here (and, for a sync, its resources in
resources.py): `schedules_ensure` gives existing integrations its row at the next
`migrate` (post_migrate), new integrations as they are created.

Order status: every channel here reports an order's status changes through the
same updated-since order list the orders sync reads, so `sync_order_status`
pulls the orders resource on a shorter clock. The two share the orders
watermark, so each pull fetches only what changed since the other's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connectors import registry

from .models import JobType
from .resources import resources_for

CHECK_HEALTH = "check_health"


class Runs(StrEnum):
    SYNC = "sync"  # starts a SyncJob of `job_type` (integration active, auto sync on)
    HEALTH = "health"  # tests the connection (integration active or in error)


@dataclass(frozen=True)
class Cadence:
    job_type: str
    every_minutes: int
    label: str
    runs: Runs = Runs.SYNC
    # Job types whose active job this one waits for (inventory levels need their products imported first).
    waits_for: tuple[str, ...] = ()


CADENCES: dict[str, Cadence] = {
    c.job_type: c
    for c in (
        Cadence(JobType.SYNC_PRODUCTS, 360, "Products"),
        Cadence(JobType.SYNC_INVENTORY, 120, "Inventory", waits_for=(JobType.SYNC_PRODUCTS,)),
        Cadence(JobType.SYNC_ORDERS, 60, "Orders"),
        Cadence(JobType.SYNC_ORDER_STATUS, 30, "Order status"),
        # Ad platforms: structure changes rarely and is heavy to walk; spend moves all day.
        Cadence(JobType.SYNC_CAMPAIGNS, 360, "Campaigns"),
        Cadence(JobType.SYNC_AD_METRICS, 60, "Ad metrics"),
        # Social platforms: a post's numbers are kept per day (the day's latest reading wins), so a few readings
        # a day; YouTube's daily quota (a comment-thread call per commented video) is why not hourly.
        Cadence(JobType.SYNC_POSTS, 360, "Social posts"),
        # A CRM's marketing campaigns: planned by people, changed a few times a day at most.
        Cadence(JobType.SYNC_MARKETING_CAMPAIGNS, 360, "Marketing campaigns"),
        Cadence(CHECK_HEALTH, 15, "Health check", runs=Runs.HEALTH),
    )
}
SYNC_JOB_TYPES = tuple(key for key, cadence in CADENCES.items() if cadence.runs == Runs.SYNC)
HEALTH_JOB_TYPES = tuple(key for key, cadence in CADENCES.items() if cadence.runs == Runs.HEALTH)


def cadences_for(provider: str) -> list[Cadence]:
    """The cadences an integration of `provider` gets, with the provider's own default minutes; none when the
    provider is not registered."""
    if not registry.is_registered(provider):
        return []
    connector = registry.get(provider)
    own = dict(connector.schedule_minutes)
    found = []
    for cadence in CADENCES.values():
        if cadence.runs == Runs.SYNC and not resources_for(cadence.job_type, connector.supports):
            continue
        minutes = own.get(cadence.job_type, cadence.every_minutes)
        found.append(Cadence(cadence.job_type, minutes, cadence.label, cadence.runs, cadence.waits_for))
    return found


def label(job_type: str) -> str:
    cadence = CADENCES.get(job_type)
    return cadence.label if cadence else job_type
