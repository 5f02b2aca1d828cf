"""Background work for integrations. Tasks take plain arguments, call a service, and are safe to run twice."""

from __future__ import annotations

import random

from celery import shared_task
from django.core.cache import cache

from connectors.errors import RefreshFailed

from .oauth.flow import oauth_states_purge
from .oauth.refresh import oauth_refresh_gave_up, oauth_refresh_if_due, refresh_due
from .retention import integration_logs_purge


@shared_task(ignore_result=True)
def purge_integration_logs(older_than_days: int | None = None) -> int:
    """Delete IntegrationLog rows past retention (INTEGRATION_LOG_RETENTION_DAYS unless given)."""
    return integration_logs_purge(older_than_days=older_than_days)


# ---------------------------------------------------------------- OAuth
# Beat: refresh_expiring_tokens every 5 minutes (3 chances inside the default 15-minute window);
# purge_oauth_states hourly.
REFRESH_MAX_RETRIES = 5
REFRESH_QUEUED_TTL = 3600  # seconds a queued (or backing-off, or given-up) refresh keeps the beat from queueing another


def _queued_key(integration_id: int) -> str:
    return f"oauth:refresh-queued:{integration_id}"


@shared_task(ignore_result=True)
def refresh_expiring_tokens() -> int:
    """Queue a refresh for each integration whose token is due (see integrations/oauth/refresh.py); returns how many.

    An integration whose refresh is already queued or backing off is skipped (a
    cache marker), so a token endpoint that is down gets one retry schedule,
    not one more per beat run. A lost marker costs at most a duplicate task,
    which finds the token fresh and does nothing.
    """
    queued = 0
    for integration_id in refresh_due().values_list("pk", flat=True):
        if cache.add(_queued_key(integration_id), 1, timeout=REFRESH_QUEUED_TTL):
            refresh_integration_token.delay(integration_id)
            queued += 1
    return queued


@shared_task(bind=True, ignore_result=True, max_retries=REFRESH_MAX_RETRIES)
def refresh_integration_token(self, integration_id: int) -> bool:
    """Refresh one integration's token if still due. Transient failures retry with exponential backoff
    (1, 2, 4, 8, 16 minutes, jittered); then the integration goes to error and integration.error is published."""
    try:
        refreshed = oauth_refresh_if_due(integration_id=integration_id)
    except RefreshFailed as exc:
        if not exc.transient:
            cache.delete(_queued_key(integration_id))  # pending_auth now: nothing is due until a reconnect
            return False
        if self.request.retries < self.max_retries:
            countdown = 60 * 2**self.request.retries
            raise self.retry(exc=exc, countdown=countdown + random.uniform(0, countdown / 4))
        oauth_refresh_gave_up(integration_id=integration_id, error=exc)
        return False  # the marker stays until it expires: the next round starts after REFRESH_QUEUED_TTL
    cache.delete(_queued_key(integration_id))
    return refreshed


@shared_task(ignore_result=True)
def purge_oauth_states() -> int:
    """Delete expired OAuth states (a handshake not finished within OAUTH_STATE_TTL_MINUTES never will be)."""
    return oauth_states_purge()
