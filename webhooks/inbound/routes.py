"""Which app-level receive addresses exist, and which connectors each one serves (connectors/schemes.py `AppRoute`).

Derived, never listed: the routes of the shared schemes and of the schemes the
registered receivers declare. urls.py makes one URL of each at start-up; the
view asks again per request, so a connector registered later (a test's fake)
is served by a route that exists.
"""

from __future__ import annotations

from connectors import registry
from connectors.capabilities import WebhookReceiver
from connectors.schemes import SHARED, AppRoute, Scheme


def receivers() -> list[type[WebhookReceiver]]:
    return [cls for cls in registry.providers().values() if issubclass(cls, WebhookReceiver)]


def _route_schemes() -> list[Scheme]:
    schemes = [*SHARED.values(), *(cls.webhook_scheme for cls in receivers() if cls.webhook_scheme is not None)]
    return [scheme for scheme in schemes if scheme.app_route is not None]


def app_routes() -> dict[str, AppRoute]:
    """Every app-level address by name (`/api/webhooks/<name>/`)."""
    return {scheme.app_route.name: scheme.app_route for scheme in _route_schemes()}


def route_connectors(name: str) -> list[type[WebhookReceiver]]:
    """The registered receivers whose scheme delivers at the app-level address `name`."""
    return [cls for cls in receivers()
            if cls.webhook_scheme is not None and cls.webhook_scheme.app_route is not None
            and cls.webhook_scheme.app_route.name == name]


def route_has_handshake(name: str) -> bool:
    """Whether the address answers a GET: a scheme with that route has a handshake."""
    return any(scheme.handshake is not None for scheme in _route_schemes() if scheme.app_route.name == name)
