"""The events Switchyard publishes to its webhook endpoints, and `publish()`.

`publish(event_type, payload, organization, integration=None)` writes one
WebhookDelivery per active endpoint of the organization subscribed to the event
(by name or `"*"`), in the caller's transaction: the event exists exactly when
the change that caused it committed. No Celery message is sent inside the
transaction; after commit one nudge wakes the dispatcher (and the beat sweep
finds the rows anyway if the nudge is lost).

Every delivery body is a Standard Webhooks envelope:
`{"type": "order.created", "timestamp": "2026-…Z", "data": {…}}`; the event id
(`msg_…`, the `webhook-id` header) is shared by the deliveries of one event and
stable across retries, so receivers deduplicate on it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Organization
from config.broker import nudge
from integrations.models import Integration

from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

ALL_EVENTS = "*"
PING = "ping"


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    example: dict[str, Any]


_INTEGRATION = {"id": 42, "code": "shop-ro", "provider": "acme_shop", "name": "Shop RO"}  # provider: a registry key
_ORDER = {
    "id": 1001,
    "integration": _INTEGRATION,
    "external_number": "#1042",
    "status": "paid",
    "currency": "RON",
    "total": "249.90",
    "placed_at": "2026-05-01T09:30:00Z",
    "lines": [{"sku": "TSHIRT-M", "quantity": 2, "unit_price": "124.95"}],
}

CATALOG: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("integration.connected", "An integration finished connecting (OAuth or API keys).",
                  {"integration": _INTEGRATION}),
        EventType("integration.disconnected", "An integration was disconnected; its tokens are gone.",
                  {"integration": _INTEGRATION, "reason": "user"}),
        EventType("integration.error", "An integration went into error (credentials refused, provider down).",
                  {"integration": _INTEGRATION, "error": "Token refresh failed: invalid_grant"}),
        EventType("integration.synced", "A sync of an integration completed.",
                  {"integration": _INTEGRATION, "sync_job": {"id": 77, "job_type": "sync_orders",
                   "records_created": 12, "records_updated": 3, "records_failed": 0}}),
        EventType("sync_job.failed", "A sync job failed.",
                  {"integration": _INTEGRATION, "sync_job": {"id": 78, "job_type": "sync_products",
                   "error": "Provider returned 503"}}),
        EventType("order.created", "An order was imported from a channel.", {"order": _ORDER}),
        EventType("order.updated", "An imported order changed (status, lines, addresses).",
                  {"order": {**_ORDER, "status": "cancelled"}}),
        EventType("order.fulfilled", "An order was fulfilled; tracking is known.",
                  {"order": _ORDER, "fulfillment": {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}}),
        EventType("order.shipped", "The carrier has the order's parcel (its first tracking event); once per order.",
                  {"order": {**_ORDER, "status": "shipped"},
                   "tracking": {"tracking_number": "2347300120337", "status": "shipped", "carrier": "FAN Courier",
                                "shipped_at": "2026-05-01T18:58:00+03:00", "delivered_at": None,
                                "returned_at": None}}),
        EventType("order.delivered", "The carrier delivered the order; once per order.",
                  {"order": {**_ORDER, "status": "delivered"},
                   "tracking": {"tracking_number": "2347300120337", "status": "delivered", "carrier": "FAN Courier",
                                "shipped_at": "2026-05-01T18:58:00+03:00",
                                "delivered_at": "2026-05-02T13:05:00+03:00", "returned_at": None}}),
        EventType("order.returned", "The order came back: everything shipped was returned (restocked), or the "
                  "carrier returned the parcel to the sender; once per order.",
                  {"order": {**_ORDER, "status": "returned"},
                   "return": {"id": 7, "external_id": "claim-991", "source": "channel", "location": "main",
                              "reason": "Size too small", "lines": [{"sku": "TSHIRT-M", "quantity": 2}]}}),
        EventType("inventory.low_stock", "A product's stock at a location fell to its low-stock threshold.",
                  {"product": {"id": 5, "sku": "TSHIRT-M"}, "location": "main",
                   "on_hand": 3, "low_stock_threshold": 5}),
        EventType("campaign.updated", "A campaign's budget or status was changed from Switchyard and the ad platform "
                  "accepted it.",
                  {"campaign": {"id": 7, "external_id": "120210000000001", "name": "Spring sale",
                                "integration": {**_INTEGRATION, "provider": "acme_ads"}, "status": "paused",
                                "effective_status": "PAUSED", "currency": "EUR", "daily_budget": "25.00",
                                "lifetime_budget": None},
                   "changes": {"status": {"from": "active", "to": "paused"}}}),
        EventType("webhook.delivered", "An incoming provider webhook was stored and processed (completed; an "
                  "ignored topic publishes nothing).",
                  {"integration": _INTEGRATION, "incoming_webhook": {"id": 9000, "event_type": "orders/create",
                   "external_id": "b54557e4-8f1c", "result": {"orders": {"created": 1, "updated": 0}}}}),
        EventType("webhook.failed", "An incoming provider webhook exhausted its retries.",
                  {"integration": _INTEGRATION, "incoming_webhook": {"id": 9001, "event_type": "orders/create",
                   "error": "Order line references an unknown product"}}),
        EventType("endpoint.disabled", "An outgoing webhook endpoint was switched off because it kept failing "
                  "(410 Gone, or no success for days); a user's own switch-off publishes nothing.",
                  {"endpoint": {"id": 3, "url": "https://erp.example.com/hooks", "events": ["order.created"]},
                   "reason": "The endpoint answered 410 Gone."}),
        EventType("ads.suggestions_ready", "An analysis (campaigns, pricing or stock; by the AI integration or the "
                  "rule-based analyzer) finished with suggestions to review; `ad_account` is set for a campaigns "
                  "analysis, `integration` is the AI integration asked (null: the rules answered).",
                  {"integration": _INTEGRATION, "ad_account": {"id": 12, "name": "Shop RO ads"},
                   "run": {"id": 31, "kind": "campaigns", "source": "model"}, "suggestions": 4}),
        EventType(PING, "Sent by POST /api/webhook-endpoints/{id}/test/ whatever the endpoint subscribes to.",
                  {"endpoint": {"id": 3}, "message": "Switchyard test event"}),
    )
}


def event_catalog() -> list[dict[str, Any]]:
    """The catalog as the API serves it: each type, what it means and an example delivery body."""
    return [
        {"type": e.name, "description": e.description,
         "example": envelope(e.name, e.example, timestamp="2026-05-01T09:30:05Z")}
        for e in CATALOG.values()
    ]


def new_event_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


def envelope(event_type: str, data: dict[str, Any], *, timestamp: str | None = None) -> dict[str, Any]:
    """The Standard Webhooks body; `data` made JSON-safe now (Decimal, datetime, UUID become strings)."""
    stamp = timestamp or timezone.now().isoformat().replace("+00:00", "Z")
    return {"type": event_type, "timestamp": stamp, "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder))}


def endpoint_subscribes(endpoint: WebhookEndpoint, event_type: str, integration_id: int | None) -> bool:
    """An endpoint bound to an integration hears only that integration's events; an unbound one hears all."""
    if endpoint.integration_id is not None and endpoint.integration_id != integration_id:
        return False
    events = endpoint.events if isinstance(endpoint.events, list) else []
    return ALL_EVENTS in events or event_type in events


