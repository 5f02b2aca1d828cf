"""Per-integration rate limits: a token bucket of `RateLimitPolicy.requests` calls per `per_seconds`.

A call *reserves* a token and is told how long to wait for it (0 when the bucket
has one). The bucket may go negative: each waiter queues behind the ones before
it, so N callers at once are spread out at the policy's rate instead of all
retrying together. One round trip per call, no polling.

- With `REDIS_URL` the bucket lives in Redis (one hash per integration, updated
  by a Lua script on Redis's own clock), so every worker on every machine shares it.
- Without it the bucket lives in this process.

What can go wrong: a caller that reserved a token and then died leaves the
bucket slightly emptier than it should be (it refills at the policy rate); if
Redis is unreachable the limiter falls back to the in-process bucket and logs a
warning rather than failing provider calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Protocol

from django.conf import settings

from .base import RateLimitPolicy

logger = logging.getLogger(__name__)

KEY_PREFIX = "switchyard:ratelimit:"


def _shape(policy: RateLimitPolicy) -> tuple[float, float]:
    """(capacity, refill rate in tokens per second)."""
    capacity = float(max(1, policy.requests))
    return capacity, capacity / max(policy.per_seconds, 1e-6)


class RateLimiter(Protocol):
    def reserve(self, key: str, policy: RateLimitPolicy) -> float:
        """Take one token from `key`'s bucket; return the seconds to wait before using it."""


class InProcessRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def reserve(self, key: str, policy: RateLimitPolicy) -> float:
        capacity, rate = _shape(policy)
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - stamp) * rate) - 1
            self._buckets[key] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / rate


# KEYS[1] bucket; ARGV capacity, rate. Redis 5+ replicates script effects, so TIME before writes is fine.
_RESERVE_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
local wait = 0
if tokens < 0 then wait = -tokens / rate end
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity / rate + wait) * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, url: str, fallback: RateLimiter | None = None):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_RESERVE_LUA)
        self._fallback = fallback or InProcessRateLimiter()
        self._errors = redis.RedisError

    def reserve(self, key: str, policy: RateLimitPolicy) -> float:
        capacity, rate = _shape(policy)
        try:
            return float(self._script(keys=[KEY_PREFIX + key], args=[capacity, rate]))
        except self._errors as exc:
            logger.warning("Rate limiter falls back to in-process: Redis failed (%s)", type(exc).__name__)
            return self._fallback.reserve(key, policy)


_process_limiter = InProcessRateLimiter()


@cache
def _redis_limiter(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(url, fallback=_process_limiter)


def rate_limiter() -> RateLimiter:
    """Redis-backed when REDIS_URL is set, in-process otherwise."""
    return _redis_limiter(settings.REDIS_URL) if settings.REDIS_URL else _process_limiter
