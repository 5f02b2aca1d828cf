"""The dispatcher: claim due deliveries, send them in threads, record the outcome.

Any number of dispatcher runs (Celery tasks on any number of machines) share
the work. A run claims due rows by setting a lease (`locked_until`); a claimed
row is invisible to the others until its outcome is recorded or the lease runs
out (a dead worker's rows go out again after it). The claim selects through
`config.claims.claimable` (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
concurrent claimers pass over each other's rows; on SQLite under the
database's single write lock, which serialises claimers), and locks the
endpoints concerned to count their in-flight rows.

Per endpoint at most WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT deliveries are in
flight across all workers. A hung endpoint therefore holds at most that many
threads (each for at most WEBHOOK_DELIVERY_TIMEOUT); the run keeps claiming
for everyone else meanwhile, waking every POLL_SECONDS, so healthy endpoints
are not kept waiting behind it.

The threads do HTTP only; the claiming and recording happen in the run's own
thread, on its one database connection.

A run is a short slice (DEFAULT_RUN_SECONDS of claiming; beat starts one every
5 s and publishes nudge one), and it stops claiming as soon as its worker is
told to shut down. So a SIGTERM waits only for the sends already in flight,
whose outcomes are recorded before the task returns: nothing in flight is
left leased, to be sent a second time after the lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime

from celery.signals import worker_shutting_down
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.claims import claimable

from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from .delivery import (
    EndpointEffects,
    Outcome,
    OutgoingRequest,
    SendResult,
    delivery_prepare,
    lease_until,
    outcomes_record,
    send,
)

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
RECORD_SECONDS = 0.02  # what finished is recorded in batches this far apart
DEFAULT_RUN_SECONDS = 3.0  # a run stops claiming after this (the beat starts another): a SIGTERM waits no longer

# Set in the worker process that is shutting down (its pool's threads, or a solo pool): stop claiming at once.
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _stop_claiming(**kwargs) -> None:
    _shutting_down.set()


def _due(now: datetime):
    return WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    )


def _in_flight(now: datetime, endpoint_ids=None) -> dict[int, int]:
    rows = WebhookDelivery.objects.filter(locked_until__gt=now)
    if endpoint_ids is not None:
        rows = rows.filter(endpoint_id__in=endpoint_ids)
    return dict(rows.order_by().values("endpoint_id").annotate(n=Count("id")).values_list("endpoint_id", "n"))


def claim_due(*, limit: int, only: int | None = None, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due deliveries (just `only`, if given) within the per-endpoint cap; return their ids."""
    now = now or timezone.now()
    cap = settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT
    claimed: list[int] = []
    saturated = {ep for ep, n in _in_flight(now).items() if n >= cap}
    while len(claimed) < limit:
        due = _due(now).exclude(endpoint_id__in=saturated)
        if only is not None:
            due = due.filter(pk=only)
        got, full = _claim_window(due, now=now, want=limit - len(claimed), cap=cap)
        claimed += got
        newly_full, saturated = full - saturated, saturated | full
        if not got and not newly_full:
            break
    return claimed


# Advisory-lock namespace of the per-endpoint claim (pg_advisory_xact_lock(namespace, endpoint id)).
CLAIM_LOCK_NAMESPACE = 0x5759_4844  # "WYHD"


def _serialise_claimers(endpoint_ids: list[int]) -> None:
    """Make this transaction the only claimer counting these endpoints' in-flight rows until it commits.

    PostgreSQL: transaction-scoped advisory locks, taken in id order (no deadlock). They lock no row: a
    recorder updating an endpoint row (last_triggered_at…) never waits on a claimer, nor a claimer on a
    recorder, and two claimers wait on each other only for the few statements of a claim. SQLite: claimable()
    already holds the database's single write lock.
    """
    if connection.vendor != "postgresql" or not endpoint_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, (ep %% 2147483647)::int)) "
            "FROM (SELECT unnest(%s::bigint[]) AS ep ORDER BY 1) AS eps",
            [CLAIM_LOCK_NAMESPACE, endpoint_ids],
        )


def _claim_window(due, *, now: datetime, want: int, cap: int) -> tuple[list[int], set[int]]:
    """Lease up to `want` due rows within the per-endpoint cap, in one transaction; (their ids, endpoints now full)."""
    with transaction.atomic():
        rows = list(claimable(due.order_by("next_attempt_at", "id")).values_list("id", "endpoint_id")[: want * 2])
        endpoint_ids = sorted({ep for _, ep in rows})
        _serialise_claimers(endpoint_ids)  # so that the in-flight count below is exact
        in_flight = _in_flight(now, endpoint_ids)
        room = {ep: cap - in_flight.get(ep, 0) for ep in endpoint_ids}
        chosen: list[int] = []
        for pk, ep in rows:
            if room[ep] > 0 and len(chosen) < want:
                chosen.append(pk)
                room[ep] -= 1
        WebhookDelivery.objects.filter(pk__in=chosen).update(locked_until=lease_until(now))
    return chosen, {ep for ep, left in room.items() if left <= 0}


