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
endpoint (nor the reverse); a claim is two statements (claiming.py), the
locks held for the second and the commit. A send that was answered but whose
record has not committed yet holds its lease, not a connection: the run's own
claims do not count it (`sent`), so a slot is used again at the next claim
rather than after the recorder's commit.

The sending threads do HTTP only, in two lanes (lanes.py): most of the threads
for the endpoints that answer, a quarter for those this process saw take half
the timeout or more. A hung endpoint therefore holds at most the slow lane's
threads (the first time, before it is known, at most the cap's worth of the
others, once, for WEBHOOK_DELIVERY_TIMEOUT); the slow lane is filled only as
far as it has free threads, and what a claim brings beyond that is given back
at once. Twice as many deliveries as answering-lane threads are leased at a
time, so those threads always have queued work while the run's thread claims
the next batch; what finished is recorded by a recorder thread on its own
connection (set-based: delivery.py `outcomes_record`), so neither claiming nor
recording is on the sending threads' critical path. Both commit without
waiting for the disk (`synchronous_commit = off`, PostgreSQL, set once per run
on each of the two connections): delivery is at least once anyway, and a
claim or record a database crash loses means a delivery sent again with the
same `webhook-id`, which receivers deduplicate on.

A run is a short slice (DEFAULT_RUN_SECONDS of claiming; beat starts one every
5 s and publishes nudge one), and it stops claiming as soon as its worker is
told to shut down. So a SIGTERM waits only for the sends already in flight,
whose outcomes are recorded before the task returns: nothing in flight is
left leased, to be sent a second time after the lease runs out. Past its
slice, while sends it made before the slice ended are still out (a hung
endpoint's, for at most the timeout), a run keeps claiming for the other
endpoints instead of idling (claims stop one timeout past the slice at the
latest, so a run still lasts at most the slice and two timeouts).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from celery.signals import worker_shutting_down
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.claims import claimable

from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from . import claiming
from .delivery import (
    EndpointEffects,
    Outcome,
    OutgoingRequest,
    delivery_prepare,
    lease_until,
    outcomes_record,
    payload_body,
    send,
)
from .lanes import SENT, SLOW_SHARE, Lane, slow_endpoints

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
RECORDED = "recorded"  # the event a recorded batch sends the run (lanes.SENT: a finished send)
DEFAULT_RUN_SECONDS = 3.0  # a run stops claiming after this (the beat starts another): a SIGTERM waits no longer

# Set in the worker process that is shutting down (its pool's threads, or a solo pool): stop claiming at once.
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _stop_claiming(**kwargs) -> None:
    _shutting_down.set()


_relaxed = threading.local()  # .on: this thread's connection commits without waiting for the disk, for a run


def _relaxed_commit() -> None:
    """This transaction's commit does not wait for the disk (PostgreSQL; see the module's docstring for why)."""
    if connection.vendor == "postgresql" and not getattr(_relaxed, "on", False):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@contextmanager
def _relaxed_commits():
    """Every commit of this thread's connection does not wait for the disk while inside: one statement per run
    rather than one per claim and per record (a round trip each; the setting is back to the default after)."""
    if connection.vendor != "postgresql" or getattr(_relaxed, "on", False):
        yield
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    except DatabaseError:  # each transaction sets it then (or fails on its own)
        logger.warning("Could not relax commits for a dispatcher run", exc_info=True)
        yield
        return
    _relaxed.on = True
    try:
        yield
    finally:
        _relaxed.on = False
        try:
            if not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
        except DatabaseError:  # a broken connection is closed and reopened with the default anyway
            logger.warning("Could not reset synchronous_commit after a dispatcher run", exc_info=True)


def _due(now: datetime, cap: int, sent: frozenset[int] = frozenset()):
    saturated = (WebhookDelivery.objects.filter(locked_until__gt=now).exclude(pk__in=sent).order_by()
                 .values("endpoint_id").annotate(n=Count("id")).filter(n__gte=cap).values("endpoint_id"))
    return WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    ).exclude(endpoint_id__in=saturated)


def _in_flight(now: datetime, endpoint_ids, sent: frozenset[int] = frozenset()) -> dict[int, int]:
    """Leased rows per endpoint: the sends in flight, but for `sent` (the caller's own, answered, not recorded yet:
    leased until their record commits, but no longer holding a connection to the endpoint)."""
    rows = WebhookDelivery.objects.filter(locked_until__gt=now, endpoint_id__in=endpoint_ids).exclude(pk__in=sent)
    return dict(rows.order_by().values("endpoint_id").annotate(n=Count("id")).values_list("endpoint_id", "n"))


