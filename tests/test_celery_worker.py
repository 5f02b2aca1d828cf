"""The Celery app's configuration, and a real worker process running a real task.

The worker test starts `celery -A config worker` as a subprocess, the way the
Procfile does, against REDIS_URL on a queue of its own, and points it at the
test database, so it checks the configuration a deployment runs with.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from integrations.models import IntegrationLog
from integrations.retention import integration_logs_purge
from integrations.tasks import purge_integration_logs
from tests.factories import IntegrationFactory, IntegrationLogFactory

BASE_DIR = Path(settings.BASE_DIR)
WORKER_START_TIMEOUT = 300  # a bound, not a wait: the fixture starting one took 125 s once on a loaded machine
TASK_TIMEOUT = 30


def test_app_is_configured_for_reliability():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert list(app.conf.accept_content) == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"


def test_app_broker_follows_redis_url():
    if os.environ.get("REDIS_URL"):
        assert app.conf.broker_url == os.environ["REDIS_URL"]
    else:
        assert app.conf.broker_url.startswith("filesystem://")
        assert Path(app.conf.broker_transport_options["data_folder_in"]).is_dir()


def test_the_retention_task_is_registered():
    app.loader.import_default_modules()
    assert "integrations.tasks.purge_integration_logs" in app.tasks


def _log_at(integration, age: timedelta) -> IntegrationLog:
    return IntegrationLogFactory(integration=integration, created_at=timezone.now() - age)


@pytest.mark.django_db
def test_purge_deletes_only_logs_past_retention_in_batches(settings):
    settings.INTEGRATION_LOG_RETENTION_DAYS = 30
    integration = IntegrationFactory()
    old = [_log_at(integration, timedelta(days=31 + n)) for n in range(5)]
    recent = [_log_at(integration, timedelta(days=29)), _log_at(integration, timedelta(minutes=1))]

    assert integration_logs_purge(batch_size=2) == len(old)
    assert set(IntegrationLog.objects.values_list("pk", flat=True)) == {log.pk for log in recent}
    assert integration_logs_purge() == 0  # nothing left to do: safe to run again
    assert integration_logs_purge(older_than_days=0) == len(recent)


@pytest.mark.django_db
def test_purge_refuses_a_negative_age():
    with pytest.raises(ValueError, match="negative"):
        integration_logs_purge(older_than_days=-1)


# ---------------------------------------------------------------- a real worker


def _test_database_url() -> str:
    """DATABASE_URL with the database name pytest-django created, so the worker sees the test's rows."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def worker_queue(transactional_db, tmp_path):
    """A `celery -A config worker` subprocess consuming a queue no other test or worker uses."""
    if connection.vendor == "sqlite":
        pytest.skip("a worker process cannot see pytest's in-memory SQLite test database: set DATABASE_URL")
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "DEBUG",  # the per-task "received"/"succeeded" lines this test reads are quiet at INFO
    }
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--queues", queue, "--hostname", f"{queue}@%h", "--concurrency", "1", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield queue, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # kombu keeps a queue's exchange bindings in Redis sets; leave no trace of this one-off queue.
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(
            f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", queue
        )


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_runs_the_retention_task(worker_queue):
    queue, log_path = worker_queue
    integration = IntegrationFactory()
    old = [_log_at(integration, timedelta(days=40)) for _ in range(3)]
    recent = _log_at(integration, timedelta(days=1))

    purge_integration_logs.apply_async(kwargs={"older_than_days": 30}, queue=queue)

    deadline = time.monotonic() + TASK_TIMEOUT
    while IntegrationLog.objects.filter(pk__in=[log.pk for log in old]).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not run the task:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)
    assert IntegrationLog.objects.filter(pk=recent.pk).exists()
    deadline = time.monotonic() + TASK_TIMEOUT  # logged after the rows went: 5 s was not always enough under load
    while b"succeeded" not in log_path.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"integrations.tasks.purge_integration_logs" in log_path.read_bytes()
    assert b"succeeded" in log_path.read_bytes()
