"""Refreshing an integration's access token once, however many threads and workers ask at the same time.

The lock is two locks: a per-integration `threading.RLock` (threads of this
process; the only lock SQLite gets, since it ignores SELECT FOR UPDATE) and,
on databases that support it, `SELECT … FOR NO KEY UPDATE` on the Integration
row inside a transaction (workers on any machine). NO KEY so that other calls
can still insert IntegrationLog rows pointing at the row while we hold it.

Under the lock the row is read again. If its access token is no longer the one
the caller saw fail (or expire), someone else refreshed it: the caller takes the
new token and no second refresh happens. Otherwise `connector.refresh_access_token()`
runs and its answer is saved (encrypted by the model fields).

What can go wrong: the token endpoint refuses the refresh token (revoked,
rotated elsewhere): `RefreshFailed(transient=False)`, and the integration goes
to `pending_auth` with `last_error` set, so an operator reconnects it;
`integration.error` is published once, on the move to pending_auth (whether a
sync, the beat or an operator asked) — integrations/health.py records both. The token
endpoint is down: `RefreshFailed(transient=True)`, status untouched. The refresh
runs while the row lock is held, so other workers wait for it (for as long as
the connector's own call may take, timeouts and retries included). Call
providers outside your own transactions: a refresh inside one is committed only
with it, and a rollback would lose a rotated refresh token (a warning is logged).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import timedelta

import requests
from django.db import connections, router, transaction
from django.utils import timezone

from config.errors import ApplicationError, CapabilityNotSupported, UnsafeURL
from integrations import health
from integrations.models import Integration

from .base import Connector
from .errors import AuthExpired, ProviderError, RefreshFailed, is_transient
from .redaction import Redactor

logger = logging.getLogger(__name__)

EXPIRY_SKEW = timedelta(seconds=60)
TOKEN_FIELDS = ("access_token", "refresh_token", "expires_at", "token_type", "scope")

_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()


def _process_lock(integration_id: int) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(integration_id, threading.RLock())


def can_refresh(connector: Connector) -> bool:
    """Whether the connector implements `refresh_access_token` (the contract's default refuses)."""
    return type(connector).refresh_access_token is not Connector.refresh_access_token


def needs_refresh_before_use(integration: Integration) -> bool:
    """A token about to expire, or none at all beside a refresh token (an app set up with only that)."""
    if integration.access_token:
        return token_expiring(integration)
    return bool(integration.refresh_token)


def token_expiring(integration: Integration) -> bool:
    """Whether the access token expires within `EXPIRY_SKEW` (so a call would likely race its expiry)."""
    return integration.expires_at is not None and integration.expires_at - EXPIRY_SKEW <= timezone.now()


def _copy_tokens(source: Integration, target: Integration) -> None:
    for field in TOKEN_FIELDS:
        setattr(target, field, getattr(source, field))


def _row_lock(model) -> contextlib.AbstractContextManager:
    alias = router.db_for_write(model)
    if connections[alias].features.has_select_for_update:
        return transaction.atomic(using=alias)
    return contextlib.nullcontext()


def refresh_token(connector: Connector, *, stale_token: str, force: bool = False) -> bool:
    """Make `connector.integration` hold a usable token. Returns True if this call refreshed it.

    `stale_token` is the access token the caller saw expire or fail. `force`
    refreshes even when the row's expiry looks fine (the provider said 401).
    """
    integration = connector.integration
    if not can_refresh(connector):
        raise AuthExpired(
            f"The {connector.display_name} token of {integration.code} expired and cannot be refreshed; reconnect it."
        )
    if connections[router.db_for_write(Integration)].in_atomic_block:
        logger.warning(
            "Refreshing the token of %s inside a caller's transaction: a rollback would lose the new tokens.",
            integration.code,
        )
    failure: Exception | None = None
    with _process_lock(integration.pk), _row_lock(Integration):
        row = Integration.objects.select_for_update(no_key=True).get(pk=integration.pk)
        if row.access_token != stale_token or not (force or token_expiring(row)):
            _copy_tokens(row, integration)  # someone else refreshed (or the caller's copy was old)
            return False
        _copy_tokens(row, integration)  # the newest refresh token, in case it was rotated
        try:
            tokens = connector.refresh_access_token()
        except (ApplicationError, requests.RequestException, KeyError, ValueError, TypeError) as exc:
            # Caught inside the transaction on purpose: it commits, keeping the refresh call's log rows.
            failure = exc
        else:
            row.access_token = tokens.access_token
            row.refresh_token = tokens.refresh_token or row.refresh_token
            row.expires_at = tokens.expires_at
            row.token_type = tokens.token_type or row.token_type
            row.scope = list(tokens.scope) if tokens.scope else row.scope
            row.save(update_fields=[*TOKEN_FIELDS, "updated_at"])
            _copy_tokens(row, integration)
    if failure is None:
        return True
    return _fail(integration, failure)


def _fail(integration, failure: Exception) -> bool:
    # Only the provider refusing the refresh (or having no refresh at all) means a new connect is needed.
    # A host that does not resolve or is not allowed is the network's or the configuration's fault: the
    # status stays, and the next call tries again.
    transient = is_transient(failure) or isinstance(failure, UnsafeURL)
    needs_reconnect = not transient and isinstance(failure, (ProviderError, CapabilityNotSupported))
    detail = Redactor.for_integration(integration).text(str(failure))[:300]
    message = f"Refreshing the access token of {integration.code} failed: {detail}"
    error = RefreshFailed(
        message,
        status_code=getattr(failure, "status_code", None),
        transient=transient,
        details={"integration": integration.code},
    )
    # last_error, and pending_auth with integration.error (once, by whoever makes the move) when refused.
    health.integration_refresh_failed(integration=integration, message=message, code=error.code,
                                      needs_reconnect=needs_reconnect)
    logger.warning("%s", message)
    raise error
