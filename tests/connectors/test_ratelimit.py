"""Token buckets: in-process on a fake clock, shared through Redis, and as the client uses them."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
import responses

from connectors import http
from connectors.base import RateLimitPolicy
from connectors.ratelimit import KEY_PREFIX, InProcessRateLimiter, RedisRateLimiter
from tests.connectors.http_fakes import BASE, FakeShopConnector, fake_public_dns, make_integration, registered

FIVE_PER_SECOND = RateLimitPolicy(requests=5, per_seconds=1.0)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_burst_through_then_spaces_calls_at_the_rate():
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)

    waits = [limiter.reserve("shop-1", FIVE_PER_SECOND) for _ in range(7)]

    assert waits[:5] == [0.0] * 5
    assert waits[5:] == pytest.approx([0.2, 0.4])


def test_the_bucket_refills_with_time_up_to_its_size():
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock=clock)
    for _ in range(5):
        limiter.reserve("shop-1", FIVE_PER_SECOND)

    clock.now += 0.4  # two tokens back
    assert [limiter.reserve("shop-1", FIVE_PER_SECOND) for _ in range(3)] == pytest.approx([0, 0, 0.2])

    clock.now += 60  # refills to 5, never more
    assert [limiter.reserve("shop-1", FIVE_PER_SECOND) for _ in range(6)] == pytest.approx([0] * 5 + [0.2])


def test_buckets_are_per_integration():
    limiter = InProcessRateLimiter(clock=FakeClock())
    one_per_minute = RateLimitPolicy(requests=1, per_seconds=60)
    assert limiter.reserve("a", one_per_minute) == 0
    assert limiter.reserve("b", one_per_minute) == 0
    assert limiter.reserve("a", one_per_minute) == pytest.approx(60)


@responses.activate
def test_the_client_waits_for_the_integrations_bucket(db, monkeypatch):
    class TwoPerSecondShop(FakeShopConnector):
        key = "fake-slow-shop"
        rate_limit = RateLimitPolicy(requests=2, per_seconds=1.0)

    slept: list[float] = []
    monkeypatch.setattr(http, "sleep", slept.append)  # nothing waits, so the reservations queue up
    # A stopped clock: on a loaded machine real time passes between the calls and the waits shrink.
    limiter = InProcessRateLimiter(clock=FakeClock())
    monkeypatch.setattr(http, "rate_limiter", lambda: limiter)
    fake_public_dns(monkeypatch)
    responses.get(f"{BASE}/a", json={})
    with registered(TwoPerSecondShop):
        client = TwoPerSecondShop(make_integration(TwoPerSecondShop)).http
        for _ in range(4):
            client.get("/a", action="probe")

    assert len(responses.calls) == 4
    assert slept == pytest.approx([0.5, 1.0], abs=0.05)


@pytest.mark.redis
def test_redis_buckets_are_shared_between_workers():
    """The bucket refills on Redis's own clock, which a test cannot stop: a policy of two calls a week makes the
    refill between these calls (a second would be 1/302400 of a token) far below what the assertions can see, so
    each wait is what the other worker's reservations left, whatever the machine's load."""
    key = f"test-{uuid.uuid4().hex}"
    worker_a = RedisRateLimiter(os.environ["REDIS_URL"])
    worker_b = RedisRateLimiter(os.environ["REDIS_URL"])
    week = 7 * 24 * 3600.0
    policy = RateLimitPolicy(requests=2, per_seconds=week)

    store = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        waits = [worker_a.reserve(key, policy), worker_b.reserve(key, policy), worker_a.reserve(key, policy)]
        waits.append(worker_b.reserve(key, policy))
        tokens = float(store.hget(KEY_PREFIX + key, "tokens"))
    finally:
        store.delete(KEY_PREFIX + key)  # its expiry is weeks away

    assert waits[:2] == [0.0, 0.0]  # one bucket of two: b's first call took the second token a left
    assert waits[2:] == pytest.approx([week / 2, week], rel=1e-3)  # each queues behind every reservation before it
    assert tokens == pytest.approx(-2, abs=1e-3)


def test_an_unreachable_redis_falls_back_to_the_process_bucket():
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", fallback=InProcessRateLimiter(clock=FakeClock()))
    policy = RateLimitPolicy(requests=1, per_seconds=1.0)
    assert limiter.reserve("k", policy) == 0
    assert limiter.reserve("k", policy) == pytest.approx(1.0)
