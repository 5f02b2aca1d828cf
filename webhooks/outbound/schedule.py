"""When a failed delivery is tried again.

Attempts go out immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
after the previous failure (eight attempts, about 28 h in all); after the
eighth failure the delivery is failed. A `Retry-After` on a 429 or 503 is a
floor: the next attempt waits for the longer of it and the schedule, at most
MAX_RETRY_AFTER. No jitter: deliveries are already spread by when they were
published, and a predictable schedule is what receivers are documented.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# RETRY_DELAYS[n] is the wait after the n-th failed attempt of a round (n from 1); index 0 is the first send.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS)
MAX_RETRY_AFTER = timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({429, 503})


def next_delay(failed_attempts: int, *, retry_after: timedelta | None = None) -> timedelta | None:
    """The wait before the next attempt after `failed_attempts` failures in a row; None: give up."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[max(failed_attempts, 1)]
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """`Retry-After` as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))
