"""Celery queue lengths on Redis, for /metrics: one pipelined round trip of LLENs, short timeouts, never raises.

kombu's Redis transport keeps a queue as a list named after it, plus one list
per priority step (`<queue>\\x06\\x16<step>`); a queue's length is their sum.
The queues are the default one and the two the settings may name
(SYNC_TASK_QUEUE, WEBHOOK_INCOMING_QUEUE).
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from config.celery import app

logger = logging.getLogger(__name__)

PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps; step 0 is the bare queue name
TIMEOUT_SECONDS = 1.0


def queue_names() -> list[str]:
    names = {app.conf.task_default_queue, settings.SYNC_TASK_QUEUE, settings.WEBHOOK_INCOMING_QUEUE}
    return sorted(name for name in names if name)


def queue_lengths() -> dict[str, int] | None:
    """{queue: messages waiting}, or None when Redis did not answer in time."""
    names = queue_names()
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS,
                                  socket_connect_timeout=TIMEOUT_SECONDS)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            for key in (name, *(f"{name}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)):
                pipe.llen(key)
        lengths = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("metrics: Redis did not answer (%s)", type(exc).__name__)
        return None
    finally:
        client.close()
    per_queue = 1 + len(PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue:(i + 1) * per_queue]) for i, name in enumerate(names)}
