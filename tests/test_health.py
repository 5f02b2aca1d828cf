"""/health/ (the process answers) and /ready/ (database, broker, migrations), and how fast they fail."""

from __future__ import annotations

import socket
from unittest import mock

import pytest
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError

from config import health
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_url(monkeypatch):
    """Point the Celery app at another broker for one test (Django settings are read once, at app config)."""
    # The embedded defaults name their transport class (config.broker_filesystem), and kombu lets that win over
    # the URL's scheme: a test pointing the app at another broker clears it, and puts it back after.
    transport = celery_app.conf.get("broker_transport")

    def use(url: str) -> None:
        monkeypatch.setattr(celery_app.conf, "broker_url", url)
        celery_app.conf["broker_transport"] = None

    yield use
    celery_app.conf["broker_transport"] = transport


@pytest.fixture
def silent_broker():
    """A TCP port that accepts connections and never answers: a hung Redis, not a refused one."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # the kernel completes handshakes; nobody ever reads or writes
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


@pytest.fixture
def database_down():
    with mock.patch.object(BaseDatabaseWrapper, "cursor", side_effect=OperationalError("connection refused")):
        yield


def test_health_is_ok(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_ok_even_when_the_database_and_broker_are_down(client, database_down, broker_url):
    broker_url("redis://127.0.0.1:1/0")
    assert client.get("/health/").status_code == 200


def test_ready_when_everything_is_up(client):
    response = client.get("/ready/")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
    }


def broker_sockets(monkeypatch, url: str) -> list[tuple[socket.socket, float | None]]:
    """Every socket the request connects to the broker, with the timeout it connected under: what bounds a probe
    is told by the sockets themselves, not by a stopwatch on a loaded machine."""
    port, seen = int(url.rsplit(":", 1)[1].split("/")[0]), []
    connect = socket.socket.connect

    def spy(sock, address):
        if isinstance(address, tuple) and address[1] == port:
            seen.append((sock, sock.gettimeout()))
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


def test_unreachable_broker_is_named_and_answers_fast(client, broker_url, monkeypatch):
    broker_url("redis://127.0.0.1:1/0")
    attempts = broker_sockets(monkeypatch, "redis://127.0.0.1:1/0")
    response = client.get("/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["checks"]["broker"].startswith("broker unreachable")
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert [timeout for _, timeout in attempts] == [health.BROKER_PROBE_TIMEOUT_SECONDS]  # refused once, no retry


def test_hung_broker_is_bounded_by_the_probe_timeout(client, broker_url, silent_broker, monkeypatch):
    monkeypatch.setattr(health, "BROKER_PROBE_TIMEOUT_SECONDS", 0.3)
    broker_url(silent_broker)
    attempts = broker_sockets(monkeypatch, silent_broker)
    response = client.get("/ready/")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("broker unreachable")
    # One connection, its connect and its reads each bounded by the probe's timeout: never a blocking socket.
    assert [(timeout, sock.gettimeout()) for sock, timeout in attempts] == [(0.3, 0.3)]


def test_unapplied_migrations_are_named(client):
    pending = [(mock.Mock(name="commerce.0009_pending"), False)]
    with mock.patch.object(MigrationExecutor, "migration_plan", return_value=pending):
        response = client.get("/ready/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "migrations": "1 unapplied migration(s)"}


def test_unreachable_database_is_named(client, database_down):
    response = client.get("/ready/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "database unreachable: OperationalError"
    assert checks["migrations"] == "not checked: no database"  # unknown, not "ok"


@pytest.mark.parametrize("url", ["/health/", "/ready/"])
def test_probes_answer_get_only(client, url):
    assert client.post(url).status_code == 405
