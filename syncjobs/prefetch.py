"""The pages of one sync step, the next one fetched while the current one is written.

Why: a page's provider call and its write used to take turns, so a backfill
waited on the provider, then on the database, then on the provider again. Here
one worker thread pulls page N+1 while the engine writes page N, and never
more than one page ahead, so memory stays one page deep whatever the size of
the pull.

What does not change: pages are handed over in order and the engine commits
each with the cursor of the *next* page, so a crash (or a write that fails)
leaves the job at the last written page; the page fetched ahead is simply
fetched again on resume. The only cost of the look-ahead is that call (and any
a connector makes to complete the page's records): a job cancelled or failed
mid-way may have pulled one page it never writes.

Where it runs: on PostgreSQL, outside any transaction. The fetching thread has
its own database connection (call-log rows, a token refresh), which must see
the job's committed rows; inside a caller's atomic block (a test) it would not,
and SQLite's single writer would make the two threads wait on each other. There
the pages are fetched in turn, as before, with the same results.

Every page, either way, is fetched inside `connectors.calllog.bulk_pull`: its
call-log row is summarised and says how many records the page carried.

A page's records are also normalized where it was fetched (`prepare`, the
engine's `resources.normalize_records`): mapping a page of provider JSON is
CPU the writing thread would otherwise spend between its statements, and on
the fetching thread it runs while the writer waits on PostgreSQL. It happens
after the page's call-log row is flushed, so calls a connector makes to
complete a record (order items, say) log as calls of their own, as before.

The two threads share one GIL. While the writer waits on PostgreSQL the
fetching thread runs; when the answer comes the writer must get the GIL back,
and CPython makes a waiting thread wait a whole switch interval (5 ms by
default) before the running one yields. A page's writer waits a dozen times,
so while pages stream ahead the interval is 0.5 ms (`SWITCH_INTERVAL`),
restored when the last open stream of the process closes (a threads-pool worker runs
several jobs at once: `_FastSwitching` counts them). (bench/sync_backfill.py --pages-from-memory,
where the fetching thread never waits on the network: 1,240–2,102 orders/s at
5 ms, 2,095–2,808 at 0.5 ms.)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, connections

from connectors.base import Page
from connectors.calllog import bulk_pull


@dataclass
class Fetched:
    """A page as the engine takes it: the provider's page, and what `prepare` made of its items."""

    page: Page
    prepared: Any

    @property
    def next_cursor(self) -> str | None:
        return self.page.next_cursor


SWITCH_INTERVAL = 0.0005  # seconds a thread runs before one waiting for the GIL gets it, while pages stream ahead


class _FastSwitching:
    """The process's switch interval is SWITCH_INTERVAL while any stream is open, and what it was before the
    first one opened once the last one closes (streams of concurrent jobs overlap in any order)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._before = sys.getswitchinterval()

    def enter(self) -> None:
        with self._lock:
            if self._open == 0:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(self._before, SWITCH_INTERVAL))
            self._open += 1

    def leave(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                sys.setswitchinterval(self._before)


_fast_switching = _FastSwitching()


def can_prefetch() -> bool:
    """Whether this process may fetch ahead now (see the module docstring)."""
    return settings.SYNC_PREFETCH and connection.vendor == "postgresql" and not connection.in_atomic_block


class PageStream:
    """Iterate the pages of `pages` as Fetched, each with `prepare(page.items)`; with `ahead`, each next page is
    already on its way (fetched and prepared). Use as a context manager: leaving it waits for a fetch in flight
    and closes the worker thread's connection."""

    def __init__(self, pages: Iterator[Page], *, ahead: bool, prepare: Callable[[list[Any]], Any]):
        self._pages = pages
        self._prepare = prepare
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sync-prefetch") if ahead else None
        self._in_flight: Future | None = None
        if ahead:
            _fast_switching.enter()

    def _fetch(self) -> Fetched | None:
        page = None
        with bulk_pull() as log:
            try:
                page = next(self._pages, None)
            finally:
                log.flush(records=len(page.items) if page is not None else None)
        return None if page is None else Fetched(page, self._prepare(page.items))

    def __iter__(self) -> Iterator[Fetched]:
        if self._executor is None:
            while (page := self._fetch()) is not None:
                yield page
            return
        self._in_flight = self._executor.submit(self._fetch)
        while True:
            page = self._in_flight.result()
            # A page with no next cursor is the step's last: asking for more would be a wasted call, or one the
            # connector does not expect. If the engine asks anyway, fetch then.
            self._in_flight = self._executor.submit(self._fetch) if page is not None and page.next_cursor else None
            if page is None:
                return
            yield page
            if self._in_flight is None:
                self._in_flight = self._executor.submit(self._fetch)

    def __enter__(self) -> PageStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is None:
            return
        try:
            if self._in_flight is not None:
                self._in_flight.exception()  # wait for it; what it raised no longer matters
            self._executor.submit(self._release).result()
        finally:
            self._executor.shutdown(wait=True)
            _fast_switching.leave()

    def _release(self) -> None:
        """In the worker thread: end the pull and close that thread's database connection."""
        try:
            self._pages.close()  # type: ignore[attr-defined]
        except AttributeError:
            pass
        finally:
            connections.close_all()


def page_stream(pages: Iterator[Page], *, prepare: Callable[[list[Any]], Any]) -> PageStream:
    return PageStream(pages, ahead=can_prefetch(), prepare=prepare)
