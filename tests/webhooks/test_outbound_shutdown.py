"""A real worker told to stop (SIGTERM, as `docker stop` sends it) in the middle of a dispatch backlog.

The worker is `celery -A config worker` (prefork, as the Procfile runs it) on a
queue of its own, against Redis and the test's PostgreSQL database; only its
main process gets the signal, like PID 1 in a container. The receiver takes a
second per request, so there are always sends in flight. The issue's bounds:
the worker is gone within Docker's 10 s grace, and what was in flight is
recorded (not left leased, to go out a second time). The grace is asserted by
count, not by clock (a loaded machine stretches seconds): once told, the
worker starts at most one more window of sends (4, racing the signal) and
exits — the backlog behind them, 75 s of sends, stays for the next worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.outbound.dispatcher import dispatch_due
from webhooks.tasks import dispatch_due_deliveries

from .outbound_support import Receiver, make_endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery_worker]

BASE_DIR = Path(django_settings.BASE_DIR)
DELIVERIES = 300
IN_FLIGHT = 4  # sends at a time per endpoint: with a second each, a stop within Docker's 10 s grace
HANG_GUARD = 60.0


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _start_worker(queue: str, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": os.environ["REDIS_URL"],
           "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1",
           "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8"}
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", queue,
               "--hostname", f"{queue}@%h", "--concurrency", "1", "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 300
    while b" ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"the worker did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)
    return process


def test_sigterm_mid_dispatch_stops_within_the_grace_and_sends_nothing_twice(transactional_db, org, settings,
                                                                             tmp_path):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    queue = f"test-dispatch-{uuid.uuid4().hex[:12]}"
    slow = True

    def respond(receiver):
        if slow:
            time.sleep(1.0)
        return 200

    with Receiver(respond) as receiver:
        make_endpoint(org, receiver.url)
        for n in range(DELIVERIES):
            publish("order.created", {"n": n}, org)
        worker = _start_worker(queue, tmp_path / "worker.log")
        try:
            dispatch_due_deliveries.apply_async(queue=queue)
            deadline = time.monotonic() + 60
            while len(receiver.requests) < 6:  # 4 in flight at a time per endpoint, a second each
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
                time.sleep(0.1)
            os.kill(worker.pid, signal.SIGTERM)  # the main process only, as a container's PID 1 gets it
            sent_when_told = len(receiver.requests)
            try:
                worker.wait(HANG_GUARD)  # a hang guard, not the measure: the sends below are
            except subprocess.TimeoutExpired:
                pass
            exited = worker.poll() is not None
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
            redis.Redis.from_url(os.environ["REDIS_URL"]).delete(f"_kombu.binding.{queue}", queue)
        assert exited, f"the worker did not stop within {HANG_GUARD:.0f} s of SIGTERM"
        # Told to stop, it finished what was in flight and started no more than one window of sends.
        sent_before_stop = len(receiver.requests)
        assert sent_before_stop - sent_when_told <= IN_FLIGHT, (sent_when_told, sent_before_stop)
        assert sent_before_stop < DELIVERIES

        # Everything the worker sent was recorded before it left: nothing is still leased.
        assert not WebhookDelivery.objects.filter(locked_until__gt=timezone.now()).exists()
        assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == sent_before_stop

        slow = False
        while dispatch_due(threads=8, run_seconds=5).attempts:
            pass
    ids = [{k.lower(): v for k, v in request.headers.items()}["webhook-id"] for request in receiver.requests]
    assert len(ids) == DELIVERIES and len(set(ids)) == DELIVERIES  # each delivered exactly once
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == DELIVERIES