def release(delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(locked_until=None)


class _Endpoints:
    """The endpoints of one dispatcher run, read once each (their secrets decrypted once): a run lasts seconds."""

    def __init__(self) -> None:
        self._known: dict[int, WebhookEndpoint] = {}

    def get(self, endpoint_ids: set[int]) -> dict[int, WebhookEndpoint]:
        missing = endpoint_ids - self._known.keys()
        if missing:
            self._known.update(WebhookEndpoint.objects.in_bulk(missing))
        return self._known


def _prepare(delivery_ids: list[int], endpoints: _Endpoints | None = None) -> list[tuple[OutgoingRequest, Outcome]]:
    """The signed requests of claimed deliveries (one query), each with what recording it will need."""
    deliveries = list(WebhookDelivery.objects.filter(pk__in=delivery_ids).order_by("next_attempt_at", "id")
                      .only("id", "endpoint_id", "event_id", "payload", "round_attempts"))
    known = (endpoints or _Endpoints()).get({d.endpoint_id for d in deliveries})
    prepared = []
    for delivery in deliveries:
        try:
            delivery.endpoint = known[delivery.endpoint_id]
            prepared.append((delivery_prepare(delivery),
                             Outcome(delivery.pk, delivery.endpoint_id, delivery.round_attempts, None)))
        except Exception:
            logger.exception("Could not prepare webhook delivery %s", delivery.pk)
            release(delivery.pk)
    return prepared


def _send_unless_gone(request: OutgoingRequest, endpoint_id: int, gone: set[int]) -> SendResult | None:
    """Send, unless the endpoint answered 410 Gone to another send of this run (None: not sent; recording the 410
    disables the endpoint, which fails this delivery with the others)."""
    if endpoint_id in gone:
        return None
    result = send(request)
    if result.status_code == 410:
        gone.add(endpoint_id)
    return result


def _outcome(request: OutgoingRequest, future: Future) -> SendResult | None:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a bug in send must cost one attempt, not the whole run
        logger.exception("Sending webhook delivery %s failed unexpectedly", request.delivery_id)
        return SendResult(started_at=timezone.now(), duration_ms=0, error=f"internal error ({type(exc).__name__})")


def _record_batch(finished: list[tuple[OutgoingRequest, Outcome, Future]]) -> tuple[int, set[int]]:
    """Record what finished together in one commit, endpoint effects last (see EndpointEffects); (how many were
    delivered, the endpoints this disabled)."""
    if not finished:
        return 0, set()
    outcomes = [replace(outcome, result=result) for request, outcome, future in finished
                if (result := _outcome(request, future)) is not None]
    effects = EndpointEffects()
    try:
        with transaction.atomic():
            outcomes_record(outcomes, effects=effects)
            effects.apply_updates()
        disabled = effects.apply_disables(now=timezone.now())
    except Exception:
        # The leases run out and these deliveries go again: at least once, never lost.
        logger.exception("Could not record %s webhook deliveries", len(finished))
        return 0, set()
    return sum(outcome.result.ok for outcome in outcomes), disabled


def _drop_queued(running: dict[Future, tuple[OutgoingRequest, Outcome]], endpoint_ids: set[int]) -> None:
    """Sends of disabled endpoints still waiting for a thread are not made (disabling failed their rows)."""
    for future, (_, outcome) in list(running.items()):
        if outcome.endpoint_id in endpoint_ids and future.cancel():
            del running[future]


@dataclass
class DispatchReport:
    attempts: int = 0
    delivered: int = 0
    seconds: float = 0.0
    cut_short: bool = False  # the slice ended while there was work: the caller should start another run

    @property
    def failed(self) -> int:
        return self.attempts - self.delivered


def dispatch_due(*, threads: int | None = None, run_seconds: float = DEFAULT_RUN_SECONDS) -> DispatchReport:
    """Send due deliveries until none is left (or `run_seconds` passed, or the worker is shutting down), then wait
    for those in flight and record them.

    Up to twice `threads` deliveries are leased at a time: the sending threads
    always have queued work while this thread claims and records, so the
    database round trips are off their critical path. A claim is made when
    fewer than `threads` are left (a batch of at least `threads`), and what
    finished is recorded every RECORD_SECONDS in one batch.
    """
    threads = threads or settings.WEBHOOK_DISPATCH_THREADS
    report, started = DispatchReport(), time.monotonic()
    ahead, endpoints, gone = threads * 2, _Endpoints(), set()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook-send") as pool:
        running: dict[Future, tuple[OutgoingRequest, Outcome]] = {}
        while True:
            claimed, idle = [], False
            in_slice = time.monotonic() - started < run_seconds
            if len(running) < threads and in_slice and not _shutting_down.is_set():
                claimed = claim_due(limit=ahead - len(running))
                idle = not claimed  # nothing due, or every endpoint with work at its cap
                report.cut_short = False
                for request, outcome in _prepare(claimed, endpoints) if claimed else ():
                    running[pool.submit(_send_unless_gone, request, outcome.endpoint_id, gone)] = (request, outcome)
            if not running:
                if claimed:
                    continue
                break
            if not in_slice and not _shutting_down.is_set():
                report.cut_short = True
            if idle:  # wake at the first send that ends (a slot), or every POLL_SECONDS for what fell due
                done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            else:  # busy: let a batch finish
                done, _ = wait(running, timeout=RECORD_SECONDS, return_when=ALL_COMPLETED)
            report.attempts += len(done)
            delivered, disabled = _record_batch([(*running.pop(future), future) for future in done])
            report.delivered += delivered
            if disabled:
                _drop_queued(running, disabled)
    report.seconds = time.monotonic() - started
    return report


def deliver_now(delivery_id: int) -> bool | None:
    """Send one delivery now if it is due and claimable; True/False for its outcome, None if it was not sent."""
    if not claim_due(limit=1, only=delivery_id):
        return None
    prepared = _prepare([delivery_id])
    if not prepared:
        return None
    request, outcome = prepared[0]
    result = send(request)
    outcomes_record([replace(outcome, result=result)])
    return result.ok
