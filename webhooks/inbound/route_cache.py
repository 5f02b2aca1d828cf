"""The integration behind a receive URL's route key, resolved once per process instead of once per request.

A provider posting thousands of webhooks a second to one address would
otherwise pay an ORM query (mostly building its SQL) per request for the same
row. So each process keeps what the receive view needs per route key: the
integration, its connector (the webhook secret decrypted once) and its
redactor.

Never stale for long, and never trusted blindly:
- a save or delete of any Integration in this process clears the cache
  (signals connected in apps.py);
- an entry lives at most WEBHOOK_ROUTE_CACHE_SECONDS, for changes made by
  other processes that bypass the model's save();
- the one INSERT that stores a webhook is conditioned on the integration's
  `updated_at` being the one cached (services.py): a webhook verified against
  an integration another process changed or deleted meanwhile is not stored;
  the entry is dropped and the request resolved again from the database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from connectors import registry
from connectors.capabilities import WebhookReceiver
from connectors.redaction import Redactor
from integrations.models import Integration

MAX_ENTRIES = 4096


@dataclass(frozen=True)
class Route:
    integration: Integration
    receiver: WebhookReceiver | None  # None: the connector verifies nothing (every delivery is refused)
    redactor: Redactor
    loaded: float
    handshakes: bool  # whether the connector answers any handshake (else a POST goes straight to verifying)


_routes: dict[str, Route] = {}
_lock = threading.Lock()


def route_for(route_key: str) -> Route | None:
    """The cached route of `route_key`, loaded (one query) when missing or older than WEBHOOK_ROUTE_CACHE_SECONDS;
    None when no registered integration has that key."""
    now = time.monotonic()
    route = _routes.get(route_key)
    if route is not None and now - route.loaded < settings.WEBHOOK_ROUTE_CACHE_SECONDS:
        return route
    integration = Integration.objects.filter(route_key=route_key).first()
    if integration is None or not registry.is_registered(integration.provider):
        forget(route_key)
        return None
    connector = registry.connector_for(integration)
    receiver = connector if isinstance(connector, WebhookReceiver) else None
    route = Route(integration, receiver, Redactor.for_integration(integration), now, _handshakes(receiver))
    if settings.WEBHOOK_ROUTE_CACHE_SECONDS > 0:
        with _lock:
            if len(_routes) >= MAX_ENTRIES:
                _routes.clear()
            _routes[route_key] = route
    return route


def _handshakes(receiver: WebhookReceiver | None) -> bool:
    if receiver is None:
        return False
    if type(receiver).webhook_handshake is not WebhookReceiver.webhook_handshake:
        return True  # its own
    scheme = receiver.webhook_scheme
    return scheme is not None and scheme.handshake is not None


def forget(route_key: str | None = None) -> None:
    """Drop one route key's entry, or (None) all of them."""
    with _lock:
        if route_key is None:
            _routes.clear()
        else:
            _routes.pop(route_key, None)


def integration_changed(sender, **kwargs) -> None:
    """post_save / post_delete of Integration: anything cached may be out of date."""
    forget()