def publish(
    event_type: str,
    payload: dict[str, Any],
    organization: Organization,
    integration: Integration | None = None,
) -> list[WebhookDelivery]:
    """Write one delivery per subscribed active endpoint, in the caller's transaction; return them.

    Raises ValueError for an event type not in CATALOG or an integration of
    another organization: both are bugs in the caller, not bad input.
    """
    if event_type not in CATALOG:
        raise ValueError(f"Unknown webhook event type {event_type!r}; add it to webhooks.events.CATALOG.")
    if integration is not None and integration.organization_id != organization.pk:
        raise ValueError("The integration belongs to another organization.")
    integration_id = integration.pk if integration is not None else None
    # The list is filtered here: JSON containment has no portable lookup (SQLite), and an organization
    # has a handful of endpoints.
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(organization=organization, is_active=True)
        if endpoint_subscribes(e, event_type, integration_id)
    ]
    if not endpoints:
        return []
    body, event_id, now = envelope(event_type, payload), new_event_id(), timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, organization=organization, event=event_type, event_id=event_id, payload=body,
            status=DeliveryStatus.PENDING, next_attempt_at=now, created_at=now,
        )
        for endpoint in endpoints
    )
    nudge_dispatcher()
    return deliveries


def publish_many(
    events: Iterable[tuple[str, dict[str, Any]]],
    organization: Organization,
    integration: Integration | None = None,
) -> list[WebhookDelivery]:
    """`publish` for a batch of `(event_type, payload)` of one organization: one endpoint query, one insert.

    Each event gets its own event id and envelope, exactly as if published one
    by one in this order (an imported page of orders). `events` is consumed only
    when the organization has an active endpoint, so a generator lets the caller
    skip building payloads nobody receives. Raises ValueError like `publish`.
    """
    if integration is not None and integration.organization_id != organization.pk:
        raise ValueError("The integration belongs to another organization.")
    integration_id = integration.pk if integration is not None else None
    endpoints = list(WebhookEndpoint.objects.filter(organization=organization, is_active=True))
    if not endpoints:
        return []
    rows, now = [], timezone.now()
    for event_type, payload in events:
        if event_type not in CATALOG:
            raise ValueError(f"Unknown webhook event type {event_type!r}; add it to webhooks.events.CATALOG.")
        subscribed = [e for e in endpoints if endpoint_subscribes(e, event_type, integration_id)]
        if not subscribed:
            continue
        body, event_id = envelope(event_type, payload), new_event_id()
        rows.extend(
            WebhookDelivery(
                endpoint=endpoint, organization=organization, event=event_type, event_id=event_id, payload=body,
                status=DeliveryStatus.PENDING, next_attempt_at=now, created_at=now,
            )
            for endpoint in subscribed
        )
    if not rows:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    nudge_dispatcher()
    return deliveries

def _nudge() -> None:
    """Best effort (config/broker.py): the deliveries are rows, and beat runs the dispatcher every few seconds."""
    from .tasks import dispatch_due_deliveries

    nudge(dispatch_due_deliveries)


def nudge_dispatcher() -> None:
    """Wake a dispatcher once the current transaction commits: one message per transaction, however many events.

    Looking for our callback in `connection.run_on_commit` keeps a loop of
    publishes in one transaction to a single message; a rolled-back savepoint
    drops its callback with it, so a later publish registers a new one.
    """
    if connection.in_atomic_block and any(func is _nudge for _, func, _ in connection.run_on_commit):
        return
    transaction.on_commit(_nudge)
