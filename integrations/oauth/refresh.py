"""Keeping OAuth tokens fresh: the manual refresh, and what the beat task refreshes.

Every refresh goes through `connectors.tokens.refresh_token`, the one locked
refresh (a per-integration lock plus a row lock, and a re-read of the token
under them), with the access token the caller saw as `stale_token`. So a manual
refresh, the beat task and a sync that all find the same expiring token make
one provider call between them: whoever comes second sees a new token under the
lock and stops.

Which integrations the beat task refreshes: OAuth providers that can refresh,
with a refresh token, not waiting for a reconnect (pending_auth) or switched
off (inactive), whose access token expires within OAUTH_REFRESH_WINDOW_MINUTES
or that have not been refreshed for OAUTH_REFRESH_MAX_AGE_HOURS. "Refreshed" is
read from the call log: a successful `exchange_code` or `refresh_token` call is
the record of it, whoever made it (a sync's refresh counts too), so nothing
else has to be written on every refresh. (A token refreshed daily also finds
out early that its refresh token was revoked, and keeps rotating refresh tokens
from lapsing.)

Failures (recorded by integrations/health.py): the provider refused the refresh
token (invalid_grant) — tokens.py has the integration set to pending_auth and
`integration.error` sent with code REFRESH_FAILED (once, on the move), and
nobody retries until a reconnect. The token endpoint was down — transient: the
task backs off and tries again; when it gives up, the integration goes to
`error` with REFRESH_FAILED in last_error and `integration.error` is published.
A later successful refresh puts such an integration back to active.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from config.errors import CapabilityNotSupported, ValidationError
from connectors import registry, tokens
from connectors.base import AuthKind, Connector
from connectors.errors import RefreshFailed

from .. import health
from ..models import Integration, IntegrationLog, IntegrationStatus

logger = logging.getLogger(__name__)

TOKEN_ACTIONS = ("exchange_code", "refresh_token")  # the call-log actions of token grants (see connectors/)
REFRESHING_STATUSES = (IntegrationStatus.ACTIVE, IntegrationStatus.ERROR, IntegrationStatus.TESTING)
RECENT_REFRESH = timedelta(seconds=30)  # a manual refresh this soon after another one is that one


def refreshable_providers() -> list[str]:
    """Registry keys of OAuth connectors that implement a refresh."""
    return sorted(
        key for key, cls in registry.providers().items()
        if cls.auth_kind == AuthKind.OAUTH2 and cls.refresh_access_token is not Connector.refresh_access_token
    )


def refresh_due(*, now: datetime | None = None):
    """The integrations the beat task should refresh now (see the module docstring)."""
    now = now or timezone.now()
    window_end = now + timedelta(minutes=settings.OAUTH_REFRESH_WINDOW_MINUTES)
    max_age = now - timedelta(hours=settings.OAUTH_REFRESH_MAX_AGE_HOURS)
    recently = IntegrationLog.objects.filter(
        integration=OuterRef("pk"), action__in=TOKEN_ACTIONS, status_code__gte=200, status_code__lt=300,
        created_at__gte=max_age,
    )
    # A connect's code exchange is logged before its integration exists: a new integration counts as fresh.
    stale = ~Exists(recently) & Q(created_at__lt=max_age)
    return (
        Integration.objects.filter(provider__in=refreshable_providers(), status__in=REFRESHING_STATUSES)
        .exclude(refresh_token="")
        .filter(Q(expires_at__lte=window_end) | stale)
    )


def oauth_refresh(*, integration: Integration) -> bool:
    """Refresh the integration's token now (the API's refresh). True if this call refreshed it.

    False means another refresh got there first — while this call waited for
    the lock, or within the last RECENT_REFRESH (a double click, or a sync or
    the beat that finished just before this request was read, as the call log
    records it) — and the integration holds its token. Raises CAPABILITY_NOT_SUPPORTED for a provider
    without refresh, VALIDATION_ERROR without a refresh token, REFRESH_FAILED
    when the provider refused or could not be reached.
    """
    connector = registry.connector_for(integration)
    if not tokens.can_refresh(connector):
        raise CapabilityNotSupported(f"{connector.display_name} has no token refresh.",
                                     details={"provider": integration.provider})
    if not integration.refresh_token:
        raise ValidationError("The integration has no refresh token: connect it again.",
                              details={"refresh_token": ["not set"]})
    if _refreshed_since(integration, timezone.now() - RECENT_REFRESH):
        integration.refresh_from_db(fields=list(tokens.TOKEN_FIELDS))
        return False
    return _refresh(connector, integration.access_token)


def _refreshed_since(integration: Integration, since: datetime) -> bool:
    return IntegrationLog.objects.filter(
        integration=integration, action="refresh_token", status_code__gte=200, status_code__lt=300,
        created_at__gte=since,
    ).exists()


def oauth_refresh_if_due(*, integration_id: int) -> bool:
    """The beat's per-integration step: refresh if (still) due. True if this call refreshed.

    Checked again here because the task may run long after the beat chose it,
    after a sync or a manual refresh already did the work.
    """
    integration = refresh_due().filter(pk=integration_id).first()
    if integration is None:
        return False
    return _refresh(registry.connector_for(integration), integration.access_token)


def _refresh(connector: Connector, stale_token: str) -> bool:
    integration = connector.integration
    refreshed = tokens.refresh_token(connector, stale_token=stale_token, force=True)  # a refusal: see tokens.py
    health.integration_refresh_recovered(integration=integration)  # back to active if the retries had given up
    return refreshed


def oauth_refresh_gave_up(*, integration_id: int, error: RefreshFailed) -> None:
    """Transient failures outlasted the retries: status error, REFRESH_FAILED in last_error, integration.error."""
    integration = Integration.objects.filter(pk=integration_id).select_related("organization").first()
    if integration is None or integration.status == IntegrationStatus.PENDING_AUTH:
        return
    logger.warning("Token refresh of %s failed (%s): %s", integration.code, IntegrationStatus.ERROR, error.message)
    health.integration_refresh_gave_up(integration=integration, message=error.message, code=error.code,
                                       transient=error.transient)
