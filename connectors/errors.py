"""What a provider call can fail with, as typed errors the API and the tasks understand.

Every error here is an `ApplicationError`, so the DRF exception handler renders
it as the envelope (`PROVIDER_ERROR`, `RATE_LIMITED`, `TOKEN_EXPIRED`,
`REFRESH_FAILED`). Each carries `transient`: True when the same call may succeed
later (429, 5xx, timeouts, connection errors) so a Celery task retries it, False
when retrying cannot help (other 4xx, a rejected refresh token), so the task
fails and an operator looks. `is_transient(exc)` answers for any exception.

Messages are built from redacted provider text only (see connectors/redaction.py):
they end up in API responses, task results and Sentry, where no secret may go.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status

from config.errors import ApplicationError


class ProviderError(ApplicationError):
    """The provider answered with an error (or not at all). `status_code` is the provider's HTTP status, if any."""

    code = "PROVIDER_ERROR"
    http_status = status.HTTP_502_BAD_GATEWAY
    default_message = "The provider answered with an error."
    transient = False

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        provider_message: str = "",
        transient: bool | None = None,
        details: dict[str, Any] | None = None,
    ):
        self.status_code = status_code
        self.provider_message = provider_message
        if transient is not None:
            self.transient = transient
        details = dict(details or {})
        if status_code is not None:
            details.setdefault("status_code", status_code)
        if provider_message:
            details.setdefault("provider_message", provider_message)
        super().__init__(message, details=details)


class ProviderUnavailable(ProviderError):
    """5xx, timeouts or connection errors that outlasted the retries; worth trying again later."""

    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The provider is unavailable."
    transient = True


class RateLimited(ProviderError):
    """The provider kept answering 429 (or asked for a longer wait than a call may sleep)."""

    code = "RATE_LIMITED"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "The provider is rate limiting this integration."
    transient = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        details = dict(kwargs.pop("details", None) or {})
        if retry_after is not None:
            details["retry_after"] = max(1, round(retry_after))
        super().__init__(message, details=details, **kwargs)


class AuthExpired(ProviderError):
    """The provider refused the access token even after a refresh (or it cannot be refreshed): reconnect."""

    code = "TOKEN_EXPIRED"
    http_status = status.HTTP_401_UNAUTHORIZED
    default_message = "The integration's access token expired; reconnect it."
    transient = False


class RefreshFailed(ProviderError):
    """Trading the refresh token for a new access token failed.

    `transient` is True when the token endpoint was unreachable or answered 5xx
    (the integration keeps its status); False when it refused the refresh token,
    in which case the integration is set to `pending_auth` and must be reconnected.
    """

    code = "REFRESH_FAILED"
    http_status = status.HTTP_401_UNAUTHORIZED
    default_message = "The access token could not be refreshed."


def credentials_refused(exc: BaseException) -> bool:
    """Whether the provider answered and refused the credentials (a 401/403, a token no refresh cured, a refused
    refresh token), as opposed to not answering at all (DNS, network, timeouts, 5xx)."""
    if isinstance(exc, AuthExpired):
        return True
    if isinstance(exc, RefreshFailed):
        return not exc.transient
    return isinstance(exc, ProviderError) and exc.status_code in (401, 403)


def connection_failure(where: str, exc: BaseException) -> str:
    """How a failed connection test's detail starts: `<where> refused the credentials` when it answered and
    refused them, else `Could not reach <where>`. An operator fixes the first with new credentials and the second
    with the address or the network, so the two must never read alike."""
    return f"{where} refused the credentials" if credentials_refused(exc) else f"Could not reach {where}"


def is_transient(exc: BaseException) -> bool:
    """Whether a task should retry after `exc`: provider errors say so themselves; anything else is permanent."""
    return bool(getattr(exc, "transient", False))
