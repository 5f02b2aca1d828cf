"""Send one delivery and record the attempt.

Three steps, so that the dispatcher can run the slow one in threads that never
touch the database:

- `delivery_prepare(...)` builds the signed request from the delivery's values, its
  body (`payload_body`, made once per event by a caller sending it to several
  endpoints) and its endpoint (whose secrets it reads);
- `send(request)` is HTTP only: a POST through a keep-alive pool whose every new
  connection is checked on the address it actually reached (no DNS rebinding),
  no redirects followed, the whole attempt bounded by WEBHOOK_DELIVERY_TIMEOUT;
  it never raises for a network outcome, it describes it;
- `outcomes_record(outcomes)` writes the WebhookDeliveryAttempts and moves the
  deliveries on, set-based (three statements per batch, whatever its size):
  delivered on any 2xx; on 410 Gone the endpoint is disabled at once; anything
  else (3xx, 4xx, 5xx, timeout, connection error, refused address) is retried on
  the schedule, honouring Retry-After on 429/503.

Every message is at least once: a worker that dies between send and record
leaves a lease that expires, and the delivery goes out again with the same
`webhook-id`, which receivers deduplicate on.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.errors import UnsafeURL
from connectors.outbound import check_outbound_url, guarded_pool_manager

from ..models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from . import schedule, signing

logger = logging.getLogger(__name__)

BODY_KEEP = 4096  # characters of a response body kept on the attempt and the delivery
READ_LIMIT = 64 * 1024  # bytes of a response read at most; the rest is not waited for
USER_AGENT = "Switchyard-Webhooks/1.0"
CONNECT_TIMEOUT_CAP = 5.0
# The metadata key marking an endpoint a platform subscribed as a REST hook (rest_hooks.py): a 410 deletes it.
REST_HOOK_MARK = "rest_hook"


def webhook_allowlist() -> tuple[str, ...]:
    return (*settings.WEBHOOK_ALLOWED_HOSTS, *settings.WEBHOOK_ALLOWED_CIDRS)


def check_endpoint_url(url: str, *, field: str = "url") -> str:
    """The webhook rules for an endpoint URL: http(s) (https in production), public or allowlisted."""
    return check_outbound_url(
        url, field=field, allowlist=webhook_allowlist(), require_https=settings.WEBHOOK_REQUIRE_HTTPS,
        allowlist_setting="WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOWED_CIDRS",
    )


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class OutgoingRequest:
    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 h overlap after a rotation lasts."""
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


def payload_body(payload) -> bytes:
    """The bytes sent (and signed) for a delivery's payload: compact JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_prepare(
    *, delivery_id: int, event_id: str, body: bytes, endpoint: WebhookEndpoint, now: datetime
) -> OutgoingRequest:
    """The signed POST of a delivery's `body` to its endpoint; `webhook-id` is the event's id (stable across
    retries and the same for every endpoint: what receivers deduplicate on)."""
    headers = signing.signed_headers(
        endpoint_signing_secrets(endpoint, now=now), msg_id=event_id, timestamp=int(now.timestamp()), body=body)
    headers["Content-Type"] = "application/json"
    headers["User-Agent"] = USER_AGENT
    return OutgoingRequest(delivery_id, endpoint.url, body, headers)


# ---------------------------------------------------------------- HTTP only


@dataclass
class SendResult:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    body: str = ""
    retry_after: str | None = None
    error: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_managers: dict[tuple[str, ...], urllib3.PoolManager] = {}
_managers_lock = threading.Lock()


def _pool_manager() -> urllib3.PoolManager:
    """One keep-alive pool per endpoint origin, per process and allowlist (settings can change under tests).

    urllib3 directly, not a requests Session: a delivery is one POST, and the
    session's merging of settings, hooks and cookies cost more CPU than the
    call itself (bench/deliveries.py). No proxy from the environment either way:
    the connection check needs the real peer.
    """
    allowlist = webhook_allowlist()
    with _managers_lock:
        manager = _managers.get(allowlist)
        if manager is None:
            # Room for both lanes' threads (dispatcher.py) on one origin: a connection beyond it is closed.
            size = max(settings.WEBHOOK_DISPATCH_THREADS * 2, settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT)
            manager = guarded_pool_manager(allowlist=allowlist, num_pools=64, maxsize=size, block=False,
                                           retries=False)
            _managers[allowlist] = manager
        return manager


def _forget_pools_in_child() -> None:
    global _managers_lock
    _managers_lock = threading.Lock()
    _managers.clear()


os.register_at_fork(after_in_child=_forget_pools_in_child)


def _describe(exc: BaseException) -> str:
    """A short, secret-free account of a network failure (no URL: its query string may hold a token)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ssl.SSLError):
            return f"TLS error: {current.reason or type(current).__name__}"
        if type(current).__name__ in ("NameResolutionError", "gaierror"):
            return "host does not resolve"
        if isinstance(current, UnsafeURL):
            return f"refused: {current.message}"
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = getattr(nested, "reason", None) or nested or current.__cause__ or current.__context__
    return f"connection failed ({type(exc).__name__})"


