"""The dispatcher's sending threads, in two lanes, and which endpoints go in the slow one.

An endpoint that does not answer holds a thread for the whole
WEBHOOK_DELIVERY_TIMEOUT on each send, and the per-endpoint cap lets it hold
that many threads. Were they the run's only threads, one hung endpoint (two,
with a cap of half the threads) would starve every healthy one. So a run has a
lane of its own for endpoints this process has seen take half the timeout or
more (`SlowEndpoints`): a quarter of the threads (at least one), filled only
as far as it has free threads. A slow endpoint's next quick answer moves it
back.

The threads do HTTP only (no database): each takes (request, outcome) pairs
from its lane's queue and puts (SENT, outcome, result) on the run's event
queue, which the run's thread reads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading

from django.conf import settings
from django.utils import timezone

from .delivery import Outcome, OutgoingRequest, SendResult, send

logger = logging.getLogger(__name__)

SENT = "sent"
SLOW_SHARE = 4  # the slow lane has threads // SLOW_SHARE threads, at least one
SLOW_FRACTION = 0.5  # a send taking this share of WEBHOOK_DELIVERY_TIMEOUT or more makes its endpoint slow


class SlowEndpoints:
    """The endpoints whose last send took SLOW_FRACTION of the timeout or more, as this process saw them.

    Only where an endpoint is sent from, never whether: a wrong guess costs a
    few sends a lane with fewer threads, so it is kept per process, not stored.
    """

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def learn(self, endpoint_id: int, result: SendResult) -> None:
        slow = result.duration_ms >= settings.WEBHOOK_DELIVERY_TIMEOUT * 1000 * SLOW_FRACTION
        if slow != (endpoint_id in self._ids):
            with self._lock:
                (self._ids.add if slow else self._ids.discard)(endpoint_id)

    def ids(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._ids)

    def forget(self) -> None:
        self._lock = threading.Lock()  # also after a fork, where another thread may have held it
        self._ids.clear()


slow_endpoints = SlowEndpoints()
os.register_at_fork(after_in_child=slow_endpoints.forget)


def _send_unless_gone(request: OutgoingRequest, endpoint_id: int, gone: set[int]) -> SendResult | None:
    """Send, unless the endpoint answered 410 Gone to another send of this run (None: not sent; recording the 410
    disables the endpoint, which fails this delivery with the others)."""
    if endpoint_id in gone:
        return None
    result = send(request)
    if result.status_code == 410:
        gone.add(endpoint_id)
    return result


def _sender(inbox: queue.SimpleQueue, events: queue.SimpleQueue, gone: set[int]) -> None:
    """A sending thread: HTTP only, until it takes None."""
    while (item := inbox.get()) is not None:
        request, outcome = item
        try:
            result = _send_unless_gone(request, outcome.endpoint_id, gone)
        except Exception as exc:  # noqa: BLE001 - a bug in send must cost one attempt, not the whole run
            logger.exception("Sending webhook delivery %s failed unexpectedly", request.delivery_id)
            result = SendResult(started_at=timezone.now(), duration_ms=0,
                                error=f"internal error ({type(exc).__name__})")
        events.put((SENT, outcome, result))


class Lane:
    """Sending threads with a queue of their own; `held` is what was put in and has not come back (queued or
    being sent), with its endpoint and when the claim that leased it started (a claim begun within the slice is
    the slice's, however long the database took). Only the run's thread calls these methods."""

    def __init__(self, size: int, name: str, events: queue.SimpleQueue, gone: set[int]) -> None:
        self.size = size
        self.held: dict[int, tuple[int, float]] = {}
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=_sender, args=(self._inbox, events, gone), name=f"{name}-{n}",
                                          daemon=True) for n in range(size)]
        for thread in self._threads:
            thread.start()

    @property
    def room(self) -> int:
        """Threads with nothing to send."""
        return max(self.size - len(self.held), 0)

    def put(self, request: OutgoingRequest, outcome: Outcome, *, claimed_at: float) -> None:
        self.held[outcome.delivery_id] = (outcome.endpoint_id, claimed_at)
        self._inbox.put((request, outcome))

    def came_back(self, delivery_id: int) -> None:
        self.held.pop(delivery_id, None)

    def take_back(self) -> list[int]:
        """The deliveries no thread has started to send (the run is stopping): they will not be; their ids."""
        unsent = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return unsent
            if item is None:  # closing already; leave the sentinel for a thread
                self._inbox.put(None)
                return unsent
            unsent.append(item[1].delivery_id)
            self.came_back(item[1].delivery_id)

    def endpoints_held_since(self, moment: float) -> set[int]:
        """The endpoints of deliveries claimed at `moment` or before and not back yet."""
        return {endpoint for endpoint, put_at in self.held.values() if put_at <= moment}

    def close(self) -> None:
        """Let the threads finish what they were given, then stop them."""
        for _ in self._threads:
            self._inbox.put(None)
        for thread in self._threads:
            thread.join()
