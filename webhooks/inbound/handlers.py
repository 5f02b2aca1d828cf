"""What a stored webhook does: its events, from the connector, dispatched by resource to the commerce services.

`handle(webhook)` runs inside processing's transaction (the one that also
writes the row's final status), so everything a handler writes commits with
"completed" or not at all. A delivery whose events no handler takes is
"ignored" (an unknown topic, a resource we do not import yet, a deletion).

Resources handled: order, product, inventory_level (through commerce, for connectors with the capability) and
deauthorization (the seller removed the app: the integration is disconnected without calling the provider).
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

from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import AuthKind, Capability, Connector, WebhookEvent
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


class NotImportedYet(ApplicationError):
    """A stock level of an item whose product has not been imported yet: retried (its product webhook may be on
    its way), then failed; the scheduled inventory sync sets it in any case."""

    code = "NOT_IMPORTED_YET"
    transient = True


def _raise_failed(what: str, failed: list[dict[str, Any]]) -> None:
    if failed:
        reasons = "; ".join(f"{item['external_id']}: {item['error']}" for item in failed)
        raise ValidationError(f"The {what} could not be imported ({reasons}).", details={"failed": failed})


def handle_products(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """Product created/updated: upsert the listing and its variants through commerce (idempotent, never regresses).

    A deletion is ignored: the ERP keeps its products (other channels may list them).
    """
    events = [e for e in events if not _is_deletion(e.event_type)]
    if not events or not registry.supports(connector.key, Capability.PRODUCTS):
        return None
    from commerce.services import upsert_products

    result = upsert_products(integration=connector.integration,
                             products=[connector.normalize_product(event.payload) for event in events])
    _raise_failed("product", result.failed)
    return {"products": {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}}


def handle_inventory_levels(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """A stock level changed at a channel location: set on_hand through commerce (idempotent, never regresses)."""
    if not registry.supports(connector.key, Capability.INVENTORY):
        return None
    from commerce.services import upsert_inventory_levels

    result = upsert_inventory_levels(integration=connector.integration,
                                     levels=[connector.normalize_inventory_level(event.payload) for event in events])
    unknown = [item for item in result.failed if item.get("reason") == "unknown_item"]
    if unknown and len(unknown) == len(result.failed):
        raise NotImportedYet(f"The product of stock level {unknown[0]['external_id']} is not imported yet.",
                             details={"failed": unknown})
    _raise_failed("stock level", result.failed)
    return {"inventory_levels": {"created": result.created, "updated": result.updated,
                                 "unchanged": result.unchanged}}


def handle_deauthorization(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """The seller removed the app (Shopify app/uninstalled, TikTok SELLER_DEAUTHORIZATION, eBay
    AUTHORIZATION_REVOCATION): wipe the tokens, pending_auth, integration.disconnected — without calling the
    provider, which already dropped the grant. Once: a second such event finds nothing to wipe.

    Connectors mark such an event with resource "deauthorization" only when it is about this integration's
    account (app-level topics reach one URL for every seller of the app).
    """
    if registry.get(connector.key).auth_kind != AuthKind.OAUTH2:
        return None
    from integrations.models import Integration, IntegrationStatus
    from integrations.oauth.flow import oauth_disconnect

    integration = connector.integration
    row = Integration.objects.filter(pk=integration.pk).values("status", "access_token", "refresh_token").first()
    if row is None or (row["status"] == IntegrationStatus.PENDING_AUTH
                       and not (row["access_token"] or row["refresh_token"])):
        return {"deauthorization": {"event_type": events[0].event_type, "already_disconnected": True}}
    oauth_disconnect(integration=integration, reason="deauthorized", at_provider=False)
    return {"deauthorization": {"event_type": events[0].event_type, "disconnected": True}}


HANDLERS: dict[str, Callable[[Connector, list[WebhookEvent]], dict[str, Any] | None]] = {
    "order": handle_orders,
    "product": handle_products,
    "inventory_level": handle_inventory_levels,
    "deauthorization": handle_deauthorization,
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