def _read_body(response: urllib3.BaseHTTPResponse, deadline: float) -> tuple[str, bool]:
    """At most READ_LIMIT bytes of the body, not waiting past the deadline; (text kept, whole body read)."""
    chunks, size = [], 0
    while True:
        chunk = response.read(8192)
        if not chunk:
            complete = True
            break
        chunks.append(chunk)
        size += len(chunk)
        if size >= READ_LIMIT or time.monotonic() > deadline:
            complete = False
            break
    return b"".join(chunks)[:BODY_KEEP].decode("utf-8", "replace"), complete


def send(request: OutgoingRequest, *, timeout: float | None = None) -> SendResult:
    """POST the delivery once. Never follows a redirect; never raises for what the network did."""
    timeout = settings.WEBHOOK_DELIVERY_TIMEOUT if timeout is None else timeout
    started_at, started = timezone.now(), time.monotonic()
    result = SendResult(started_at=started_at, duration_ms=0)
    try:
        check_endpoint_url(request.url)
        response = _pool_manager().urlopen(
            "POST", request.url, body=request.body, headers=request.headers, redirect=False, retries=False,
            preload_content=False, timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT_CAP, timeout), read=timeout),
        )
        complete = False
        try:
            result.status_code = response.status
            result.retry_after = response.headers.get("Retry-After")
            result.body, complete = _read_body(response, started + timeout)
        finally:
            if not complete:
                response.close()  # what is left unread must not reach the next request on this connection
            response.release_conn()
    except UnsafeURL as exc:
        result.error = f"refused: {exc.message}"
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError by inheritance only
        result.error = _describe(exc)
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        if result.status_code is not None:
            result.error = "response body cut off: " + _describe(exc)
        else:
            result.error = f"timed out after {timeout:g} s"
    except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
        if result.status_code is not None:
            result.error = "response body cut off: " + _describe(exc)
        else:
            result.error = _describe(exc)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


# ---------------------------------------------------------------- recording


