"""The one event publisher: `publish(...)` and `publish_many(...)`, callable from any floor.

Services on every floor announce what happened (an order imported, a parcel
delivered, an integration in error). Outgoing webhook endpoints and their
deliveries belong to the `webhooks` app, which sits above the floors that
publish; so they call this module, and `webhooks` installs its recorder here
when the app registry is ready (`WebhooksConfig.ready`). The recorder writes
one delivery per subscribed endpoint in the caller's transaction, exactly as a
direct call would: the event exists exactly when the change that caused it
committed. `webhooks.events` holds the catalog of event types and the recorder.

Subscribers: an app above the publishers that must react to some events (notifications: alerts to people)
adds a subscriber at app ready (`events_subscriber_add`), naming the event types it hears. It is called
after the recorder, in the same transaction, with each event of those types; what it writes commits or
rolls back with the change, and anything it sends out it sends after commit. A subscriber's exception
propagates: the event and the change that caused it are one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from accounts.models import Organization
    from integrations.models import Integration

Publish = Callable[..., list[Any]]

Subscriber = Callable[[str, dict[str, Any], "Organization", "Integration | None"], None]

_recorder: dict[str, Publish] = {}
_subscribers: dict[str, tuple[frozenset[str], Subscriber]] = {}


def events_recorder_install(*, publish: Publish, publish_many: Publish) -> None:
    """Called once by the webhooks app; a second call (tests reloading apps) replaces the first."""
    _recorder.update(publish=publish, publish_many=publish_many)


def events_subscriber_add(name: str, *, event_types: Iterable[str], subscriber: Subscriber) -> None:
    """Call `subscriber(event_type, payload, organization, integration)` for each published event of
    `event_types`; `name` keys it, so a second add (tests reloading apps) replaces the first."""
    _subscribers[name] = (frozenset(event_types), subscriber)


def events_subscriber_remove(name: str) -> None:
    _subscribers.pop(name, None)


def _heard(event_type: str) -> list[Subscriber]:
    return [subscriber for types, subscriber in _subscribers.values() if event_type in types]


def _recorded(name: str) -> Publish:
    try:
        return _recorder[name]
    except KeyError:
        raise ImproperlyConfigured("No event recorder: the webhooks app is not installed or not ready.") from None


def publish(event_type: str, payload: dict[str, Any], organization: Organization,
            integration: Integration | None = None) -> list[Any]:
    """Record one event for the organization's subscribed endpoints; returns the deliveries written."""
    deliveries = _recorded("publish")(event_type, payload, organization, integration)
    for subscriber in _heard(event_type):
        subscriber(event_type, payload, organization, integration)
    return deliveries


def publish_many(events: Iterable[tuple[str, dict[str, Any]]], organization: Organization,
                 integration: Integration | None = None, *, event_types: Iterable[str] | None = None) -> list[Any]:
    """`publish` for a batch of `(event_type, payload)` of one organization (one endpoint query, one insert).

    With no subscriber the batch stays lazy (the recorder may never build the payloads); with one, the batch
    is read once here and the subscribers hear the events of their types, in order. A caller that names the
    `event_types` its batch can hold keeps it lazy while no subscriber hears any of them (an imported page of
    orders: the notifications app hears other events, and 250 payloads nobody receives were ~8 % of the page).
    """
    if not _subscribers or (event_types is not None and not any(_heard(t) for t in event_types)):
        return _recorded("publish_many")(events, organization, integration)
    batch = list(events)
    deliveries = _recorded("publish_many")(batch, organization, integration)
    for event_type, payload in batch:
        for subscriber in _heard(event_type):
            subscriber(event_type, payload, organization, integration)
    return deliveries
