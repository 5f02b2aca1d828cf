"""The one event publisher: `publish(...)` and `publish_many(...)`, callable from any floor.

Services on every floor announce what happened (an order imported, a parcel
delivered, an integration in error). Outgoing webhook endpoints and their
deliveries belong to the `webhooks` app, which sits above the floors that
publish; so they call this module, and `webhooks` installs its recorder here
when the app registry is ready (`WebhooksConfig.ready`). The recorder writes
one delivery per subscribed endpoint in the caller's transaction, exactly as a
direct call would: the event exists exactly when the change that caused it
committed. `webhooks.events` holds the catalog of event types and the recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from accounts.models import Organization
    from integrations.models import Integration

Publish = Callable[..., list[Any]]

_recorder: dict[str, Publish] = {}


def events_recorder_install(*, publish: Publish, publish_many: Publish) -> None:
    """Called once by the webhooks app; a second call (tests reloading apps) replaces the first."""
    _recorder.update(publish=publish, publish_many=publish_many)


def _recorded(name: str) -> Publish:
    try:
        return _recorder[name]
    except KeyError:
        raise ImproperlyConfigured("No event recorder: the webhooks app is not installed or not ready.") from None


def publish(event_type: str, payload: dict[str, Any], organization: Organization,
            integration: Integration | None = None) -> list[Any]:
    """Record one event for the organization's subscribed endpoints; returns the deliveries written."""
    return _recorded("publish")(event_type, payload, organization, integration)


def publish_many(events: Iterable[tuple[str, dict[str, Any]]], organization: Organization,
                 integration: Integration | None = None) -> list[Any]:
    """`publish` for a batch of `(event_type, payload)` of one organization (one endpoint query, one insert)."""
    return _recorded("publish_many")(events, organization, integration)
