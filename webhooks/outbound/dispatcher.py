"""The dispatcher: claim due deliveries, send them in threads, record the outcome.

Any number of dispatcher runs (Celery tasks on any number of machines) share
the work. A run claims due rows by setting a lease (`locked_until`); a claimed
row is invisible to the others until its outcome is recorded or the lease runs
out (a dead worker's rows go out again after it). The claim selects through
`config.claims.claimable` (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
concurrent claimers pass over each other's rows; on SQLite under the
database's single write lock, which serialises claimers).

Per endpoint at most WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT deliveries are in
flight (leased) across all workers. To count them exactly, claimers of the same
endpoint take turns: on PostgreSQL through transaction-scoped advisory locks,
never the endpoint rows, so a claim never waits on a recorder updating an
endpoint (nor the reverse), and two claimers wait on each other only for the
few statements of a claim. A hung endpoint therefore holds at most that many
threads (each for at most WEBHOOK_DELIVERY_TIMEOUT); the run keeps claiming
for everyone else meanwhile, waking every POLL_SECONDS, so healthy endpoints
are not kept waiting behind it.

The sending threads do HTTP only. Twice as many deliveries as threads are
leased at a time, so the threads always have queued work while the run's
thread claims the next batch; what finished is recorded by a recorder thread
on its own connection (set-based: delivery.py `outcomes_record`), so neither
claiming nor recording is on the sending threads' critical path. A claim is a
handful of statements for up to 2 × threads deliveries, a record three for
whatever finished meanwhile. Both commit without waiting for the disk
(`synchronous_commit = off`, PostgreSQL): delivery is at least once anyway,
and a claim or record a database crash loses means a delivery sent again
with the same `webhook-id`, which receivers deduplicate on.

A run is a short slice (DEFAULT_RUN_SECONDS of claiming; beat starts one every
5 s and publishes nudge one), and it stops claiming as soon as its worker is
told to shut down. So a SIGTERM waits only for the sends already in flight,
whose outcomes are recorded before the task returns: nothing in flight is
left leased, to be sent a second time after the lease runs out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
DEFAULT_RUN_SECONDS = 3.0  # a run stops claiming after this (the beat starts another): a SIGTERM waits no longer
CLAIM_LOCK_NAMESPACE = 0x5759_4844  # pg_advisory_xact_lock(namespace, endpoint id) of the per-endpoint count

# Set in the worker process that is shutting down (its pool's threads, or a solo pool): stop claiming at once.
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _stop_claiming(**kwargs) -> None:
    _shutting_down.set()


def _relaxed_commit() -> None:
    """This transaction's commit does not wait for the disk (PostgreSQL; see the module's docstring for why)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _due(now: datetime, cap: int):
    saturated = (WebhookDelivery.objects.filter(locked_until__gt=now).order_by().values("endpoint_id")
                 .annotate(n=Count("id")).filter(n__gte=cap).values("endpoint_id"))
    return WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    ).exclude(endpoint_id__in=saturated)


def _in_flight(now: datetime, endpoint_ids) -> dict[int, int]:
    rows = WebhookDelivery.objects.filter(locked_until__gt=now, endpoint_id__in=endpoint_ids)
    return dict(rows.order_by().values("endpoint_id").annotate(n=Count("id")).values_list("endpoint_id", "n"))


@dataclass(frozen=True)
class Claimed:
    """A leased delivery, with what sending and recording it need."""

    id: int
    endpoint_id: int
    event_id: str
    payload: dict
    round_attempts: int


