"""The REST-hook port: an automation platform (Zapier) subscribes URLs to our events without importing webhooks.

A REST hook (the resthooks.org pattern Zapier uses) is an outgoing webhook endpoint that a platform creates and
deletes through an API on the organization's behalf: subscribe with a target URL and one event type, unsubscribe
by the id the subscribe answered. Here each subscription IS a WebhookEndpoint (webhooks/outbound/), so the next
matching event is delivered, signed and retried exactly like any other endpoint's. The webhooks app, a floor
above connectors, installs the implementation when the app registry is ready (`WebhooksConfig.ready`), the same
pattern as the chat-command port (connectors/chatops.py).

`source` is the subscribing platform's connector key: a subscription is marked with it, and only that source
may list or remove it (an endpoint an operator made by hand is never touched by a platform).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from accounts.models import Organization


@dataclass(frozen=True)
class HookSubscription:
    id: int
    event: str
    target_url: str
    secret: str  # the signing secret, "" when the subscription already existed (it is shown once)
    created: bool


class RestHooks(Protocol):
    def hook_subscribe(self, *, organization: Organization, source: str, target_url: str,
                       event: str) -> HookSubscription:
        """Create (or find: same source, URL and event) the endpoint. ValidationError for an unknown event type or
        a URL outgoing webhooks may not call."""
        ...

    def hook_unsubscribe(self, *, organization: Organization, source: str, subscription_id: int | None = None,
                         target_url: str = "") -> int:
        """Delete the source's subscriptions with that id (or that target URL); how many were deleted."""
        ...

    def hook_count(self, *, organization: Organization, source: str) -> int:
        ...

    def hook_sample(self, event_type: str) -> dict[str, Any]:
        """A delivery body of `event_type` as the endpoint would receive it; ValidationError for an unknown type."""
        ...


_installed: list[RestHooks] = []


def rest_hooks_install(implementation: RestHooks) -> None:
    _installed[:] = [implementation]


def rest_hooks() -> RestHooks:
    if not _installed:
        raise ImproperlyConfigured("No REST-hook implementation: the webhooks app is not installed or not ready.")
    return _installed[0]
