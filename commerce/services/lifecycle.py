"""An order after it ships: tracking events move it through shipped → in transit → delivered (or delivery failed,
returned), and subscribers hear `order.shipped`, `order.delivered`, `order.returned` once each.

`order_tracking_record` takes a parcel's events as the courier (or channel) reports them, each with the
provider's status word, and under the order's row lock:

- stores each event once (`TrackingEvent`, unique per order, tracking number and event key): a tracking
  answer replayed, or the same history read again on the next poll, adds nothing and changes nothing;
- translates the word with `statuses.normalize_status` (the one status table: the courier's connector
  declares its words there as channels do theirs); a word it lacks is stored and moves nothing;
- applies, in time order, only events newer than the newest already applied (`Order.tracking_at`): an
  older event arriving late is stored and ignored, so "in transit" can never follow "delivered";
- moves only an order whose every line has shipped (fulfilled, or already tracked): a partly shipped order
  still holds stock for its open lines, and its first parcel's delivery does not end it;
- stamps `shipped_at`, `delivered_at`, `returned_at` the first time (never again), and publishes the
  matching event at that moment only — that is what makes each event once;
- when the order is first delivered, queues the channel's delivery confirmation (the pipeline's task, after
  commit) for channels that take one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import ValidationError
from integrations.events import publish
from integrations.models import Integration

from ..models import TRACKED_STATUSES, Order, OrderStatus, TrackingEvent
from ..outbox import delivery_push_nudge
from ..statuses import UnknownChannelStatus, normalize_status
from .orders import MILESTONES, order_event_payload

logger = logging.getLogger(__name__)

# Statuses a tracking event may move an order from: shipped in full, or already on its way.
TRACKABLE_FROM = frozenset({OrderStatus.FULFILLED}) | TRACKED_STATUSES


@dataclass
class TrackingOutcome:
    stored: int = 0  # events not seen before
    applied: int = 0  # of those, the ones that moved the order
    ignored: int = 0  # seen before (replays)
    status: str = ""
    published: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, "applied": self.applied, "ignored": self.ignored, "status": self.status,
                "published": self.published}


def _status_of(provider: str, word: str) -> str:
    if not word:
        return ""
    try:
        status = normalize_status(provider=provider, status=word)
    except UnknownChannelStatus:
        logger.info("tracking word %r of %s is in no status table; stored, not applied", word, provider)
        return ""
    return status if status in TRACKED_STATUSES else ""


def _parse_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parsed, errors = [], {}
    for index, event in enumerate(events):
        key, at = str(event.get("external_id") or ""), event.get("occurred_at")
        if not key or not isinstance(at, datetime) or timezone.is_naive(at):
            errors[str(index)] = ["needs external_id and an aware occurred_at"]
            continue
        parsed.append(event)
    if errors:
        raise ValidationError("Some tracking events cannot be read.", details={"events": errors})
    return parsed


@transaction.atomic
def order_tracking_record(*, order_id: int, integration: Integration | None, tracking_number: str,
                          events: list[dict[str, Any]]) -> TrackingOutcome:
    """Store a parcel's tracking events and move the order by the new ones; see the module docstring.

    Each event: `external_id` (its key at the source), `occurred_at` (aware), `status` (the provider's
    word), optional `code` and `description`. Runs in the caller's transaction.
    """
    tracking_number = str(tracking_number or "").strip()[:100]
    if not tracking_number:
        raise ValidationError("A tracking event needs its tracking number.", details={"tracking_number": ["required"]})
    events = _parse_events(events)
    order = (Order.objects.select_for_update(of=("self",)).select_related("organization", "integration")
             .get(pk=order_id))
    outcome = TrackingOutcome(status=order.status)
    keys = {str(e["external_id"])[:255] for e in events}
    known = set(TrackingEvent.objects.filter(order=order, tracking_number=tracking_number, external_id__in=keys)
                .values_list("external_id", flat=True))
    provider = integration.provider if integration is not None else ""
    fresh: dict[str, TrackingEvent] = {}
    for event in events:
        key = str(event["external_id"])[:255]
        if key in known or key in fresh:
            outcome.ignored += 1
            continue
        fresh[key] = TrackingEvent(
            organization=order.organization, order=order, integration=integration, tracking_number=tracking_number,
            external_id=key, code=str(event.get("code") or "")[:64],
            description=str(event.get("description") or "")[:300],
            status=_status_of(provider, str(event.get("status") or "")), occurred_at=event["occurred_at"])
    outcome.stored = len(fresh)
    if not fresh:
        return outcome
    for row in sorted(fresh.values(), key=lambda r: r.occurred_at):
        if row.status and order.status in TRACKABLE_FROM and (order.tracking_at is None
                                                               or row.occurred_at > order.tracking_at):
            row.applied = True
            outcome.applied += 1
            _move(order, row.status, row.occurred_at, outcome)
    TrackingEvent.objects.bulk_create(fresh.values())
    if outcome.applied:
        order.save(update_fields=["status", "tracking_at", "shipped_at", "delivered_at", "returned_at",
                                  "updated_at"])
        _announce(order, tracking_number, integration, outcome)
    outcome.status = order.status
    return outcome


def _move(order: Order, status: str, at: datetime, outcome: TrackingOutcome) -> None:
    order.status, order.tracking_at = status, at
    for stamp, statuses, event in MILESTONES:
        if status in statuses and getattr(order, stamp) is None:
            setattr(order, stamp, at)
            outcome.published.append(event)


def _announce(order: Order, tracking_number: str, integration: Integration | None, outcome: TrackingOutcome) -> None:
    payload = order_event_payload(order, list(order.lines.all()))
    payload["tracking"] = {
        "tracking_number": tracking_number, "status": order.status,
        "carrier": integration.name if integration is not None else "",
        "shipped_at": order.shipped_at, "delivered_at": order.delivered_at, "returned_at": order.returned_at,
    }
    for event in outcome.published:
        publish(event, payload, order.organization, order.integration)
    if "order.delivered" in outcome.published:
        delivery_push_nudge(order.pk)


@transaction.atomic
def order_mark_tracked(*, order: Order, status: str, at: datetime | None = None) -> Order:
    """An operator's tracking status by hand (the status API, the admin): the same stamps and events as a courier's
    event at `at` (now by default), applied only if newer than what tracking already said."""
    at = at or timezone.now()
    outcome = order_tracking_record(order_id=order.pk, integration=None, tracking_number="manual",
                                    events=[{"external_id": f"manual:{status}:{at.isoformat()}", "status": status,
                                             "occurred_at": at, "description": "set by hand"}])
    if not outcome.applied:
        raise ValidationError(f"The order is {outcome.status}; tracking already reported something newer.",
                              details={"status": [outcome.status]})
    return Order.objects.get(pk=order.pk)


def order_returned(*, order: Order, at: datetime, extra: dict[str, Any]) -> bool:
    """Everything shipped came back (returns.py): the order becomes returned, stamped and announced once.
    False, changing nothing, when it was returned before or still has lines to ship. Caller holds the lock."""
    if order.returned_at is not None or order.status not in TRACKABLE_FROM:
        return False
    order.status, order.returned_at = OrderStatus.RETURNED, at
    order.tracking_at = max(at, order.tracking_at or at)  # a courier event older than the return moves nothing
    order.save(update_fields=["status", "tracking_at", "returned_at", "updated_at"])
    payload = order_event_payload(order, list(order.lines.all()))
    payload.update(extra)
    publish("order.returned", payload, order.organization, order.integration)
    return True
