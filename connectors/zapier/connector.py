"""Zapier: it calls us. A Zapier app's REST-hook triggers subscribe URLs to Switchyard's outgoing events.

Nothing is sent to Zapier's API and no token is kept: a Zapier user pastes a Switchyard API key into the app's
auth (API key auth, as the rest of the API), which tests it with `GET /api/zapier/me/`. The app's trigger
subscribes (`POST /api/zapier/hooks/` `{target_url, event}` → `{id, …}`, kept by Zapier as `subscribeData`),
unsubscribes (`DELETE /api/zapier/hooks/{id}/`), and reads a sample for the Zap editor
(`GET /api/zapier/samples/{event_type}/`, an array as Zapier's `performList` wants). Each subscription is an
outgoing WebhookEndpoint of the organization (connectors/rest_hooks.py): the next matching event is delivered
to the target URL signed (Standard Webhooks), retried, and shown with every other endpoint. See api.py.

An Integration of this provider is optional: it only shows in the console how many hooks Zapier holds.
"""

from __future__ import annotations

from connectors.base import AuthKind, ConnectionResult, Connector
from connectors.rest_hooks import rest_hooks


class ZapierConnector(Connector):
    key = "zapier"
    display_name = "Zapier"
    integration_type = "webhook"
    auth_kind = AuthKind.NONE
    docs_url = "https://docs.zapier.com/platform/build/hook-trigger"
    urls_module = "connectors.zapier.urls"

    def test_connection(self) -> ConnectionResult:
        count = rest_hooks().hook_count(organization=self.integration.organization, source=self.key)
        return ConnectionResult(ok=True, latency_ms=0,
                                detail=f"Zapier calls Switchyard; {count} REST hook subscription(s) in place.")
