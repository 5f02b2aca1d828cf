"""A real Celery worker on Redis, SIGKILLed while processing a webhook: it still ends completed, once.

The worker is `celery -A config worker` started through `main()` below, which
first registers `SlowSandboxConnector`: a sandbox connector whose
normalize_order waits while a gate file exists and notes each start in a file.
So the slowness lives in this test module only, and reaches the subprocess the
way any connector would (the registry), not through a production setting.
"""

from __future__ import annotations

import json
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
from django.conf import settings
from django.db import connection
from django.test import Client

from connectors.sandbox.connector import SandboxConnector

BASE_DIR = Path(settings.BASE_DIR)
LEASE_SECONDS = 3
TIMEOUT = 60


class SlowSandboxConnector(SandboxConnector):
    key = "slow-sandbox"
    display_name = "Slow sandbox (tests)"

    def normalize_order(self, record):
        started, gate = os.environ.get("INBOUND_TEST_STARTED"), os.environ.get("INBOUND_TEST_GATE")
        if started:
            with open(started, "a") as marks:
                marks.write(f"{os.getpid()}\n")
        deadline = time.monotonic() + TIMEOUT
        while gate and os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().normalize_order(record)


def main() -> None:
    """Entry point of the worker subprocess: register the slow connector, then run Celery's own CLI."""
    from celery.bin.celery import main as celery_main

    from connectors import registry

    registry.register(SlowSandboxConnector)
    sys.argv = ["celery", "-A", "config", "worker", *sys.argv[1:]]
    celery_main()


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Worker:
    def __init__(self, queue: str, log_path: Path, extra_env: dict[str, str]):
        env = {
            **os.environ, **extra_env,
            "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1", "WEBHOOK_INCOMING_QUEUE": queue,
            "WEBHOOK_INCOMING_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        command = [
            sys.executable, "-c",
            "import django; django.setup(); from tests.webhooks.test_inbound_worker import main; main()",
            "--queues", queue, "--hostname", f"{queue}-{uuid.uuid4().hex[:4]}@%h", "--concurrency", "1",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        _wait(lambda: b" ready." in log_path.read_bytes() or self.process.poll() is not None, "the worker to start",
              log_path)
        if self.process.poll() is not None:
            pytest.fail(f"the worker died at start:\n{log_path.read_text(errors='replace')}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: no cleanup, no ack, like a machine that lost power."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _wait(condition, what: str, log_path: Path | None = None, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            log = log_path.read_text(errors="replace") if log_path and log_path.exists() else ""
            pytest.fail(f"timed out waiting for {what}\n{log}")
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_webhook_whose_worker_is_sigkilled_ends_completed_once(transactional_db, tmp_path, settings):
    from commerce.models import Order
    from connectors import registry
    from tests.factories import IntegrationFactory
    from tests.webhooks.inbound_support import SECRET, post, raw_order, receive_url, shopify_delivery
    from webhooks.inbound.tasks import sweep_incoming_webhooks
    from webhooks.models import IncomingWebhook

    queue = f"test-inbound-{uuid.uuid4().hex[:12]}"
    settings.WEBHOOK_INCOMING_QUEUE = queue
    gate, started = tmp_path / "gate", tmp_path / "started"
    gate.touch()
    env = {"INBOUND_TEST_GATE": str(gate), "INBOUND_TEST_STARTED": str(started)}
    starts = lambda: len(started.read_text().split()) if started.exists() else 0  # noqa: E731
    registry.register(SlowSandboxConnector)
    workers: list[Worker] = []
    try:
        shop = IntegrationFactory(provider="slow-sandbox", webhook_secret=SECRET)
        first = Worker(queue, tmp_path / "worker-1.log", env)
        workers.append(first)

        body, headers = shopify_delivery(raw_order(), topic="orders/create")
        response = post(Client(), receive_url(shop.route_key), body, headers)
        assert response.status_code == 202
        webhook_id = response.json()["id"]

        _wait(lambda: starts() == 1, "the worker to start processing", first.log_path)
        assert IncomingWebhook.objects.get(pk=webhook_id).status == "processing"
        first.kill()
        assert IncomingWebhook.objects.get(pk=webhook_id).status == "processing"
        assert not Order.objects.exists()  # nothing of the killed attempt committed

        gate.unlink()
        second = Worker(queue, tmp_path / "worker-2.log", env)
        workers.append(second)
        time.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
        sweep_incoming_webhooks.apply_async(queue=queue)  # what beat does every 30 s

        _wait(lambda: IncomingWebhook.objects.get(pk=webhook_id).status == "completed", "the webhook to complete",
              second.log_path)
        webhook = IncomingWebhook.objects.get(pk=webhook_id)
        assert webhook.retry_count == 1 and webhook.error_message == ""
        assert Order.objects.count() == 1
        assert starts() == 2  # the killed attempt and the one that completed
    finally:
        for worker in workers:
            worker.stop()
        registry.unregister(SlowSandboxConnector.key)
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Leave no trace in Redis: the queue, its bindings, and the killed worker's unacknowledged message."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", queue)
    for tag, raw in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
