"""An Integration's health, in one place: the only writer of `status` (outside user edits), `last_error` and
`consecutive_failures`, and the only sender of the `integration.*` events.

What moves the health, and the function each mover calls:

=====================================  ==============================================================
a sync completed                        `integration_synced`: errors cleared, error → active, integration.synced
a sync or a health check failed         `integration_record_failure`: one more failure; after
                                        SYNC_ERROR_AFTER_FAILURES an active integration goes to error
                                        and integration.error is sent, once
a health check passed                   `integration_failures_reset`
a connection test answered              `integration_tested`: last_error is its detail (or cleared);
                                        a pass puts an integration in error back to active
the provider refused the credentials    `integration_credentials_refused` (connectors/http.py): an
                                        active integration goes to error, integration.error, once
a token refresh was refused / failed    `integration_refresh_failed` (connectors/tokens.py): refused
                                        → pending_auth and integration.error, once; down → last_error
refresh retries ran out                 `integration_refresh_gave_up`: error, integration.error
a later refresh worked                  `integration_refresh_recovered`: back to active
an OAuth connect completed              `integration_connected`: active, integration.connected
disconnected (by a user, deleted,       `integration_disconnected`: pending_auth, integration.disconnected
deauthorized by the provider)
a best-effort step failed / recovered   `integration_problem_noted` / `integration_problem_cleared`:
(webhook subscriptions)                 last_error only, the status stays
=====================================  ==============================================================

A user's edit of an integration (the API, the console's form and its activate/deactivate actions, through
integrations/services.py) may set its status too: that is configuration, not health. Nothing else writes
these fields; tests/integrations/test_health_owner.py checks it.

Events go through the one publisher, integrations/events.py, which the webhooks app records as
deliveries in the caller's transaction. Every payload starts with `integration_summary`.
Call these inside the caller's transaction when the change belongs to one (a sync's end, a connect).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import router, transaction
from django.utils import timezone

from .events import publish
from .models import Integration, IntegrationStatus
from .payloads import integration_summary

ERROR_LIMIT = 2000  # characters of last_error kept
EVENT_ERROR_LIMIT = 500  # characters of an error in a refresh event
# A transient refresh failure that outlasted its retries leaves this prefix in last_error; a later
# successful refresh recognises it and puts the integration back to active.
REFRESH_GAVE_UP_PREFIX = "REFRESH_FAILED: "


def _send(event_type: str, integration: Integration, **data: Any) -> None:
    payload = {"integration": integration_summary(integration), **data}
    publish(event_type, payload, integration.organization, integration)


# ---------------------------------------------------------------- scheduled work: syncs and health checks
def integration_synced(*, integration: Integration, sync_job: dict[str, Any]) -> None:
    """A sync completed: failures and last error cleared, an integration in error back to active,
    integration.synced sent with `sync_job` (what the job did). Call inside the transaction holding the row."""
    integration.last_error, integration.consecutive_failures = "", 0
    fields = ["last_error", "consecutive_failures", "updated_at"]
    if integration.status == IntegrationStatus.ERROR:
        integration.status = IntegrationStatus.ACTIVE
        fields.append("status")
    integration.save(update_fields=fields)
    _send("integration.synced", integration, sync_job=sync_job)


def integration_record_failure(*, integration: Integration, message: str) -> None:
    """Count one more failure of the integration's scheduled work (a sync or a health check).

    After SYNC_ERROR_AFTER_FAILURES in a row an active integration goes to
    status `error` and `integration.error` is sent, once: it stays in error
    (and no event repeats) until a sync or a connection test succeeds.
    Call inside a transaction holding the integration's row.
    """
    integration.last_error = message[:ERROR_LIMIT]
    integration.consecutive_failures += 1
    fields = ["last_error", "consecutive_failures", "updated_at"]
    went_wrong = (integration.consecutive_failures >= settings.SYNC_ERROR_AFTER_FAILURES
                  and integration.status == IntegrationStatus.ACTIVE)
    if went_wrong:
        integration.status = IntegrationStatus.ERROR
        fields.append("status")
        _send("integration.error", integration, error=integration.last_error,
              consecutive_failures=integration.consecutive_failures)
    integration.save(update_fields=fields)


def integration_failures_reset(*, integration: Integration) -> None:
    """A health check passed: the count of failures in a row starts again (the test cleared the rest)."""
    if integration.consecutive_failures:
        integration.consecutive_failures = 0
        integration.save(update_fields=["consecutive_failures", "updated_at"])


def integration_tested(*, integration: Integration, ok: bool, detail: str) -> None:
    """Record a connection test: `last_error` is the failure's detail, or cleared on success; an integration in
    error goes back to active on success. A failure leaves `status` and `consecutive_failures` alone: a test is
    an operator's probe (often of an integration not switched on yet), while those track the scheduled work."""
    fields = ["last_error", "updated_at"]
    integration.last_error = "" if ok else detail
    if ok and integration.status == IntegrationStatus.ERROR:
        integration.status = IntegrationStatus.ACTIVE
        fields.append("status")
    integration.save(update_fields=fields)


