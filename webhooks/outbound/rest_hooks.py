"""REST-hook subscriptions (connectors/rest_hooks.py) as outgoing webhook endpoints.

A subscription is a WebhookEndpoint of the organization for one event type, marked `metadata["rest_hook"]` with
the subscribing platform; it is created and deleted through endpoints.py like any other, so it is signed,
retried, disabled after failing for days, and visible in the API and the console. A target that answers 410
Gone is deleted by the delivery (delivery.py), as the REST-hook convention says (an endpoint made by hand is only
disabled, and its owners told).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization
from config.errors import ValidationError
from connectors.rest_hooks import HookSubscription

from ..events import CATALOG, envelope
from ..models import WebhookEndpoint
from .delivery import REST_HOOK_MARK
from .endpoints import endpoint_create, endpoint_delete

MARK = REST_HOOK_MARK
SAMPLE_TIMESTAMP = "2026-05-01T09:30:05Z"


def _subscriptions(organization: Organization, source: str):
    return WebhookEndpoint.objects.filter(organization=organization, **{f"metadata__{MARK}": source})


class EndpointRestHooks:
    def hook_subscribe(self, *, organization: Organization, source: str, target_url: str,
                       event: str) -> HookSubscription:
        if event not in CATALOG:
            raise ValidationError(details={"event": [f"Unknown event type {event!r}."]})
        with transaction.atomic():
            existing = _subscriptions(organization, source).filter(url=target_url, events=[event]).first()
            if existing is not None:  # a platform retrying its subscribe: one endpoint
                return HookSubscription(id=existing.pk, event=event, target_url=existing.url, secret="",
                                        created=False)
            endpoint, secret = endpoint_create(organization=organization, url=target_url, events=[event],
                                               description=f"REST hook subscribed by {source}")
            endpoint.metadata = {**(endpoint.metadata or {}), MARK: source}
            endpoint.save(update_fields=["metadata", "updated_at"])
        return HookSubscription(id=endpoint.pk, event=event, target_url=endpoint.url, secret=secret, created=True)

    def hook_unsubscribe(self, *, organization: Organization, source: str, subscription_id: int | None = None,
                         target_url: str = "") -> int:
        found = _subscriptions(organization, source)
        if subscription_id is not None:
            found = found.filter(pk=subscription_id)
        elif target_url:
            found = found.filter(url=target_url)
        else:
            return 0
        endpoints = list(found)
        for endpoint in endpoints:
            endpoint_delete(endpoint=endpoint)  # its deliveries go with it
        return len(endpoints)

    def hook_count(self, *, organization: Organization, source: str) -> int:
        return _subscriptions(organization, source).count()

    def hook_sample(self, event_type: str) -> dict[str, Any]:
        event = CATALOG.get(event_type)
        if event is None:
            raise ValidationError(details={"event_type": [f"Unknown event type {event_type!r}."]})
        return envelope(event.name, event.example, timestamp=SAMPLE_TIMESTAMP)
