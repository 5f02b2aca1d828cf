"""A second beat sends nothing while the first holds the lock, and takes over when the first stops; a worker
that exits is started again by bin/keep-running, which the Procfiles use."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config import beat_scheduler
from config.celery import app

BASE_DIR = Path(django_settings.BASE_DIR)
TASK = "integrations.tasks.purge_oauth_states"


class Recording(beat_scheduler.SingleBeatScheduler):
    """The real scheduler; `apply_entry` (the publish) records the entry instead of sending it."""

    def __init__(self, *args, **kwargs):
        self.sent: list[str] = []
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        self.sent.append(entry.task)
        entry.last_run_at = self.app.now()  # what a real send records


@pytest.fixture(params=["redis", "file"])
def lock_backend(request, settings, tmp_path):
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs Redis: set REDIS_URL=redis://…")
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(beat_scheduler.LOCK_KEY)
        settings.REDIS_URL = os.environ["REDIS_URL"]
    else:
        settings.REDIS_URL = ""
        settings.VAR_DIR = tmp_path
    return request.param


def _only_one_due_task():
    PeriodicTask.objects.update(enabled=False)
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(name="single beat test", defaults={
        "task": TASK, "interval": every, "enabled": True, "last_run_at": None})


@pytest.mark.django_db(transaction=True)
def test_a_second_beat_sends_nothing_until_the_first_stops(lock_backend):
    """On a clock the test moves (a real one made two ticks a second apart under load send the task twice)."""
    _only_one_due_task()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first, second = Recording(app=app, lazy=False), Recording(app=app, lazy=False)
        try:
            for _ in range(3):
                first.tick()
                second.tick()
                clock.shift(timedelta(seconds=61))  # the task is due again
            assert first.sent and second.sent == []
            assert first.state == "active" and second.state == "standby"

            first.close()  # the first beat stops (a killed one frees a Redis lock within its TTL)
            if lock_backend == "redis":
                first.beat_lock.client.delete(beat_scheduler.LOCK_KEY)
            clock.shift(timedelta(seconds=61))
            second.tick()
            second.tick()
            assert second.state == "active" and second.sent == [TASK]
        finally:
            first.close()
            second.close()


def test_keep_running_restarts_an_exiting_command_and_stops_on_sigterm(tmp_path):
    runs = tmp_path / "runs"
    command = f"echo run >> {runs}; sleep 0.2; exit 1"
    process = subprocess.Popen([str(BASE_DIR / "bin" / "keep-running"), "sh", "-c", command],
                               env={**os.environ, "KEEP_RUNNING_DELAY": "0.1"}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not runs.exists() or len(runs.read_text().split()) < 3:
        assert time.monotonic() < deadline, "the command was not started again"
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) is not None
    count = len(runs.read_text().split())
    time.sleep(1)
    assert len(runs.read_text().split()) == count  # not restarted after SIGTERM
    assert b"starting it again" in process.stderr.read()


def test_keep_running_passes_sigterm_on_and_waits_for_a_warm_shutdown(tmp_path):
    marker, ready = tmp_path / "stopped", tmp_path / "trapping"
    command = f"trap 'sleep 1; echo done > {marker}; exit 0' TERM; touch {ready}; while :; do sleep 0.1; done"
    process = subprocess.Popen([str(BASE_DIR / "bin" / "keep-running"), "sh", "-c", command])
    # Told once the command has set its trap (a fixed sleep was not always enough on a loaded machine: the TERM
    # then killed a shell with no trap yet, and nothing was written).
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert marker.read_text().strip() == "done"  # the command finished its own shutdown before we returned


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev"])
def test_the_procfiles_keep_worker_and_beat_running(procfile):
    lines = dict(line.split(":", 1) for line in (BASE_DIR / procfile).read_text().splitlines() if ":" in line)
    for name in ("worker", "syncworker", "beat"):
        assert "bin/keep-running" in lines[name].split("celery")[0], f"{procfile} {name}: {lines[name]}"


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev"])
def test_the_procfiles_run_a_worker_on_the_sync_queue_and_one_on_the_rest(procfile, settings):
    lines = dict(line.split(":", 1) for line in (BASE_DIR / procfile).read_text().splitlines() if ":" in line)
    assert "--queues ${SYNC_TASK_QUEUE:-sync}" in lines["syncworker"]
    assert settings.SYNC_TASK_QUEUE == "sync"  # the settings' default is the Procfiles' default
    assert "--queues" not in lines["worker"]  # the default queue only: a sync never waits behind its backlog