# ---------------------------------------------------------------- credentials
def integration_credentials_refused(*, integration: Integration, message: str) -> bool:
    """An active integration whose credentials the provider refused goes to `error`, once, with `message`.

    Only `active` ones: an integration being set up (inactive, testing) is the operator's to probe, and
    one already in error keeps its first message. Sends integration.error in the same transaction.
    Returns whether the status changed (and the event was sent).
    """
    with transaction.atomic(using=router.db_for_write(Integration)):
        changed = Integration.objects.filter(pk=integration.pk, status=IntegrationStatus.ACTIVE).update(
            status=IntegrationStatus.ERROR, last_error=message[:ERROR_LIMIT], updated_at=timezone.now())
        if not changed:
            return False
        integration.status, integration.last_error = IntegrationStatus.ERROR, message[:ERROR_LIMIT]
        _send("integration.error", integration, error=integration.last_error)
    return True


def integration_refresh_failed(*, integration: Integration, message: str, code: str, needs_reconnect: bool) -> None:
    """A token refresh failed (connectors/tokens.py): `message` goes to last_error. When the provider refused the
    refresh token (`needs_reconnect`) the integration waits for a reconnect in `pending_auth`; integration.error
    (with `code`) is sent once, by whoever makes that move (a sync, the beat, a manual refresh)."""
    changes: dict[str, Any] = {"last_error": message, "updated_at": timezone.now()}
    with transaction.atomic(using=router.db_for_write(Integration)):
        rows = Integration.objects.filter(pk=integration.pk)
        moved = needs_reconnect and rows.exclude(status=IntegrationStatus.PENDING_AUTH).update(
            status=IntegrationStatus.PENDING_AUTH, **changes) > 0
        if not moved:
            rows.update(**changes)
        if needs_reconnect:
            changes["status"] = IntegrationStatus.PENDING_AUTH
        for field, value in changes.items():
            setattr(integration, field, value)
        if moved:
            _send("integration.error", integration, code=code, error=message[:EVENT_ERROR_LIMIT],
                  status=IntegrationStatus.PENDING_AUTH.value, transient=False)


def integration_refresh_gave_up(*, integration: Integration, message: str, code: str, transient: bool) -> None:
    """Transient refresh failures outlasted the retries: status error, the failure in last_error (with
    REFRESH_GAVE_UP_PREFIX, which a later successful refresh looks for), integration.error sent.
    An integration waiting for a reconnect (pending_auth) is left as it is."""
    if integration.status == IntegrationStatus.PENDING_AUTH:
        return
    last_error = f"{REFRESH_GAVE_UP_PREFIX}{message}"[:EVENT_ERROR_LIMIT]
    Integration.objects.filter(pk=integration.pk).update(
        status=IntegrationStatus.ERROR, last_error=last_error, updated_at=timezone.now()
    )
    integration.status, integration.last_error = IntegrationStatus.ERROR, last_error
    _send("integration.error", integration, code=code, error=message[:EVENT_ERROR_LIMIT],
          status=IntegrationStatus.ERROR.value, transient=transient)


def integration_refresh_recovered(*, integration: Integration) -> None:
    """A refresh worked: an integration in error because its refreshes had given up goes back to active."""
    if integration.status == IntegrationStatus.ERROR and integration.last_error.startswith(REFRESH_GAVE_UP_PREFIX):
        Integration.objects.filter(pk=integration.pk, status=IntegrationStatus.ERROR).update(
            status=IntegrationStatus.ACTIVE, last_error="", updated_at=timezone.now()
        )
        integration.status, integration.last_error = IntegrationStatus.ACTIVE, ""


# ---------------------------------------------------------------- OAuth connect and disconnect
def integration_connected(*, integration: Integration, account_name: str) -> None:
    """An OAuth connect stored its tokens: the integration is active with no error; integration.connected
    (with the account's name) is sent. Call inside the connect's transaction."""
    if integration.status != IntegrationStatus.ACTIVE or integration.last_error:
        integration.status, integration.last_error = IntegrationStatus.ACTIVE, ""
        integration.save(update_fields=["status", "last_error", "updated_at"])
    _send("integration.connected", integration, account_name=account_name)


def integration_disconnected(*, integration: Integration, reason: str, revoked: bool, message: str) -> None:
    """The tokens are gone (a user's disconnect, a delete, the provider's deauthorization): the integration waits
    for a reconnect in `pending_auth`, `message` (what failed at the provider, if anything) in last_error, and
    integration.disconnected is sent. Call inside the transaction that wiped the tokens, holding the row."""
    integration.status, integration.last_error = IntegrationStatus.PENDING_AUTH, message[:EVENT_ERROR_LIMIT]
    integration.save(update_fields=["status", "last_error", "updated_at"])
    _send("integration.disconnected", integration, reason=reason, revoked=revoked)


# ---------------------------------------------------------------- best-effort steps
def integration_problem_noted(*, integration: Integration, message: str) -> None:
    """A best-effort step failed (subscribing to the provider's webhooks): the operator reads it in last_error;
    the status stays, since the integration works without it."""
    integration.last_error = message[:ERROR_LIMIT]
    Integration.objects.filter(pk=integration.pk).update(last_error=integration.last_error,
                                                         updated_at=timezone.now())


def integration_problem_cleared(*, integration: Integration, prefix: str) -> None:
    """The step that wrote a last_error starting with `prefix` worked this time: that error is cleared
    (any other error stays)."""
    if integration.last_error and integration.last_error.startswith(prefix):
        integration.last_error = ""
        Integration.objects.filter(pk=integration.pk).update(last_error="", updated_at=timezone.now())