def _sql_datetime(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _rows(types: tuple[str, ...], columns: list[list]) -> tuple[str, list]:
    """Rows given column by column (lists of one length), as SQL that an INSERT can take its rows from or a CTE
    be made of, and its parameters.

    On PostgreSQL one typed array per column through `unnest`: the text is the
    same whatever the batch size, so psycopg parses it once per process (a new
    VALUES list of a new length each batch was parsed again every time, issue
    18). SQLite has no arrays: a VALUES list there.
    """
    if connection.vendor == "postgresql":
        return "SELECT * FROM unnest(" + ", ".join(f"%s::{kind}[]" for kind in types) + ")", columns  # noqa: S608
    marks = "(" + ", ".join(["%s"] * len(types)) + ")"
    params = [value for row in zip(*columns, strict=True) for value in row]
    return "VALUES " + ", ".join([marks] * len(columns[0])), params


@dataclass
class EndpointEffects:
    """What recorded attempts do to their endpoints, applied after the delivery rows.

    Endpoint rows are shared by every worker, so their update is one statement
    per batch that locks the rows in id order (no deadlock between two
    recorders), and disabling, which also touches other workers' delivery
    rows, runs after the recording transaction committed. Claimers never lock
    endpoint rows (dispatcher.py), so recording never waits on a claim.
    """

    changes: dict[int, dict] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)

    def add(self, endpoint_id: int, *, ok: bool, gone: bool, now: datetime) -> None:
        change = self.changes.setdefault(endpoint_id, {"at": now, "ok": False})
        change["at"] = now
        if ok:
            change["ok"] = True
        elif not change["ok"]:
            (self.gone if gone else self.failing).add(endpoint_id)

    def apply_updates(self) -> None:
        """One UPDATE for every endpoint of the batch: last triggered; last success, or failing since."""
        if not self.changes:
            return
        ids = sorted(self.changes)
        rows, params = _rows(("bigint", "boolean", "timestamptz"), [
            ids, [self.changes[pk]["ok"] for pk in ids], [_sql_datetime(self.changes[pk]["at"]) for pk in ids]])
        table = WebhookEndpoint._meta.db_table
        lock = ""
        if connection.vendor == "postgresql":
            # NO KEY UPDATE: a publisher's foreign-key share lock on the endpoint does not wait for it (no deadlock).
            locked = f"SELECT id FROM {table} WHERE id IN (SELECT id FROM v) ORDER BY id FOR NO KEY UPDATE"  # noqa: S608
            lock = f" AND {table}.id IN ({locked})"
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v(id, ok, at) AS ({rows}) "  # noqa: S608 - table names and placeholders only
                f"UPDATE {table} SET last_triggered_at = v.at, "
                f"last_success_at = CASE WHEN v.ok THEN v.at ELSE {table}.last_success_at END, "
                f"failing_since = CASE WHEN v.ok THEN NULL ELSE COALESCE({table}.failing_since, v.at) END "
                f"FROM v WHERE {table}.id = v.id{lock}",
                params,
            )

    def apply_disables(self, *, now: datetime) -> set[int]:
        """Disable the endpoints that answered 410 or failed for too long (a platform's REST hook answering 410 is
        deleted: its subscription ended); the ids of those no longer sent to."""
        from .endpoints import endpoint_delete, endpoint_disable, endpoint_disable_if_failing_too_long

        disabled = set()
        for endpoint_id in sorted(self.gone):
            endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
            if endpoint is None:
                continue
            disabled.add(endpoint_id)
            if (endpoint.metadata or {}).get(REST_HOOK_MARK):
                # A platform's REST hook: 410 is how it says the subscription ended (a Zap turned off).
                endpoint_delete(endpoint=endpoint)
                continue
            endpoint_disable(endpoint=endpoint, reason="The endpoint answered 410 Gone.", notify=True)
        for endpoint_id in sorted(self.failing - self.gone):
            if endpoint_disable_if_failing_too_long(endpoint_id=endpoint_id, now=now):
                disabled.add(endpoint_id)
        return disabled


@dataclass(frozen=True)
class Outcome:
    """One attempt to record: the delivery, its endpoint, its retry step before the attempt, and what happened."""

    delivery_id: int
    endpoint_id: int
    round_attempts: int
    result: SendResult


def _next_attempt(outcome: Outcome, *, now: datetime) -> datetime | None:
    """When a failed attempt goes again (None: never, the delivery fails); the endpoint being active is checked
    in SQL, against the row as it is when recorded."""
    result = outcome.result
    if result.status_code == 410:
        return None
    retry_after = None
    if result.status_code in schedule.RETRY_AFTER_STATUSES:
        retry_after = schedule.parse_retry_after(result.retry_after, now=now)
    delay = schedule.next_delay(outcome.round_attempts + 1, retry_after=retry_after)
    return None if delay is None else now + delay


def _insert_attempts(outcomes: list[Outcome]) -> None:
    """One INSERT keeping every attempt of the batch."""
    rows, params = _rows(("bigint", "timestamptz", "integer", "text", "integer", "text"), [
        [o.delivery_id for o in outcomes], [_sql_datetime(o.result.started_at) for o in outcomes],
        [o.result.status_code for o in outcomes], [o.result.body for o in outcomes],
        [o.result.duration_ms for o in outcomes], [o.result.error for o in outcomes]])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {WebhookDeliveryAttempt._meta.db_table} "  # noqa: S608 - names and placeholders only
            f"(delivery_id, attempted_at, response_status, response_body, duration_ms, error) {rows}",
            params,
        )


