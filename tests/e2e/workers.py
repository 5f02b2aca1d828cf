"""Real Celery processes for end-to-end tests: a worker on its own queue, against the test's database and Redis;
or the whole embedded stack `make run` starts (Procfile.dev), on SQLite and the filesystem broker in a folder of its
own."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
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
        deadline = time.monotonic() + 300  # a bound for a worker that never starts, not a slow start
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
                self.process.wait(60)  # a warm stop removes its key ring report (a test asserts it)
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


# ---------------------------------------------------------------- the embedded stack: make run's processes

# Celery's CLI, or manage.py, with tests/e2e/flight_recorder.py installed first (it writes to FLIGHT_LOG).
RECORDED = (
    "import sys\n"
    "from tests.e2e import flight_recorder\n"
    "flight_recorder.install()\n"
    "program, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]\n"
    "if program == 'celery':\n"
    "    from celery.bin.celery import main\n"
    "    main()\n"
    "else:\n"
    "    from django.core.management import execute_from_command_line\n"
    "    execute_from_command_line(sys.argv)\n"
)
SERVER_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SYNC_TASK_QUEUE", "WEBHOOK_INCOMING_QUEUE", "VAR_DIR")


def embedded_environment(tmp: Path, **extra: str) -> dict[str, str]:
    """The embedded defaults, in `tmp`: no PostgreSQL or Redis, a SQLite file and a broker folder of their own.

    PYTEST_VERSION stays set, so the processes ignore a developer's .env as the suite does.
    """
    environment = {k: v for k, v in os.environ.items()
                   if k not in SERVER_VARIABLES and not k.startswith("CELERY_")}
    return {**environment, "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}", "VAR_DIR": str(tmp / "var"),
            "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO",
            "FLIGHT_LOG": str(tmp / "flight.log"), **extra}


def procfile_command(name: str, environment: dict[str, str], *, procfile: str = "Procfile.dev") -> list[str]:
    """A Procfile process's command as argv, run under the flight recorder: its `${VAR:-default}`s resolved, and
    without bin/keep-running (the test stops its processes and wants them to stay stopped)."""
    lines = dict(line.split(":", 1) for line in (BASE_DIR / procfile).read_text().splitlines() if ":" in line)
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environment.get(m[1]) or m[2], lines[name])
    argv = shlex.split(line)
    if argv[0] == "bin/keep-running":
        argv = argv[1:]
    if Path(argv[0]).name == "celery":
        return [sys.executable, "-c", RECORDED, "celery", *argv[1:]]
    assert argv[1] == "manage.py", f"{procfile} {name}: not a celery or manage.py command"
    return [sys.executable, "-c", RECORDED, "manage.py", *argv[2:]]


class EmbeddedStack:
    """Procfile.dev's processes (web, worker, syncworker, beat: what `make run` starts) on the embedded defaults,
    each in its own process group, every Celery message of a row recorded (flight_recorder.py)."""

    def __init__(self, tmp: Path, **settings: str):
        self.tmp = tmp
        self.environment = embedded_environment(tmp, **settings)
        self.database = tmp / "db.sqlite3"
        self.flight_log = Path(self.environment["FLIGHT_LOG"])
        self.flight_log.touch()
        self.processes: dict[str, subprocess.Popen] = {}
        self.port = 0

    def manage(self, *args: str) -> str:
        """Run a manage.py command to its end; its output."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.environment,
                              capture_output=True, text=True, timeout=600)  # migrate took over 120 s under load
        if done.returncode:
            pytest.fail(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, *names: str) -> None:
        for name in names:
            argv = procfile_command(name, self.environment)
            if name == "web":
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    self.port = probe.getsockname()[1]
                argv = [f"127.0.0.1:{self.port}" if re.fullmatch(r"[\d.]+:\d+", a) else a for a in argv]
            with open(self.tmp / f"{name}.log", "wb") as log:
                self.processes[name] = subprocess.Popen(argv, cwd=BASE_DIR, env=self.environment, stdout=log,
                                                        stderr=subprocess.STDOUT, start_new_session=True)
        for name in names:
            # beat's own "beat: Starting..." is an INFO line of celery.beat, quiet by default: its banner is not.
            ready = {"web": self._answers, "beat": lambda n: b"is starting." in self._log_bytes(n)}.get(
                name, lambda n: b" ready." in self._log_bytes(n))
            deadline = time.monotonic() + 300
            while not ready(name):
                if self.processes[name].poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{name} did not start:\n{self.log(name)}")
                time.sleep(0.1)

    def _log_bytes(self, name: str) -> bytes:
        return (self.tmp / f"{name}.log").read_bytes()

    def _answers(self, name: str) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-6000:]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the stack's SQLite database (WAL: readers never block its writers)."""
        with closing(sqlite3.connect(self.database, timeout=20)) as db:
            return db.execute(sql, params).fetchall()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
