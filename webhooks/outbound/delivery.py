"""Send one delivery and record the attempt.

Three steps, so that the dispatcher can run the slow one in threads that never
touch the database:

- `delivery_prepare(delivery)` builds the signed request (reads the secrets);
- `send(request)` is HTTP only: a POST through a session whose every new
  connection is checked on the address it actually reached (no DNS rebinding),
  no redirects followed, the whole attempt bounded by WEBHOOK_DELIVERY_TIMEOUT;
  it never raises for a network outcome, it describes it;
- `delivery_record(delivery_id, result)` writes the WebhookDeliveryAttempt and
  moves the delivery on: delivered on any 2xx; on 410 Gone the endpoint is
  disabled at once; anything else (3xx, 4xx, 5xx, timeout, connection error,
  refused address) is retried on the schedule, honouring Retry-After on 429/503.

Every message is at least once: a worker that dies between send and record
leaves a lease that expires, and the delivery goes out again with the same
`webhook-id`, which receivers deduplicate on.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.errors import UnsafeURL
from connectors.outbound import GuardedHTTPAdapter, check_outbound_url

from ..models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
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


def delivery_prepare(delivery: WebhookDelivery, *, now: datetime | None = None) -> OutgoingRequest:
    now = now or timezone.now()
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.signed_headers(
        endpoint_signing_secrets(delivery.endpoint, now=now),
        msg_id=delivery.event_id, timestamp=int(now.timestamp()), body=body,
    )
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    return OutgoingRequest(delivery.pk, delivery.endpoint.url, body, headers)


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


_sessions: dict[tuple[str, ...], requests.Session] = {}
_sessions_lock = threading.Lock()


def _session() -> requests.Session:
    """One pooled session per process and allowlist (settings can change under tests)."""
    allowlist = webhook_allowlist()
    with _sessions_lock:
        session = _sessions.get(allowlist)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy from the environment: the connection check needs the real peer
            size = max(settings.WEBHOOK_DISPATCH_THREADS, settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT)
            adapter = GuardedHTTPAdapter(allowlist=allowlist, pool_connections=64, pool_maxsize=size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[allowlist] = session
        return session


def _forget_sessions_in_child() -> None:
    global _sessions_lock
    _sessions_lock = threading.Lock()
    _sessions.clear()


os.register_at_fork(after_in_child=_forget_sessions_in_child)


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


def send(request: OutgoingRequest, *, timeout: float | None = None) -> SendResult:
    """POST the delivery once. Never follows a redirect; never raises for what the network did."""
    timeout = settings.WEBHOOK_DELIVERY_TIMEOUT if timeout is None else timeout
    started_at, started = timezone.now(), time.monotonic()
    result = SendResult(started_at=started_at, duration_ms=0)
    try:
        check_endpoint_url(request.url)
        response = _session().post(
            request.url, data=request.body, headers=request.headers, allow_redirects=False, stream=True,
            timeout=(min(CONNECT_TIMEOUT_CAP, timeout), timeout),
        )
        try:
            result.status_code = response.status_code
            result.retry_after = response.headers.get("Retry-After")
            chunks, size, deadline = [], 0, started + timeout
            for chunk in response.iter_content(8192):
                chunks.append(chunk)
                size += len(chunk)
                if size >= READ_LIMIT or time.monotonic() > deadline:
                    break
            result.body = b"".join(chunks)[:BODY_KEEP].decode("utf-8", "replace")
        finally:
            response.close()
    except UnsafeURL as exc:
        result.error = f"refused: {exc.message}"
    except requests.Timeout:
        result.error = f"timed out after {timeout:g} s"
    except requests.RequestException as exc:
        if result.status_code is not None:
            result.error = "response body cut off: " + _describe(exc)
        else:
            result.error = _describe(exc)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


# ---------------------------------------------------------------- recording


@dataclass
class EndpointEffects:
    """What recorded attempts do to their endpoints, applied after the delivery rows.

    Endpoint rows are shared by every worker, so their updates are applied last
    and in id order (the claim locks them in id order too: no deadlock), and
    disabling, which also touches other workers' delivery rows, runs after the
    recording transaction committed.
    """

    changes: dict[int, dict] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)

    def add(self, endpoint_id: int, *, ok: bool, gone: bool, now: datetime) -> None:
        change = self.changes.setdefault(endpoint_id, {})
        change["last_triggered_at"] = now
        if ok:
            change.update(last_success_at=now, failing_since=None)
        elif "last_success_at" not in change:
            change["failing_since"] = Coalesce(F("failing_since"), now)
            (self.gone if gone else self.failing).add(endpoint_id)

    def apply_updates(self) -> None:
        for endpoint_id in sorted(self.changes):
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(**self.changes[endpoint_id])

    def apply_disables(self, *, now: datetime) -> None:
        from .endpoints import endpoint_delete, endpoint_disable, endpoint_disable_if_failing_too_long

        for endpoint_id in sorted(self.gone):
            endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
            if endpoint is None:
                continue
            if (endpoint.metadata or {}).get(REST_HOOK_MARK):
                # A platform's REST hook: 410 is how it says the subscription ended (a Zap turned off).
                endpoint_delete(endpoint=endpoint)
                continue
            endpoint_disable(endpoint=endpoint, reason="The endpoint answered 410 Gone.", notify=True)
        for endpoint_id in sorted(self.failing - self.gone):
            endpoint_disable_if_failing_too_long(endpoint_id=endpoint_id, now=now)


_RECORDED_FIELDS = [
    "attempts", "round_attempts", "response_status", "response_body", "error", "locked_until", "status",
    "delivered_at", "next_attempt_at", "updated_at",
]


def _advance(delivery: WebhookDelivery, result: SendResult, *, endpoint_active: bool, now: datetime) -> None:
    """Move one delivery on after an attempt: delivered, retrying at the next step, or failed."""
    delivery.attempts += 1
    delivery.round_attempts += 1
    delivery.response_status = result.status_code
    delivery.response_body = result.body
    delivery.error = result.error
    delivery.locked_until = None
    delivery.updated_at = now
    if result.ok:
        delivery.status, delivery.delivered_at, delivery.error = DeliveryStatus.DELIVERED, now, ""
        return
    if not delivery.error:
        delivery.error = f"HTTP {result.status_code}"
    retry_after = None
    if result.status_code in schedule.RETRY_AFTER_STATUSES:
        retry_after = schedule.parse_retry_after(result.retry_after, now=now)
    delay = schedule.next_delay(delivery.round_attempts, retry_after=retry_after)
    if result.status_code == 410 or not endpoint_active:
        delay = None
    if delay is None:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING, now + delay


def deliveries_record(
    outcomes: list[tuple[int, SendResult]], *, effects: EndpointEffects | None = None
) -> list[WebhookDelivery]:
    """Keep each attempt and move each delivery on, in a handful of queries whatever the batch size.

    With `effects`, the endpoint updates are collected there for the caller to
    apply after its own work (a dispatcher recording a batch); without, they
    are applied here.
    """
    own_effects = effects is None
    effects = EndpointEffects() if effects is None else effects
    now = timezone.now()
    with transaction.atomic():
        # The write comes first: SQLite then takes its write lock (waiting its busy timeout) before reading,
        # instead of failing to upgrade a read snapshot another process wrote after.
        WebhookDeliveryAttempt.objects.bulk_create(
            WebhookDeliveryAttempt(
                delivery_id=delivery_id, attempted_at=result.started_at, response_status=result.status_code,
                response_body=result.body, duration_ms=result.duration_ms, error=result.error,
            )
            for delivery_id, result in outcomes
        )
        deliveries = WebhookDelivery.objects.select_for_update().defer("payload").in_bulk(
            [delivery_id for delivery_id, _ in outcomes]
        )
        active = set(WebhookEndpoint.objects.filter(
            pk__in={d.endpoint_id for d in deliveries.values()}, is_active=True).values_list("pk", flat=True))
        for delivery_id, result in outcomes:
            delivery = deliveries[delivery_id]
            _advance(delivery, result, endpoint_active=delivery.endpoint_id in active, now=now)
            effects.add(delivery.endpoint_id, ok=result.ok, gone=result.status_code == 410, now=now)
        WebhookDelivery.objects.bulk_update(deliveries.values(), _RECORDED_FIELDS)
        if own_effects:
            effects.apply_updates()
    if own_effects:
        effects.apply_disables(now=now)
    return [deliveries[delivery_id] for delivery_id, _ in outcomes]


def delivery_record(*, delivery_id: int, result: SendResult) -> WebhookDelivery:
    """Record one attempt (see deliveries_record)."""
    return deliveries_record([(delivery_id, result)])[0]


def lease_seconds() -> float:
    """How long a claimed delivery stays claimed: the whole attempt, and a margin to record it."""
    return settings.WEBHOOK_DELIVERY_TIMEOUT * 2 + 60


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=lease_seconds())
