"""What a stored webhook does: its events, from the connector, dispatched by resource to the commerce services.

`handle(webhook)` runs inside processing's transaction (the one that also
writes the row's final status), so everything a handler writes commits with
"completed" or not at all. A delivery whose events no handler takes is
"ignored" (an unknown topic, a resource we do not import yet, a deletion).

Adding a resource: a function `(connector, events) -> summary` in `HANDLERS`; or, for a resource only its
connector understands (payments), the connector lists it in `webhook_resources` and handles each event in
`handle_webhook_event`.
Raising a ValueError/ValidationError marks the webhook failed at once (the
payload is wrong; retrying cannot help); anything else is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.errors import ValidationError
from connectors import registry
from connectors.base import Capability, Connector, WebhookEvent
from webhooks.models import IncomingStatus, IncomingWebhook


@dataclass(frozen=True)
class Outcome:
    status: str
    summary: dict[str, Any] = field(default_factory=dict)


def webhook_events(connector: Connector, webhook: IncomingWebhook) -> list[WebhookEvent]:
    """The connector's parse of the stored delivery; for a scheme-only connector, the whole body as one event."""
    body = bytes(webhook.body)
    if type(connector).parse_webhook is not Connector.parse_webhook:
        return connector.parse_webhook(webhook.headers or {}, body)
    payload = json.loads(body)
    return [WebhookEvent(event_type=webhook.event_type, external_id=webhook.external_id, resource="",
                         payload=payload if isinstance(payload, dict) else {"data": payload})]


def _is_deletion(event_type: str) -> bool:
    return event_type.rsplit("/", 1)[-1].rsplit(".", 1)[-1] in ("delete", "deleted")


def handle_orders(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """Order created/updated/paid/cancelled/fulfilled: upsert through commerce (idempotent, never regresses)."""
    events = [e for e in events if not _is_deletion(e.event_type)]
    if not events or not connector.supports(Capability.ORDERS):
        return None
    from commerce.services import upsert_orders

    orders = [connector.normalize_order(event.payload) for event in events]
    result = upsert_orders(integration=connector.integration, orders=orders)
    if result.failed:
        reasons = "; ".join(f"{item['external_id']}: {item['error']}" for item in result.failed)
        raise ValidationError(f"The order could not be imported ({reasons}).", details={"failed": result.failed})
    return {"orders": {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}}


HANDLERS: dict[str, Callable[[Connector, list[WebhookEvent]], dict[str, Any] | None]] = {
    "order": handle_orders,
}


def handle_connector_events(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any]:
    """Events of the resources the connector claims (`webhook_resources`: payments…), each to the connector."""
    summary: dict[str, Any] = {}
    for event in events:
        if event.resource in connector.webhook_resources and event.resource not in HANDLERS:
            summary.update(connector.handle_webhook_event(event) or {})
    return summary


def handle(webhook: IncomingWebhook) -> Outcome:
    connector = registry.connector_for(webhook.integration)
    events = webhook_events(connector, webhook)
    summary: dict[str, Any] = {}
    for resource, handler in HANDLERS.items():
        mine = [event for event in events if event.resource == resource]
        if mine:
            summary.update(handler(connector, mine) or {})
    summary.update(handle_connector_events(connector, events))
    return Outcome(IncomingStatus.COMPLETED if summary else IncomingStatus.IGNORED, summary)
