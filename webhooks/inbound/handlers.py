"""What a stored webhook does: its events, from the connector, dispatched by resource.

`handle(webhook)` runs inside processing's transaction (the one that also
writes the row's final status), so everything a handler writes commits with
"completed" or not at all. A delivery whose events no handler takes is
"ignored" (an unknown topic, a resource we do not import yet, a deletion).

Resources handled: the rows of the sync resource table (products, inventory
levels, orders — through `syncjobs.resources.resource_import`, the one import
path, for connectors with the capability), campaign and post changes (re-read from the
ad or social platform, then imported the same way) and deauthorization (the seller
removed the app: the integration is disconnected without calling the provider).
Adding an importable resource is a row in that table; a resource only its
connector understands (payments) is listed in the connector's
`webhook_resources` and handled by its `handle_webhook_event`.
A record that cannot be imported marks the webhook failed at once
(ValidationError: the payload is wrong; retrying cannot help), except a stock
level whose product is not imported yet (NotImportedYet: retried); anything
else is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import AuthKind, Connector, WebhookEvent
from integrations.models import Integration, IntegrationStatus
from integrations.oauth.flow import oauth_disconnect
from syncjobs.repull import campaigns_repull, posts_repull
from syncjobs.resources import BY_EVENT_RESOURCE, RESOURCES, ImportResult, ImportSource, Resource, resource_import
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


class NotImportedYet(ApplicationError):
    """A stock level of an item whose product has not been imported yet: retried (its product webhook may be on
    its way), then failed; the scheduled inventory sync sets it in any case."""

    code = "NOT_IMPORTED_YET"
    transient = True


def _raise_for_failures(resource: Resource, result: ImportResult) -> None:
    """A webhook imports all of its records or none: any failure fails (or, when only products are missing,
    retries) the row, and processing's transaction rolls back what the others wrote."""
    if not result.failed:
        return
    unknown = [item for item in result.failed if item["reason"] == "unknown_item"]
    if len(unknown) == len(result.failed):
        raise NotImportedYet(f"The product of {resource.label} {unknown[0]['external_id']} is not imported yet.",
                             details={"failed": unknown})
    reasons = "; ".join(f"{item['external_id']}: {item['error']}" for item in result.failed)
    raise ValidationError(f"The {resource.label} could not be imported ({reasons}).", details={"failed": result.failed})


def handle_resource(connector: Connector, resource: Resource, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """Created/updated/paid/cancelled… events of one resource: imported like a sync page (idempotent, never
    regresses). A deletion is ignored: the ERP keeps its records (other channels may list them)."""
    events = [e for e in events if not _is_deletion(e.event_type)]
    if not events or not connector.supports(resource.capability):
        return None
    result = resource_import(connector.integration, resource, [event.payload for event in events],
                             source=ImportSource.WEBHOOK, connector=connector)
    _raise_for_failures(resource, result)
    return {resource.name: result.counts()}


def handle_deauthorization(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """The seller removed the app (Shopify app/uninstalled, TikTok SELLER_DEAUTHORIZATION, eBay
    AUTHORIZATION_REVOCATION): wipe the tokens, pending_auth, integration.disconnected — without calling the
    provider, which already dropped the grant. Once: a second such event finds nothing to wipe.

    Connectors mark such an event with resource "deauthorization" only when it is about this integration's
    account (app-level topics reach one URL for every seller of the app).
    """
    if registry.get(connector.key).auth_kind != AuthKind.OAUTH2:
        return None

    integration = connector.integration
    row = Integration.objects.filter(pk=integration.pk).values("status", "access_token", "refresh_token").first()
    if row is None or (row["status"] == IntegrationStatus.PENDING_AUTH
                       and not (row["access_token"] or row["refresh_token"])):
        return {"deauthorization": {"event_type": events[0].event_type, "already_disconnected": True}}
    oauth_disconnect(integration=integration, reason="deauthorized", at_provider=False)
    return {"deauthorization": {"event_type": events[0].event_type, "disconnected": True}}


def handle_campaign_changes(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """An ad platform said campaigns changed (Meta's ad account webhooks name the object, not its new state):
    read them again and import them through the one import path. Processing's transaction holds the write."""
    ids = sorted({str(e.payload.get("campaign_id")) for e in events if e.payload.get("campaign_id")})
    if not ids or not connector.supports(RESOURCES["campaigns"].capability):
        return None
    resource = RESOURCES["campaigns"]
    result = campaigns_repull(connector, external_ids=ids)
    _raise_for_failures(resource, result)
    return {resource.name: result.counts()}


def handle_post_changes(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any] | None:
    """A social platform said posts changed (a page's feed webhook names the post, not its new text or
    counts): read them again and import them through the one import path, in processing's transaction."""
    ids = sorted({str(e.payload.get("post_id")) for e in events if e.payload.get("post_id")})
    if not ids or not connector.supports(RESOURCES["posts"].capability):
        return None
    resource = RESOURCES["posts"]
    result = posts_repull(connector, external_ids=ids)
    _raise_for_failures(resource, result)
    return {resource.name: result.counts()}


# Resources outside the import table, each with its own handler.
HANDLERS: dict[str, Callable[[Connector, list[WebhookEvent]], dict[str, Any] | None]] = {
    "deauthorization": handle_deauthorization,
    "campaign_change": handle_campaign_changes,
    "post_change": handle_post_changes,
}


def handle_connector_events(connector: Connector, events: list[WebhookEvent]) -> dict[str, Any]:
    """Events of the resources the connector claims (`webhook_resources`: payments…), each to the connector."""
    summary: dict[str, Any] = {}
    for event in events:
        if (event.resource in connector.webhook_resources and event.resource not in HANDLERS
                and event.resource not in BY_EVENT_RESOURCE):
            summary.update(connector.handle_webhook_event(event) or {})
    return summary


def handle(webhook: IncomingWebhook) -> Outcome:
    connector = registry.connector_for(webhook.integration)
    events = webhook_events(connector, webhook)
    summary: dict[str, Any] = {}
    for event_resource, resource in BY_EVENT_RESOURCE.items():
        mine = [event for event in events if event.resource == event_resource]
        if mine:
            summary.update(handle_resource(connector, resource, mine) or {})
    for name, handler in HANDLERS.items():
        mine = [event for event in events if event.resource == name]
        if mine:
            summary.update(handler(connector, mine) or {})
    summary.update(handle_connector_events(connector, events))
    return Outcome(IncomingStatus.COMPLETED if summary else IncomingStatus.IGNORED, summary)