@dataclass(frozen=True)
class Claimed:
    """A leased delivery, with what sending and recording it need."""

    id: int
    endpoint_id: int
    event_id: str
    payload: str  # the JSON document as the database returns it: an event's deliveries share it, body made once
    round_attempts: int


def claim_due(*, limit: int, only: int | None = None, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due deliveries (just `only`, if given) within the per-endpoint cap; return their ids."""
    return [row.id for row in claim_rows(limit=limit, only=only, now=now)]


def claim_rows(
    *, limit: int, only: int | None = None, now: datetime | None = None, skip: set[int] | frozenset[int] = frozenset(),
    sent: frozenset[int] = frozenset(),
) -> list[Claimed]:
    """`claim_due`, returning the leased rows themselves (no second read to prepare them); none of the endpoints
    in `skip`; the caller's `sent` deliveries (answered, their record not committed yet) not counted in flight."""
    now = now or timezone.now()
    cap = settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT
    claimed: list[Claimed] = []
    full: set[int] = set(skip)
    while len(claimed) < limit:
        got, newly_full = _claim_window(now=now, want=limit - len(claimed), cap=cap, full=full, sent=sent, only=only)
        claimed += got
        newly_full -= full
        full |= newly_full
        if not got and not newly_full:
            break
    return claimed


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
    return _claimed(rows, ids)


def _claimed(rows: list[tuple], order: list[int]) -> list[Claimed]:
    """Leased rows (id, endpoint id, event id, payload as JSON text, round attempts) as Claimed, in the order of
    `order`."""
    position = {pk: n for n, pk in enumerate(order)}
    return sorted((Claimed(*row) for row in rows), key=lambda row: position[row.id])


def _claim_window(
    *, now: datetime, want: int, cap: int, full: set[int], sent: frozenset[int], only: int | None
) -> tuple[list[Claimed], set[int]]:
    """Lease up to `want` due rows within the per-endpoint cap, none of the endpoints in `full`, in one
    transaction; (them, endpoints now full).

    SQLite: claimable() holds the database's single write lock until commit, so the count below is exact.
    """
    if connection.vendor == "postgresql":
        return _claim_window_postgres(now=now, want=want, cap=cap, full=full, sent=sent, only=only)
    due = _due(now, cap, sent).exclude(endpoint_id__in=full)
    if only is not None:
        due = due.filter(pk=only)
    with transaction.atomic():
        _relaxed_commit()
        rows = list(claimable(due.order_by("next_attempt_at", "id")).values_list("id", "endpoint_id")[: want * 2])
        if not rows:
            return [], set()
        endpoint_ids = sorted({ep for _, ep in rows})
        in_flight = _in_flight(now, endpoint_ids, sent)
        room = {ep: cap - in_flight.get(ep, 0) for ep in endpoint_ids}
        chosen: list[int] = []
        for pk, ep in rows:
            if room[ep] > 0 and len(chosen) < want:
                chosen.append(pk)
                room[ep] -= 1
        leased = _lease(chosen, lease_until(now))
    return leased, {ep for ep, left in room.items() if left <= 0}


def _claim_window_postgres(
    *, now: datetime, want: int, cap: int, full: set[int], sent: frozenset[int], only: int | None
) -> tuple[list[Claimed], set[int]]:
    """`_claim_window` in two statements (claiming.py); the endpoints now full are those with a candidate left."""
    with transaction.atomic():
        _relaxed_commit()
        rows = claiming.candidates_locked(now=now, limit=want * 2, cap=cap, skip=full, sent=sent, only=only)
        if not rows:
            return [], set()
        leased = _claimed(claiming.lease_within_cap(rows, now=now, want=want, cap=cap, sent=sent),
                          [pk for pk, _ in rows])
    if len(leased) >= want:
        return leased, set()
    taken = {row.id for row in leased}
    return leased, {endpoint for pk, endpoint in rows if pk not in taken}


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


def _prepare(rows: list[Claimed], endpoints: _Endpoints) -> list[tuple[OutgoingRequest, Outcome]]:
    """The signed requests of claimed deliveries, each with what recording it will need; the body of an event
    sent to several endpoints is made once."""
    known = endpoints.get({row.endpoint_id for row in rows})
    now, bodies, prepared = timezone.now(), {}, []
    for row in rows:
        try:
            body = bodies.get(row.payload)
            if body is None:
                body = bodies[row.payload] = payload_body(json.loads(row.payload))
            request = delivery_prepare(delivery_id=row.id, event_id=row.event_id, body=body,
                                       endpoint=known[row.endpoint_id], now=now)
            prepared.append((request, Outcome(row.id, row.endpoint_id, row.round_attempts, None)))
        except Exception:
            logger.exception("Could not prepare webhook delivery %s", row.id)
            release(row.id)
    return prepared


def _record_batch(outcomes: list[Outcome]) -> tuple[int, int]:
    """Record what finished together in one commit, endpoint effects last (see EndpointEffects); (attempts,
    delivered)."""
    outcomes = [outcome for outcome in outcomes if outcome.result is not None]
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
        logger.exception("Could not record %s webhook deliveries", len(outcomes))
        return len(outcomes), 0
    return len(outcomes), sum(outcome.result.ok for outcome in outcomes)


class _Recorder:
    """Records finished sends on a thread of its own (its own connection) while the run claims and sends: what
    finishes while a batch is being recorded goes in the next one. Inside a transaction (a test's, which another
    connection cannot see) it records in the caller instead.

    Each recorded batch is announced on the run's event queue: the leases it releases may be what the next claim
    needs (an endpoint at its cap).
    """

    def __init__(self, report: DispatchReport, events: queue.SimpleQueue) -> None:
        self.report, self.events = report, events
        self.unrecorded: set[int] = set()  # handed to the recording thread, not recorded yet
        self._inbox: queue.SimpleQueue | None = None
        self._thread = None
        if not connection.in_atomic_block:
            self._inbox = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="webhook-record", daemon=True)
            self._thread.start()

    @property
    def idle(self) -> bool:
        return not self.unrecorded

    def add(self, finished: list[Outcome]) -> None:
        if not finished:
            return
        if self._inbox is None:
            self.recorded(_record_batch(finished), [])
            return
        self.unrecorded |= {outcome.delivery_id for outcome in finished}
        self._inbox.put(finished)

    def recorded(self, counts: tuple[int, int], ids: list[int]) -> None:
        """Count a recorded batch (called by the run's thread, from the event the recording thread sent)."""
        self.report.attempts += counts[0]
        self.report.delivered += counts[1]
        self.unrecorded.difference_update(ids)

    def _run(self) -> None:
        try:
            self._record_all()
        finally:
            connection.close()

    def _record_all(self) -> None:
        with _relaxed_commits():
            while (batch := self._inbox.get()) is not None:
                while True:  # whatever else finished meanwhile goes in the same commit
                    try:
                        more = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._inbox.put(None)
                        break
                    batch += more
                self.events.put((RECORDED, _record_batch(batch), [outcome.delivery_id for outcome in batch]))

    def close(self) -> None:
        """Record everything handed over, then close the recording thread (and its connection)."""
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join()


