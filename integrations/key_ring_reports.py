"""Which key ring each running process holds, so a key rotation can check before it re-encrypts.

A rotation is safe only once every process that reads secrets holds the new key: a web process or worker
still on the old ring cannot open a value re-encrypted under the new key (it answers SECRETS_UNREADABLE for
that integration), and writes its new values under the old key. So every process records the ids of its
ring's keys (never the keys) in a KeyRingReport row, every KEY_RING_REPORT_SECONDS:

- a web process on a request, when its last report is older than that (one upsert a minute per process);
- a Celery worker when it is ready, then from a daemon thread; its row is deleted when it shuts down.

`rotate_encryption_keys` reads the rows reported within STALE_AFTER and refuses while one lacks the new first
key. What it cannot see: a process that has not reported yet (a web process before its first request, or one
of a release without this module), or any process when reporting is off (KEY_RING_REPORT_SECONDS=0); then it
says so and prints the deploy order (`DEPLOY_ORDER`). Beat and management commands read no secrets a
rotation could strand, and do not report.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .encryption import key_ring
from .models import KeyRingReport

logger = logging.getLogger(__name__)

DEPLOY_ORDER = (
    "1. Put the new key first in ENCRYPTION_KEYS and keep the old keys after it.\n"
    "2. Deploy that to every process that reads secrets (web, workers) and restart them.\n"
    "3. Run `manage.py rotate_encryption_keys` until it reports nothing left under the old keys.\n"
    "4. Remove the old key from ENCRYPTION_KEYS and deploy again."
)

_last_report = 0.0  # time.monotonic() of this process's last report
_lock = threading.Lock()


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_after() -> timedelta:
    """How old a report may be and its process still count as running: three missed reports, at least 3 min."""
    return timedelta(seconds=max(3 * settings.KEY_RING_REPORT_SECONDS, 180))


def key_ring_report(*, role: str, now: datetime | None = None) -> None:
    """Record this process's ring (upsert of its row); rows of processes gone for a day are deleted."""
    global _last_report
    now = now or timezone.now()
    KeyRingReport.objects.update_or_create(process=process_name(),
                                           defaults={"role": role, "key_ids": key_ring().key_ids, "reported_at": now})
    KeyRingReport.objects.filter(reported_at__lt=now - timedelta(days=1)).delete()
    _last_report = time.monotonic()


def key_ring_forget() -> None:
    """This process stops (a worker's shutdown): its row goes, so a rotation does not wait for it."""
    KeyRingReport.objects.filter(process=process_name()).delete()


def key_rings_running(*, now: datetime | None = None) -> list[KeyRingReport]:
    """The processes that reported within stale_after(), oldest report first."""
    now = now or timezone.now()
    return list(KeyRingReport.objects.filter(reported_at__gte=now - stale_after()).order_by("reported_at", "pk"))


# ---------------------------------------------------------------- web processes
def report_on_request(**_: object) -> None:
    """request_started receiver: report when the last try is older than KEY_RING_REPORT_SECONDS.

    Never lets a failure reach the request (a database that is down is the request's to answer), and a failed
    report waits for the next interval like a written one: an outage costs no request a second timeout.
    """
    global _last_report
    every = settings.KEY_RING_REPORT_SECONDS
    if every <= 0 or time.monotonic() - _last_report < every:
        return
    if not _lock.acquire(blocking=False):
        return  # another thread of this process is reporting
    _last_report = time.monotonic()
    try:
        key_ring_report(role="web")
    except Exception as exc:  # noqa: BLE001 - a missed report only delays what a rotation can know
        logger.warning("Key ring report failed: %s", type(exc).__name__)
    finally:
        _lock.release()


# ---------------------------------------------------------------- workers
_stop = threading.Event()


def _report_loop(every: int) -> None:
    while not _stop.wait(every):
        try:
            key_ring_report(role="worker")
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            logger.warning("Key ring report failed: %s", type(exc).__name__)
        finally:
            close_old_connections()


def report_on_worker_ready(**_: object) -> None:
    """worker_ready receiver: report now, then every KEY_RING_REPORT_SECONDS from a daemon thread."""
    every = settings.KEY_RING_REPORT_SECONDS
    if every <= 0:
        return
    try:
        key_ring_report(role="worker")
    except Exception as exc:  # noqa: BLE001 - a worker starts whether or not its report is written
        logger.warning("Key ring report failed: %s", type(exc).__name__)
    finally:
        close_old_connections()
    _stop.clear()
    threading.Thread(target=_report_loop, args=(every,), name="key-ring-report", daemon=True).start()


def forget_on_worker_shutdown(**_: object) -> None:
    _stop.set()
    if settings.KEY_RING_REPORT_SECONDS <= 0:
        return
    try:
        key_ring_forget()
    except Exception as exc:  # noqa: BLE001 - a stale row ages out after stale_after()
        logger.warning("Key ring report not removed: %s", type(exc).__name__)