def _update_deliveries(outcomes: list[Outcome], *, now: datetime) -> None:
    """One UPDATE … FROM (the batch's rows) moving every delivery of the batch on: delivered, retrying at its next
    step, or failed (no step left, 410 Gone, or an endpoint disabled meanwhile)."""
    ids, oks, statuses, bodies, errors, retries = [], [], [], [], [], []
    for outcome in outcomes:
        result = outcome.result
        ok = result.ok
        ids.append(outcome.delivery_id)
        oks.append(ok)
        statuses.append(result.status_code)
        bodies.append(result.body)
        errors.append("" if ok else (result.error or f"HTTP {result.status_code}"))
        retries.append(None if ok else _sql_datetime(_next_attempt(outcome, now=now)))
    rows, params = _rows(("bigint", "boolean", "integer", "text", "text", "timestamptz"),
                         [ids, oks, statuses, bodies, errors, retries])
    table, endpoints = WebhookDelivery._meta.db_table, WebhookEndpoint._meta.db_table
    retry = f"(v.retry_at IS NOT NULL AND {endpoints}.is_active)"
    stamp = _sql_datetime(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, ok, status_code, body, error, retry_at) AS ({rows}) "  # noqa: S608 - names only
            f"UPDATE {table} SET attempts = {table}.attempts + 1, round_attempts = {table}.round_attempts + 1, "
            f"response_status = v.status_code, response_body = v.body, error = v.error, locked_until = NULL, "
            f"updated_at = %s, "
            f"status = CASE WHEN v.ok THEN 'delivered' WHEN {retry} THEN 'retrying' ELSE 'failed' END, "
            f"delivered_at = CASE WHEN v.ok THEN %s ELSE {table}.delivered_at END, "
            f"next_attempt_at = CASE WHEN NOT v.ok AND {retry} THEN v.retry_at ELSE {table}.next_attempt_at END "
            f"FROM v, {endpoints} WHERE {table}.id = v.id AND {endpoints}.id = {table}.endpoint_id",
            [*params, stamp, stamp],
        )


def outcomes_record(outcomes: list[Outcome], *, effects: EndpointEffects | None = None) -> None:
    """Keep each attempt and move each delivery on: three statements whatever the batch size.

    The attempts in one INSERT, the deliveries in one UPDATE … FROM (the rows),
    the endpoints in one UPDATE (EndpointEffects). With `effects`, the endpoint
    changes are collected there for the caller to apply after its own work;
    without, they are applied here.
    """
    if not outcomes:
        return
    own_effects = effects is None
    effects = EndpointEffects() if effects is None else effects
    now = timezone.now()
    with transaction.atomic():
        # The write comes first: SQLite then takes its write lock (waiting its busy timeout) before reading.
        _insert_attempts(outcomes)
        _update_deliveries(outcomes, now=now)
        for o in outcomes:
            effects.add(o.endpoint_id, ok=o.result.ok, gone=o.result.status_code == 410, now=now)
        if own_effects:
            effects.apply_updates()
    if own_effects:
        effects.apply_disables(now=now)


def deliveries_record(
    outcomes: list[tuple[int, SendResult]], *, effects: EndpointEffects | None = None
) -> list[WebhookDelivery]:
    """`outcomes_record` for (delivery id, result) pairs, reading each delivery's endpoint and step first; returns
    the deliveries as recorded (a test ping, a redelivery: the one-off paths)."""
    ids = [delivery_id for delivery_id, _ in outcomes]
    known = {pk: (endpoint_id, step) for pk, endpoint_id, step in
             WebhookDelivery.objects.filter(pk__in=ids).values_list("pk", "endpoint_id", "round_attempts")}
    outcomes_record([Outcome(pk, *known[pk], result) for pk, result in outcomes if pk in known], effects=effects)
    recorded = WebhookDelivery.objects.in_bulk(ids)
    return [recorded[pk] for pk in ids if pk in recorded]


def delivery_record(*, delivery_id: int, result: SendResult) -> WebhookDelivery:
    """Record one attempt (see outcomes_record)."""
    return deliveries_record([(delivery_id, result)])[0]


def lease_seconds() -> float:
    """How long a claimed delivery stays claimed: the whole attempt, and a margin to record it."""
    return settings.WEBHOOK_DELIVERY_TIMEOUT * 2 + 60


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=lease_seconds())