def claim_due(*, limit: int, only: int | None = None, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due deliveries (just `only`, if given) within the per-endpoint cap; return their ids."""
    return [row.id for row in claim_rows(limit=limit, only=only, now=now)]


def claim_rows(*, limit: int, only: int | None = None, now: datetime | None = None) -> list[Claimed]:
    """`claim_due`, returning the leased rows themselves (no second read to prepare them)."""
    now = now or timezone.now()
    cap = settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT
    claimed: list[Claimed] = []
    full: set[int] = set()
    while len(claimed) < limit:
        due = _due(now, cap).exclude(endpoint_id__in=full)
        if only is not None:
            due = due.filter(pk=only)
        got, newly_full = _claim_window(due, now=now, want=limit - len(claimed), cap=cap)
        claimed += got
        newly_full -= full
        full |= newly_full
        if not got and not newly_full:
            break
    return claimed


def _serialise_claimers(endpoint_ids: list[int]) -> None:
    """Make this transaction the only claimer counting these endpoints' in-flight rows until it commits.

    PostgreSQL: advisory locks in id order (no deadlock), no row locked. SQLite: claimable() already holds the
    database's single write lock.
    """
    if connection.vendor != "postgresql" or not endpoint_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, (ep %% 2147483647)::int)) "
            "FROM (SELECT unnest(%s::bigint[]) AS ep ORDER BY 1) AS eps",
            [CLAIM_LOCK_NAMESPACE, endpoint_ids],
        )


def _lease(ids: list[int], until: datetime) -> list[Claimed]:
    """One UPDATE leasing the chosen rows, returning what sending them needs."""
    if not ids:
        return []
    table = WebhookDelivery._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s WHERE id IN ({marks}) "  # noqa: S608 - names and placeholders
            "RETURNING id, endpoint_id, event_id, payload, round_attempts",
            [connection.ops.adapt_datetimefield_value(until), *ids],
        )
        rows = cursor.fetchall()
    order = {pk: n for n, pk in enumerate(ids)}
    leased = [Claimed(pk, endpoint, event_id, json.loads(payload) if isinstance(payload, (str, bytes)) else payload,
                      step) for pk, endpoint, event_id, payload, step in rows]
    return sorted(leased, key=lambda row: order[row.id])


def _claim_window(due, *, now: datetime, want: int, cap: int) -> tuple[list[Claimed], set[int]]:
    """Lease up to `want` due rows within the per-endpoint cap, in one transaction; (them, endpoints now full)."""
    with transaction.atomic():
        _relaxed_commit()
        rows = list(claimable(due.order_by("next_attempt_at", "id")).values_list("id", "endpoint_id")[: want * 2])
        if not rows:
            return [], set()
        endpoint_ids = sorted({ep for _, ep in rows})
        _serialise_claimers(endpoint_ids)  # so that the in-flight count below is exact
        in_flight = _in_flight(now, endpoint_ids)
        room = {ep: cap - in_flight.get(ep, 0) for ep in endpoint_ids}
        chosen: list[int] = []
        for pk, ep in rows:
            if room[ep] > 0 and len(chosen) < want:
                chosen.append(pk)
                room[ep] -= 1
        leased = _lease(chosen, lease_until(now))
    return leased, {ep for ep, left in room.items() if left <= 0}


def release(delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(locked_until=None)


def _release_queued(running: dict[Future, tuple[OutgoingRequest, Outcome]]) -> None:
    """The worker is stopping: sends still waiting for a thread are not made, and their leases are given back
    (one UPDATE), so another worker sends them at once rather than after the lease."""
    unsent = [outcome.delivery_id for future, (_, outcome) in list(running.items()) if future.cancel()]
    for future in [f for f in running if f.cancelled()]:
        del running[future]
    if unsent:
        WebhookDelivery.objects.filter(pk__in=unsent).update(locked_until=None)


class _Endpoints:
    """The endpoints of one dispatcher run, read once each (their secrets decrypted once): a run lasts seconds."""

    def __init__(self) -> None:
        self._known: dict[int, WebhookEndpoint] = {}

    def get(self, endpoint_ids: set[int]) -> dict[int, WebhookEndpoint]:
        missing = endpoint_ids - self._known.keys()
        if missing:
            self._known.update(WebhookEndpoint.objects.in_bulk(missing))
        return self._known


def _prepare(rows: list[Claimed], endpoints: _Endpoints) -> list[tuple[OutgoingRequest, Outcome]]:
    """The signed requests of claimed deliveries, each with what recording it will need."""
    known = endpoints.get({row.endpoint_id for row in rows})
    prepared = []
    for row in rows:
        try:
            delivery = WebhookDelivery(id=row.id, endpoint_id=row.endpoint_id, event_id=row.event_id,
                                       payload=row.payload, round_attempts=row.round_attempts)
            delivery.endpoint = known[row.endpoint_id]
            prepared.append((delivery_prepare(delivery), Outcome(row.id, row.endpoint_id, row.round_attempts, None)))
        except Exception:
            logger.exception("Could not prepare webhook delivery %s", row.id)
            release(row.id)
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


def _record_batch(finished: list[tuple[OutgoingRequest, Outcome, Future]]) -> tuple[int, int]:
    """Record what finished together in one commit, endpoint effects last (see EndpointEffects); (attempts,
    delivered)."""
    outcomes = [replace(outcome, result=result) for request, outcome, future in finished
                if (result := _outcome(request, future)) is not None]
    if not outcomes:
        return 0, 0
    effects = EndpointEffects()
    try:
        with transaction.atomic():
            _relaxed_commit()
            outcomes_record(outcomes, effects=effects)
            effects.apply_updates()
        effects.apply_disables(now=timezone.now())
    except Exception:
        # The leases run out and these deliveries go again: at least once, never lost.
        logger.exception("Could not record %s webhook deliveries", len(finished))
        return len(outcomes), 0
    return len(outcomes), sum(outcome.result.ok for outcome in outcomes)


class _Recorder:
    """Records finished sends, one batch at a time, on a thread of its own (its own connection) while the run
    claims and sends; what finishes meanwhile waits and goes in the next batch. Inside a transaction (a test's,
    which another connection cannot see) it records in the caller instead.

    `pending` is the batch being recorded, a future the run waits on with its sends: the leases it releases may
    be what the next claim needs (an endpoint at its cap).
    """

    def __init__(self, report: DispatchReport) -> None:
        self.report = report
        self.waiting: list[tuple[OutgoingRequest, Outcome, Future]] = []
        self.pending: Future | None = None
        self._pool = None if connection.in_atomic_block else ThreadPoolExecutor(1, "webhook-record")

    @property
    def idle(self) -> bool:
        return self.pending is None and not self.waiting

    def add(self, finished: list[tuple[OutgoingRequest, Outcome, Future]]) -> None:
        self.waiting += finished
        self.flush()

    def flush(self) -> None:
        """Collect the batch recorded, if it is; start recording what waits, if nothing is being recorded."""
        if self.pending is not None and self.pending.done():
            self._count(self.pending.result())
            self.pending = None
        if self.pending is None and self.waiting:
            batch, self.waiting = self.waiting, []
            if self._pool is None:
                self._count(_record_batch(batch))
            else:
                self.pending = self._pool.submit(_record_batch, batch)

    def close(self) -> None:
        """Record everything left, then close the recording thread's connection."""
        while not self.idle:
            if self.pending is not None:
                wait([self.pending])
            self.flush()
        if self._pool is not None:
            self._pool.submit(connection.close)
            self._pool.shutdown(wait=True)

    def _count(self, counts: tuple[int, int]) -> None:
        self.report.attempts += counts[0]
        self.report.delivered += counts[1]


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

    Up to twice `threads` deliveries are leased at a time; a claim is made when
    fewer than `threads` are left unsent, so a batch holds at least `threads`.
    """
    threads = threads or settings.WEBHOOK_DISPATCH_THREADS
    report, started = DispatchReport(), time.monotonic()
    ahead, endpoints, gone = threads * 2, _Endpoints(), set()
    recorder = _Recorder(report)
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook-send") as pool:
            running: dict[Future, tuple[OutgoingRequest, Outcome]] = {}
            while True:
                recorder.flush()
                claimed = []
                in_slice = time.monotonic() - started < run_seconds
                if len(running) < threads and in_slice and not _shutting_down.is_set():
                    claimed = claim_rows(limit=ahead - len(running))
                    report.cut_short = False
                    for request, outcome in _prepare(claimed, endpoints) if claimed else ():
                        future = pool.submit(_send_unless_gone, request, outcome.endpoint_id, gone)
                        running[future] = (request, outcome)
                if _shutting_down.is_set():
                    _release_queued(running)
                if not running and recorder.idle:
                    if claimed:
                        continue
                    break
                if not in_slice and not _shutting_down.is_set():
                    report.cut_short = True
                waiting_on = set(running) | ({recorder.pending} if recorder.pending is not None else set())
                done, _ = wait(waiting_on, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                recorder.add([(*running.pop(future), future) for future in done if future in running])
    finally:
        recorder.close()
    report.seconds = time.monotonic() - started
    return report


def deliver_now(delivery_id: int) -> bool | None:
    """Send one delivery now if it is due and claimable; True/False for its outcome, None if it was not sent."""
    claimed = claim_rows(limit=1, only=delivery_id)
    prepared = _prepare(claimed, _Endpoints()) if claimed else []
    if not prepared:
        return None
    request, outcome = prepared[0]
    result = send(request)
    outcomes_record([replace(outcome, result=result)])
    return result.ok
