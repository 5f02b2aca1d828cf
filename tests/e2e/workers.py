"""A real Celery worker process for end-to-end tests: on its own queue, against the test's database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)

# The entry point: every task the worker sends goes to the test's queue (TEST_QUEUE), then Celery's own CLI.
ON_OWN_QUEUE = (
    "import os, sys\n"
    "from config.celery import app\n"
    "app.conf.task_default_queue = os.environ['TEST_QUEUE']\n"
    "from celery.bin.celery import main\n"
    "sys.argv = ['celery', '-A', 'config', 'worker', *sys.argv[1:]]\n"
    "main()\n"
)


def worker_database_url() -> str:
    """DATABASE_URL pointed at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))



class Worker:
    """`celery worker` in its own process group (SIGKILL reaches the pool too), started and ready, or the test fails."""

    def __init__(self, queue: str, log_path: Path, *, env: dict[str, str] | None = None, concurrency: int = 1,
                 pool: str = "prefork"):
        environment = {**os.environ, "DATABASE_URL": worker_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
                       "PYTHONUNBUFFERED": "1", "TEST_QUEUE": queue, "OUTBOUND_URL_ALLOWLIST": "127.0.0.1",
                       "LOG_LEVEL": "INFO", **(env or {})}
        command = [sys.executable, "-c", ON_OWN_QUEUE, "--queues", queue, "--hostname", f"{queue}-{log_path.stem}@%h",
                   "--concurrency", str(concurrency), "--pool", pool, "--loglevel", "INFO",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=BASE_DIR, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(condition, timeout: float, what: str, worker: Worker | None = None):
    """Poll `condition` until it gives something truthy (returned), or fail with the worker's log."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f":\n{worker.log()[-4000:]}" if worker else ""))
        time.sleep(0.2)


def forget_queue(queue: str) -> None:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", queue)
