"""Beat's scheduler: django-celery-beat's DatabaseScheduler, run by one beat at a time.

Two beats (a deploy that overlaps, a second machine started by mistake) would
each send every periodic task. Every task here is safe to run twice, but twice
the sweeps, dispatches and syncs is load for nothing, so a beat sends only while
it holds a lock and otherwise stands by, trying again every few seconds: a
second beat is a no-op, and takes over when the first one dies.

The lock is a Redis key with a TTL (REDIS_URL set: beats on any machine), renewed
on every tick, so a beat killed without notice frees it within LOCK_TTL_SECONDS.
Without Redis (the embedded default, one machine) it is an exclusive file lock on
VAR_DIR/beat.lock, which the kernel drops when the process dies.

Every message it sends expires (config/beat.py says why): a row's own
`expire_seconds` or `expires` wins; a row with neither, on an interval, expires
after that interval (at least MIN_EXPIRE_SECONDS).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from pathlib import Path

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry

from config.beat import periodic_task_expiry

logger = logging.getLogger(__name__)

LOCK_KEY = "switchyard:beat:lock"
LOCK_TTL_SECONDS = 30.0
STANDBY_SECONDS = 5.0  # how often a standing-by beat tries to take the lock


class RedisLock:
    def __init__(self, url: str, ttl: float = LOCK_TTL_SECONDS):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.lock = self.client.lock(LOCK_KEY, timeout=ttl, blocking=False, thread_local=False)

    def hold(self) -> bool:
        """True while this beat holds the lock: taken if free, its TTL renewed if ours."""
        try:
            if self.lock.local.token is not None and self.lock.owned():
                self.lock.reacquire()
                return True
            self.lock.local.token = None
            return bool(self.lock.acquire(blocking=False, token=f"{socket.gethostname()}:{os.getpid()}:"
                                                                  f"{uuid.uuid4().hex}".encode()))
        except Exception as exc:  # noqa: BLE001 - Redis unreachable: nobody can publish anyway; stand by
            logger.warning("beat lock: Redis unreachable (%s); standing by", type(exc).__name__)
            return False

    def release(self) -> None:
        try:
            if self.lock.local.token is not None and self.lock.owned():
                self.lock.release()
        except Exception as exc:  # noqa: BLE001 - the TTL frees it anyway
            logger.info("beat lock not released (%s); it expires by itself", type(exc).__name__)


class FileLock:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def hold(self) -> bool:
        if self.fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def beat_lock() -> RedisLock | FileLock:
    if settings.REDIS_URL:
        return RedisLock(settings.REDIS_URL)
    return FileLock(Path(settings.VAR_DIR) / "beat.lock")


class ExpiringEntry(ModelEntry):
    def __init__(self, model, app=None):
        super().__init__(model, app=app)
        if "expires" not in self.options and (expires := periodic_task_expiry(model)) is not None:
            self.options["expires"] = expires


class SingleBeatScheduler(DatabaseScheduler):
    Entry = ExpiringEntry

    def __init__(self, *args, **kwargs):
        self.beat_lock = beat_lock()
        self.state = "starting"
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self.beat_lock.hold():
            if self.state != "standby":
                logger.warning("another beat holds the lock: this one stands by, and takes over if that one stops")
                self.state = "standby"
            return STANDBY_SECONDS
        if self.state != "active":
            logger.info("beat holds the lock: sending the periodic tasks")
            # Another beat may have run them meanwhile: read last_run_at afresh rather than trust memory.
            self._initial_read = True
            self._heap = None
            self.state = "active"
        # Come back within the lock's TTL to renew it, even when the next task is far off.
        return min(super().tick(*args, **kwargs), STANDBY_SECONDS)

    def close(self):
        try:
            super().close()
        finally:
            self.beat_lock.release()
