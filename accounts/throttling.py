"""Failed API-key authentication, counted per client address in fixed windows (Django's cache: Redis or local).

Only failures are counted and only failures are refused: once an address has
failed API_KEY_FAILURE_LIMIT times within the current API_KEY_FAILURE_WINDOW_SECONDS
window, its next wrong key answers 429 RATE_LIMITED with Retry-After (the rest of
the window) instead of 401, while a correct key from the same address still
works. Keys carry far too much entropy to be guessed; what this stops is a
scanner or a misconfigured client hammering the key lookup, without taking an
ERP that shares its NAT address off the air.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

_KEY = "apikey-failures:{address}:{window}"


def _window() -> tuple[int, int]:
    """(the current window's number, seconds until it ends)."""
    length = max(1, settings.API_KEY_FAILURE_WINDOW_SECONDS)
    now = time.time()
    return int(now // length), max(1, int(length - now % length + 0.999))


def failure_record(address: str | None) -> None:
    """Count one failed key from `address`; raise Throttled once it is past the limit for this window."""
    if not address:
        return
    window, retry_after = _window()
    key = _KEY.format(address=address, window=window)
    cache.add(key, 0, timeout=settings.API_KEY_FAILURE_WINDOW_SECONDS + 1)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.API_KEY_FAILURE_WINDOW_SECONDS + 1)
        failures = 1
    if failures > settings.API_KEY_FAILURE_LIMIT:
        raise Throttled(wait=retry_after, detail="Too many failed API-key attempts from this address.")


def failures_forget(address: str) -> None:
    """Clear the current window's count for an address (tests, or staff lifting a throttle early)."""
    cache.delete(_KEY.format(address=address, window=_window()[0]))
