"""Best-effort nudges: the one way code sends a Celery message after a durable write.

Every background action here has a row of record (an IncomingWebhook, a
SyncJob, a WebhookDelivery, a StockPush…) and a sweeper that re-sends whatever
waited too long. The message only saves the wait, so a broker that is down or
hung must cost the caller nothing: a web request that stored its row answers
2xx whatever the broker does.

So a nudge is sent with no publish retry, under the broker timeouts set in
settings (CELERY_BROKER_TIMEOUT: connect and every reply), and any failure is
swallowed. After one failure a process-local circuit breaker skips every nudge
for CELERY_BROKER_BREAKER_SECONDS, so only one request per process and period
pays the timeout against a hung broker; the breaker logs once when it opens and
once when a nudge gets through again.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


class _Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0
        self.tripped = False

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until

    def fail(self, task_name: str, exc: BaseException) -> None:
        with self._lock:
            self.open_until = time.monotonic() + settings.CELERY_BROKER_BREAKER_SECONDS
            first, self.tripped = not self.tripped, True
        if first:
            logger.warning(
                "broker unavailable (%s: %s) sending %s; nudges are skipped for %ss at a time until it answers, "
                "the sweepers pick up the stored rows", type(exc).__name__, exc, task_name,
                settings.CELERY_BROKER_BREAKER_SECONDS,
            )

    def succeed(self) -> None:
        if self.tripped:
            with self._lock:
                was, self.tripped = self.tripped, False
            if was:
                logger.warning("broker answers again; nudges are sent")

    def reset(self) -> None:
        with self._lock:
            self.open_until, self.tripped = 0.0, False


breaker = _Breaker()


def nudge(task: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None, **options: Any) -> bool:
    """Send `task` now, best effort; False when it was not sent (broker down, or the breaker open).

    Call it only where a row of record and its sweeper stand behind the message
    (or, like recover, where the caller falls back to doing the work itself).
    """
    if not breaker.allows():
        return False
    try:
        task.apply_async(tuple(args), kwargs=kwargs, retry=False, **options)
    except Exception as exc:  # noqa: BLE001 - any failure to publish: the row is the queue, its sweeper re-sends
        breaker.fail(getattr(task, "name", str(task)), exc)
        return False
    breaker.succeed()
    return True


def nudge_on_commit(task: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                    **options: Any) -> None:
    """`nudge` once the caller's transaction commits (at once outside one); a rollback sends nothing."""
    transaction.on_commit(partial(nudge, task, tuple(args), kwargs, **options))


class BatchedNudges:
    """Ids of stored rows from many request threads, sent as one message per batch by a thread of the process.

    What the web request does after storing its row is `add(row id)`: a list append, no broker round trip on
    the request path. A sender thread (started in each process on first use, so a forked gunicorn worker gets
    its own) sends what has collected as one `send(ids)` call, then waits `interval()` seconds before the next,
    so a busy process sends a message every interval whatever the request rate, and a quiet one sends each id
    at once. `send` returns False when the batch was not sent (it marks the rows for their sweeper itself).
    An interval of 0 or less sends in the caller's thread (tests, and anyone who wants the old behaviour).

    A process killed between `add` and the send loses the batch's messages, not its rows: those are stored and
    their sweeper re-sends them. A process that exits normally sends what it holds first (atexit).
    """

    def __init__(self, send: Any, interval: Any) -> None:
        self._send, self._interval = send, interval
        self._pid = 0
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._items: list[Any] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, item: Any) -> None:
        if self._interval() <= 0:
            self._send([item])
            return
        if self._pid != os.getpid():  # forked after the parent used it: its lock, list and thread are not ours
            self._reset()
        with self._lock:
            self._items.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="batched-nudges", daemon=True)
                self._thread.start()
                atexit.register(self.flush)
        self._wake.set()

    def flush(self) -> None:
        """Send what has collected now (at exit, and in tests)."""
        with self._lock:
            items, self._items = self._items, []
            self._wake.clear()
        if items:
            try:
                self._send(items)
            except Exception:  # noqa: BLE001 - the rows are stored; their sweeper sends what did not go
                logger.exception("batched nudge of %s rows failed", len(items))

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self.flush()
            time.sleep(self._interval())
