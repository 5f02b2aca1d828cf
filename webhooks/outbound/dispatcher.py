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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from celery.signals import worker_shutting_down
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.claims import claimable

from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from .delivery import (
    EndpointEffects,
    OutgoingRequest,
    SendResult,
    deliveries_record,
    delivery_prepare,
    delivery_record,
    lease_until,
    send,
)

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
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


def _claim_window(due, *, now: datetime, want: int, cap: int) -> tuple[list[int], set[int]]:
    """Lease up to `want` due rows within the per-endpoint cap, in one transaction; (their ids, endpoints now full)."""
    with transaction.atomic():
        rows = list(claimable(due.order_by("next_attempt_at", "id")).values_list("id", "endpoint_id")[: want * 2])
        endpoint_ids = sorted({ep for _, ep in rows})
        # Serialise claimers per endpoint (in id order: no deadlock) so the in-flight count below is exact.
        list(WebhookEndpoint.objects.select_for_update().filter(pk__in=endpoint_ids).order_by("pk").values("pk"))
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


def _prepare(delivery_ids: list[int]) -> list[OutgoingRequest]:
    """The signed requests of claimed deliveries, in one query (each endpoint's secrets decrypted once)."""
    deliveries = list(WebhookDelivery.objects.filter(pk__in=delivery_ids).order_by("next_attempt_at", "id"))
    endpoints = WebhookEndpoint.objects.in_bulk({d.endpoint_id for d in deliveries})
    requests = []
    for delivery in deliveries:
        delivery.endpoint = endpoints[delivery.endpoint_id]
        try:
            requests.append(delivery_prepare(delivery))
        except Exception:
            logger.exception("Could not prepare webhook delivery %s", delivery.pk)
            release(delivery.pk)
    return requests


def _outcome(request: OutgoingRequest, future: Future) -> SendResult:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a bug in send must cost one attempt, not the whole run
        logger.exception("Sending webhook delivery %s failed unexpectedly", request.delivery_id)
        return SendResult(started_at=timezone.now(), duration_ms=0, error=f"internal error ({type(exc).__name__})")


def _record_batch(finished: list[tuple[OutgoingRequest, Future]]) -> int:
    """Record what finished together in one commit; endpoint effects last (see EndpointEffects)."""
    if not finished:
        return 0
    outcomes = [(request.delivery_id, _outcome(request, future)) for request, future in finished]
    effects = EndpointEffects()
    try:
        with transaction.atomic():
            deliveries_record(outcomes, effects=effects)
            effects.apply_updates()
        effects.apply_disables(now=timezone.now())
    except Exception:
        # The leases run out and these deliveries go again: at least once, never lost.
        logger.exception("Could not record %s webhook deliveries", len(finished))
        return 0
    return sum(result.ok for _, result in outcomes)


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
    for those in flight and record them."""
    threads = threads or settings.WEBHOOK_DISPATCH_THREADS
    report, started = DispatchReport(), time.monotonic()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook-send") as pool:
        running: dict[Future, OutgoingRequest] = {}
        while True:
            claimed = []
            in_slice = time.monotonic() - started < run_seconds
            if len(running) < threads and in_slice and not _shutting_down.is_set():
                claimed = claim_due(limit=threads - len(running))
                report.cut_short = False
                for request in _prepare(claimed) if claimed else ():
                    running[pool.submit(send, request)] = request
            if not running:
                if claimed:
                    continue
                break
            if not in_slice and not _shutting_down.is_set():
                report.cut_short = True
            done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            report.attempts += len(done)
            report.delivered += _record_batch([(running.pop(future), future) for future in done])
    report.seconds = time.monotonic() - started
    return report


def deliver_now(delivery_id: int) -> bool | None:
    """Send one delivery now if it is due and claimable; True/False for its outcome, None if it was not sent."""
    if not claim_due(limit=1, only=delivery_id):
        return None
    prepared = _prepare([delivery_id])
    if not prepared:
        return None
    result = send(prepared[0])
    delivery_record(delivery_id=delivery_id, result=result)
    return result.ok
