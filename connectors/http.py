"""The one HTTP client connectors call providers through.

`ProviderClient(connector).request(method, path_or_url, action=…)` does, per call:

1. builds the URL (a path is joined to `connector.resolved_base_url()`, so an
   integration's api_endpoint wins) and checks it with `check_outbound_url`
   on every call (DNS can change; tests monkeypatch `connectors.outbound.resolve`
   for made-up hosts, or allowlist 127.0.0.1);
2. refreshes an access token that expires within a minute (connectors/tokens.py);
3. per attempt: waits for the integration's rate limiter, sends through the
   integration's pooled session with connect/read timeouts, and writes one
   redacted IntegrationLog row (connectors/calllog.py; a sync's page is
   summarised, without its body, unless the integration's debug logging is on);
4. on 429 (or what the connector calls a throttle: `throttled_seconds`), 5xx, timeouts and connection errors
   retries up to `PROVIDER_MAX_RETRIES` times (so that many + 1 attempts), sleeping what the
   provider asked (`connector.retry_after_seconds`) or an exponential backoff
   with full jitter; on a response the connector calls auth-expired, refreshes
   the token once and retries once;
5. returns the response for 2xx/3xx, raises a connectors.errors type otherwise.

A refused credential (AuthExpired: a 401 that no refresh cures) is recorded on
the integration's health here, the one place for every connector: the
connector words the operator's message (`credentials_refused_message`, None to
leave the health alone) and integrations/health.py sets an active integration
to `error` and sends integration.error, once. A provider client that detects a
refusal itself (a login it makes on its own) hands it to `credentials_refused`.

Retrying a POST or PATCH could do its work twice, so those are retried only
when the provider cannot have acted on them (429, or the connection was never
made) unless the caller sent an `Idempotency-Key` header; a 5xx or a read
timeout on them raises ProviderUnavailable (transient) for the task to decide.
A provider asking for a wait longer than `MAX_RETRY_AFTER` is not slept on:
RateLimited (with retry_after) goes up so the task can be rescheduled instead
of holding a worker.
"""

from __future__ import annotations

import json as jsonlib
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import requests
from django.conf import settings
from requests.models import PreparedRequest
from urllib3.exceptions import NewConnectionError

from config.errors import UnsafeURL
from integrations import health

from . import outbound, tokens
from .calllog import current_pull, debug_logging, request_record, response_record, summary_record, write_call_log
from .errors import AuthExpired, ProviderError, ProviderUnavailable, RateLimited, RefreshFailed
from .ratelimit import rate_limiter
from .redaction import Redactor, integration_secrets
from .sessions import session_for

if TYPE_CHECKING:
    from .base import Connector

# Patched by tests so that nothing waits; also the seam for a worker that wants to sleep differently.
sleep = time.sleep
jitter = random.uniform



def elapsed_ms(started: float) -> int:
    """Whole milliseconds since `started`, a `time.monotonic()` reading (call logs, connection tests' latency)."""
    return int((time.monotonic() - started) * 1000)


BACKOFF_BASE = 0.5  # seconds before the first retry, at most (full jitter)
BACKOFF_CAP = 30.0  # no backoff sleep is longer
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is handed to the caller as RateLimited / ProviderUnavailable
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
PROVIDER_MESSAGE_LIMIT = 300


