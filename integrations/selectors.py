"""Reads of integrations and their call log, always scoped to one organization.

Nothing here takes an id without the organization that must own it: another
organization's row is simply not found, so a caller cannot tell it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from accounts.models import Organization
from config.errors import IntegrationNotFound, NotFound

from .models import Integration, IntegrationLog


def _as_id(value: int | str) -> int | None:
    """An id from a URL, or None when it cannot be one (so a malformed id is a plain not-found, never a 500)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def integration_list(*, organization: Organization) -> QuerySet[Integration]:
    return Integration.objects.filter(organization=organization)


def integration_get(*, organization: Organization, integration_id: int | str) -> Integration:
    """The organization's integration with this id; IntegrationNotFound (404) otherwise, whoever else owns it."""
    pk = _as_id(integration_id)
    integration = None if pk is None else integration_list(organization=organization).filter(pk=pk).first()
    if integration is None:
        raise IntegrationNotFound(details={"id": str(integration_id)})
    return integration


def integration_log_list(*, organization: Organization) -> QuerySet[IntegrationLog]:
    """The organization's log rows, newest first.

    Scoped on `IntegrationLog.organization` alone (indexed with created_at), not
    on an OR with the integration's organization, which would defeat the index on
    a table of millions of rows. So whoever writes a log row must set its
    organization; a row without one is visible to no tenant.
    """
    return IntegrationLog.objects.filter(organization=organization)


def integration_log_get(*, organization: Organization, log_id: int | str) -> IntegrationLog:
    pk = _as_id(log_id)
    log = None if pk is None else integration_log_list(organization=organization).filter(pk=pk).first()
    if log is None:
        raise NotFound("Integration log not found.", details={"id": str(log_id)})
    return log


def integration_by_reference(reference: str) -> Integration | None:
    """What an operator types in a command: `<organization slug>/<code>`, or a code alone when exactly one
    organization uses it (codes are unique per organization only; a shell user sees every organization).
    None when it names no integration, or several."""
    slug, _, code = reference.rpartition("/")
    found = Integration.objects.filter(code=code)
    if slug:
        found = found.filter(organization__slug=slug)
    matches = list(found[:2])
    return matches[0] if len(matches) == 1 else None


def integration_receive_url(integration: Integration) -> str:
    """Where providers deliver an integration's webhooks: PUBLIC_BASE_URL + `/api/webhooks/receive/<route_key>/`.

    What the caller of a connector's `register_webhooks` passes it to subscribe (and what eBay's challenge
    hashes), so it must be the address exactly as the provider calls it: behind a proxy, PUBLIC_BASE_URL is the
    public origin. The route key, not the code: codes are unique only within an organization.
    """
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("webhook-receive",
                                                          kwargs={"route_key": integration.route_key})