@dataclass
class DispatchReport:
    attempts: int = 0
    delivered: int = 0
    seconds: float = 0.0
    cut_short: bool = False  # the slice ended while there was work: the caller should start another run

    @property
    def failed(self) -> int:
        return self.attempts - self.delivered


class _Run:
    """One dispatch_due call: two lanes of sending threads, a recorder, and the claims that keep them busy."""

    def __init__(self, threads: int, run_seconds: float) -> None:
        self.started = time.monotonic()
        self.claim_until = self.started + run_seconds
        # Past the slice, claiming goes on for the other endpoints only while sends claimed within it are still out
        # (a hung endpoint's, for at most the timeout), and one timeout past it at the latest.
        self.drain_until = self.claim_until + settings.WEBHOOK_DELIVERY_TIMEOUT
        self.report = DispatchReport()
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.endpoints, self.gone = _Endpoints(), set()
        slow_threads = max(1, threads // SLOW_SHARE)
        self.fast = Lane(threads, "webhook-send", self.events, self.gone)
        self.slow = Lane(slow_threads, "webhook-send-slow", self.events, self.gone)
        self.recorder = _Recorder(self.report, self.events)

    @property
    def held(self) -> int:
        return len(self.fast.held) + len(self.slow.held)

    def claiming(self, now: float) -> bool:
        if _shutting_down.is_set():
            return False
        if now < self.claim_until:
            return True
        return now < self.drain_until and bool(self._older_than_slice())

    def _older_than_slice(self) -> set[int]:
        return self.fast.endpoints_held_since(self.claim_until) | self.slow.endpoints_held_since(self.claim_until)

    def claim(self, now: float) -> list[Claimed]:
        """Lease enough to keep the answering endpoints' threads busy twice over, and fill the slow lane's free
        threads; a slow endpoint's rows beyond them are given back at once."""
        skip = set() if now < self.claim_until else self._older_than_slice()
        slow_known = slow_endpoints.ids()
        if self.slow.room <= 0:
            skip |= slow_known
        want = self.fast.size * 2 - len(self.fast.held) + max(self.slow.room, 0)
        claimed = claim_rows(limit=want, skip=skip, sent=frozenset(self.recorder.unrecorded)) if want > 0 else []
        give_back, room = [], self.slow.room
        for request, outcome in _prepare(claimed, self.endpoints) if claimed else ():
            if outcome.endpoint_id not in slow_known:
                self.fast.put(request, outcome, claimed_at=now)
            elif room > 0:
                self.slow.put(request, outcome, claimed_at=now)
                room -= 1
            else:
                give_back.append(outcome.delivery_id)
        if give_back:
            WebhookDelivery.objects.filter(pk__in=give_back).update(locked_until=None)
        return claimed

    def wait(self) -> None:
        """Take what happened (sends finished, batches recorded), waiting up to POLL_SECONDS for the first."""
        try:
            first = self.events.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return
        self._take([first, *self._waiting()])

    def _waiting(self) -> list:
        happened = []
        while True:
            try:
                happened.append(self.events.get_nowait())
            except queue.Empty:
                return happened

    def _take(self, happened: list) -> None:
        finished = []
        for kind, *rest in happened:
            if kind == RECORDED:
                self.recorder.recorded(*rest)
                continue
            assert kind == SENT
            outcome, result = rest
            self.fast.came_back(outcome.delivery_id)
            self.slow.came_back(outcome.delivery_id)
            if result is not None:
                slow_endpoints.learn(outcome.endpoint_id, result)
            finished.append(replace(outcome, result=result))
        self.recorder.add(finished)

    def release_unsent(self) -> None:
        """The worker is stopping: sends still waiting for a thread are not made, and their leases are given back
        (one UPDATE), so another worker sends them at once rather than after the lease."""
        unsent = self.fast.take_back() + self.slow.take_back()
        if unsent:
            WebhookDelivery.objects.filter(pk__in=unsent).update(locked_until=None)

    def close(self) -> None:
        """Let the threads finish (a send normally in flight here only after an error in the run's thread), record
        what they sent, and stop recording."""
        self.fast.close()
        self.slow.close()
        self._take(self._waiting())
        self.recorder.close()
        self._take(self._waiting())


def dispatch_due(*, threads: int | None = None, run_seconds: float = DEFAULT_RUN_SECONDS) -> DispatchReport:
    """Send due deliveries until none is left (or `run_seconds` passed, or the worker is shutting down), then wait
    for those in flight and record them.

    Up to twice `threads` deliveries are leased at a time for the answering
    endpoints; a claim is made when fewer than `threads` are left unsent, so a
    batch holds at least `threads`.
    """
    run = _Run(threads or settings.WEBHOOK_DISPATCH_THREADS, run_seconds)
    with _relaxed_commits():
        try:
            _dispatch(run)
        finally:
            run.close()
    run.report.seconds = time.monotonic() - run.started
    return run.report


def _dispatch(run: _Run) -> None:
    """Claim whenever fewer than `threads` answering-endpoint sends are left, until the run is over."""
    while True:
        now = time.monotonic()
        claimed = []
        if run.claiming(now) and len(run.fast.held) < run.fast.size:
            claimed = run.claim(now)
            if now < run.claim_until:
                run.report.cut_short = False
        if _shutting_down.is_set():
            run.release_unsent()
        if not run.held and run.recorder.idle:
            if claimed:
                continue
            return
        if now >= run.claim_until and not _shutting_down.is_set():
            run.report.cut_short = True
        run.wait()


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