def backoff_seconds(retry_number: int) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(n-1))] for the n-th retry."""
    return jitter(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (retry_number - 1)))


@dataclass
class _Call:
    """What every log row of one call shares."""

    action: str
    method: str
    endpoint: str
    json: Any
    data: Any
    attempt: int = 0
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


class _Outcome:
    """What one attempt led to: return the response, retry after `wait`, refresh, or raise `error`."""

    def __init__(self, kind: str, *, wait: float = 0.0, error: Exception | None = None):
        self.kind, self.wait, self.error = kind, wait, error


class ProviderClient:
    def __init__(self, connector: Connector):
        self.connector = connector
        # Every secret value the integration held while this client lived: a token replaced by a refresh
        # is still a secret (providers often keep old refresh tokens valid) and may be echoed later.
        self._secrets: set[str] = set(integration_secrets(connector.integration))

    def _redactor(self) -> Redactor:
        self._secrets.update(integration_secrets(self.connector.integration))
        return Redactor(self._secrets)

    # ---------------------------------------------------------------- shortcuts
    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path_or_url, **kwargs)

    def put(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path_or_url, **kwargs)

    def delete(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path_or_url, **kwargs)

    # ---------------------------------------------------------------- the call
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        action: str,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        authenticate: bool = True,
        timeout: Any = None,
        log_body: bool = True,
    ) -> requests.Response:
        """Send one provider call (retries, refresh and logging included); see the module docstring.

        `log_body=False` keeps the request body out of the call log (only its size is recorded): for uploads of
        the ERP's own records (a backup holds customers' names and addresses), which are no provider's business
        to echo and no operator's to read in a log.
        """
        try:
            return self._request(method, path_or_url, action=action, params=params, json=json, data=data,
                                 headers=headers, authenticate=authenticate, timeout=timeout, log_body=log_body)
        except AuthExpired as exc:
            self.credentials_refused(exc, action=action)
            raise

    def credentials_refused(self, error: AuthExpired, *, action: str) -> None:
        """Record that the provider refused the integration's credentials in the call `action`, in the words the
        connector chooses (integrations/health.py: an active integration goes to error, integration.error)."""
        message = self.connector.credentials_refused_message(error, action=action)
        if message:
            health.integration_credentials_refused(integration=self.connector.integration, message=message)

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        action: str,
        params: Any,
        json: Any,
        data: Any,
        headers: dict[str, str] | None,
        authenticate: bool,
        timeout: Any,
        log_body: bool = True,
    ) -> requests.Response:
        method = method.upper()
        integration = self.connector.integration
        url = self.url_for(path_or_url)
        logged_json, logged_data = (json, data) if log_body else (None, _unlogged(json if json is not None else data))
        call = _Call(action=action, method=method, endpoint=self._with_params(url, params), json=logged_json,
                     data=logged_data)
        try:
            outbound.check_outbound_url(url, field="api_endpoint")
        except UnsafeURL as exc:
            self._log(call, headers or {}, None, error_message=exc.message, outcome="error")
            raise
        if authenticate and tokens.needs_refresh_before_use(integration):
            self._refresh_before_use()

        retries = 0
        refreshed = False
        while True:
            call.attempt += 1
            sent_token = integration.access_token
            send_headers = {**(self.connector.auth_headers() if authenticate else {}), **(headers or {})}
            send_params = self._with_auth_params(params, self.connector.auth_params() if authenticate else {})
            self._throttle()
            started = time.monotonic()
            response: requests.Response | None = None
            try:
                response = session_for(integration.pk).request(
                    method,
                    url,
                    params=send_params,
                    json=json,
                    data=data,
                    headers=send_headers,
                    timeout=self._timeout(timeout),
                )
            except requests.RequestException as exc:
                outcome = self._after_exception(exc, method, send_headers, retries)
            else:
                outcome = self._after_response(response, method, send_headers, retries, authenticate, refreshed)
            self._log(
                call,
                send_headers,
                response,
                duration_ms=elapsed_ms(started),
                error_message=self._log_message(outcome, response),
                outcome=outcome.kind,
                retry_in=outcome.wait if outcome.kind == "retry" else None,
            )
            if outcome.kind == "ok":
                return response
            if outcome.kind == "error":
                raise outcome.error
            if outcome.kind == "refresh":
                refreshed = True
                tokens.refresh_token(self.connector, stale_token=sent_token, force=True)
                continue
            retries += 1
            sleep(outcome.wait)

    def _refresh_before_use(self) -> None:
        """Refresh a token about to expire. If the token endpoint is down, use the seconds the token has left."""
        integration = self.connector.integration
        if not tokens.can_refresh(self.connector):
            return
        try:
            # With no access token at all (only a refresh token was given), refresh whatever the expiry says.
            tokens.refresh_token(
                self.connector, stale_token=integration.access_token, force=not integration.access_token
            )
        except RefreshFailed as exc:
            if not exc.transient or integration.token_expired or not integration.access_token:
                raise

    # ---------------------------------------------------------------- decisions
    def _after_response(self, response, method, headers, retries, authenticate, refreshed) -> _Outcome:
        status = response.status_code
        if authenticate and self.connector.is_auth_expired(response):
            if not refreshed and tokens.can_refresh(self.connector):
                return _Outcome("refresh")
            return _Outcome("error", error=self._error(AuthExpired, response, transient=False))
        throttled = None if status == 429 else self.connector.throttled_seconds(response)
        if status < 400 and throttled is None:
            return _Outcome("ok")
        if status != 429 and status < 500 and throttled is None:
            return _Outcome("error", error=self._error(ProviderError, response, transient=False))
        limited = status == 429 or throttled is not None  # a throttle: the provider did nothing, so retry any method
        kind = RateLimited if limited else ProviderUnavailable
        asked = self.connector.retry_after_seconds(response) if throttled is None else (throttled or None)
        retryable = limited or self._replayable(method, headers)
        if asked is not None and asked > MAX_RETRY_AFTER:
            return _Outcome("error", error=self._error(kind, response, transient=True, retry_after=asked))
        if not retryable or retries >= settings.PROVIDER_MAX_RETRIES:
            return _Outcome("error", error=self._error(kind, response, transient=True, retry_after=asked))
        return _Outcome("retry", wait=asked if asked is not None else backoff_seconds(retries + 1))

    def _after_exception(self, exc: requests.RequestException, method, headers, retries) -> _Outcome:
        detail = self._redactor().text(f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            # Invalid URL, too many redirects, a body we could not encode: trying again changes nothing.
            return _Outcome("error", error=ProviderError(self._message(None, detail), transient=False))
        never_sent = isinstance(exc, requests.ConnectTimeout) or _caused_by(exc, NewConnectionError)
        if retries < settings.PROVIDER_MAX_RETRIES and (never_sent or self._replayable(method, headers)):
            return _Outcome("retry", wait=backoff_seconds(retries + 1))
        return _Outcome("error", error=ProviderUnavailable(self._message(None, detail), transient=True))

    @staticmethod
    def _replayable(method: str, headers: dict[str, str]) -> bool:
        return method in IDEMPOTENT_METHODS or any(h.lower() == "idempotency-key" for h in headers)

    # ---------------------------------------------------------------- errors
    def _error(self, kind, response, *, transient: bool, retry_after: float | None = None) -> ProviderError:
        provider_message = self._provider_message(response)
        message = self._message(response.status_code, provider_message)
        details = {"provider": self.connector.key, "integration": self.connector.integration.code}
        kwargs: dict[str, Any] = {
            "status_code": response.status_code,
            "provider_message": provider_message,
            "transient": transient,
            "details": details,
        }
        if kind is RateLimited:
            return RateLimited(message, retry_after=retry_after, **kwargs)
        if retry_after is not None:
            details["retry_after"] = max(1, round(retry_after))
        return kind(message, **kwargs)

    def _message(self, status_code: int | None, detail: str) -> str:
        name = self.connector.display_name
        head = f"{name} answered HTTP {status_code}" if status_code else f"{name} could not be reached"
        return f"{head}: {detail}" if detail else f"{head}."

    def _provider_message(self, response: requests.Response) -> str:
        """The provider's own words about the error, redacted and shortened, for the message a user sees."""
        redactor = self._redactor()
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
        else:
            body = redactor.data(body, request=False)
            found = _first_message(body)
            text = found if found is not None else jsonlib.dumps(body)
        text = redactor.text(" ".join(text.split()))
        return text[:PROVIDER_MESSAGE_LIMIT] + ("…" if len(text) > PROVIDER_MESSAGE_LIMIT else "")

    # ---------------------------------------------------------------- plumbing
    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith("/"):
            return self.connector.resolved_base_url() + path_or_url
        return path_or_url

    @staticmethod
    def _with_auth_params(params: Any, extra: dict[str, str]) -> Any:
        """The caller's params with the connector's auth params added where the caller gave none of that name (a
        call that sends another token in its own headers sends that token's proof too); the call log keeps the
        caller's params alone."""
        if not extra:
            return params
        if not params:
            return dict(extra)
        if isinstance(params, Mapping):
            return {**params, **{k: v for k, v in extra.items() if k not in params}}
        if isinstance(params, list | tuple):
            given = {name for name, _ in params}
            return [*params, *((k, v) for k, v in extra.items() if k not in given)]
        given = {name for name, _ in parse_qsl(str(params), keep_blank_values=True)}
        missing = {k: v for k, v in extra.items() if k not in given}
        return f"{params}&{urlencode(missing)}" if missing else params

    @staticmethod
    def _with_params(url: str, params: Any) -> str:
        if not params:
            return url
        prepared = PreparedRequest()
        prepared.prepare_url(url, params)
        return prepared.url or url

    @staticmethod
    def _timeout(timeout: Any) -> Any:
        if timeout is not None:
            return timeout
        return (settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT)

    def _throttle(self) -> None:
        policy = self.connector.rate_limit
        if policy is None:
            return
        key = f"{self.connector.key}:{self.connector.integration.pk}"
        wait = rate_limiter().reserve(key, policy)
        if wait > 0:
            sleep(wait)

    @staticmethod
    def _log_message(outcome: _Outcome, response: requests.Response | None) -> str:
        if outcome.kind == "retry":
            status = f"HTTP {response.status_code}" if response is not None else "connection failed"
            return f"{status}; retrying in {outcome.wait:.2f} s"
        if outcome.kind == "refresh":
            return "The access token was refused; refreshing it and trying once more."
        return str(outcome.error) if outcome.error else ""

    def _log(
        self,
        call: _Call,
        headers: dict[str, str],
        response: requests.Response | None,
        *,
        error_message: str,
        outcome: str,
        duration_ms: int | None = None,
        retry_in: float | None = None,
    ) -> None:
        integration = self.connector.integration
        redactor = self._redactor()
        metadata = {
            "call_id": call.call_id,
            "attempt": call.attempt,
            "outcome": outcome,
            "provider": self.connector.key,
        }
        if retry_in is not None:
            metadata["retry_in"] = round(retry_in, 3)
        # A page of a bulk pull that arrived fine is summarised (calllog.bulk_pull); failures keep their bodies.
        summarise = (outcome == "ok" and response is not None and current_pull() is not None
                     and not debug_logging(integration))
        if response is None:
            response_body = None
        else:
            response_body = summary_record(redactor, response) if summarise else response_record(redactor, response)
        write_call_log(
            integration,
            summarise=summarise,
            action=call.action,
            method=call.method,
            endpoint=redactor.url(call.endpoint),
            request=request_record(redactor, headers=headers, json_body=call.json, data=call.data),
            response=response_body,
            status_code=response.status_code if response is not None else None,
            duration_ms=duration_ms,
            error_message=redactor.text(error_message),
            metadata=metadata,
        )


def _first_message(body: Any) -> str | None:
    """`error_user_msg` (words meant for the user, Meta's), `error_description`, `message`, `error`, `errors` — the
    usual places providers put words (OData v3 puts them in `odata.error.message.value`, beside the message's
    `lang`)."""
    if isinstance(body, dict):
        if isinstance(body.get("value"), str) and "lang" in body:
            return body["value"]
        for key in ("error_user_msg", "error_description", "message", "error", "odata.error", "errors", "detail",
                    "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, (dict, list)):
                inner = _first_message(value)
                if inner:
                    return inner
                return jsonlib.dumps(value, ensure_ascii=False)
    if isinstance(body, list) and body:
        return _first_message(body[0]) or (body[0] if isinstance(body[0], str) else None)
    return None


def _unlogged(body: Any) -> str | None:
    """What the call log says of a body kept out of it: its size."""
    if body is None:
        return None
    size = len(body) if isinstance(body, (bytes, str)) else len(jsonlib.dumps(body, default=str))
    return f"<{size} bytes, not logged>"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is anywhere in the chain (requests wraps urllib3's MaxRetryError, which has a `reason`)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return False
