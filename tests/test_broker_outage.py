"""With the broker refused or hung, the web tier keeps answering and loses nothing.

The broker is a real socket: a port nothing listens on (refused), or a
listener that accepts and never answers (hung, as a frozen Redis or a
black-holed network path behaves). The Celery app is pointed at it exactly as
REDIS_URL would point it, with the transport options settings give. Requests
run in a thread with a deadline, so a request that blocks on the broker fails
the test instead of hanging it.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from kombu import pools

from config import broker
from config.celery import app
from syncjobs.models import JobStatus, SyncJob
from tests.factories import IntegrationFactory
from tests.webhooks.inbound_support import SECRET, raw_order, receive_url, shopify_delivery
from tests.webhooks.outbound_support import make_endpoint
from webhooks.inbound.processing import webhooks_sweep
from webhooks.models import DeliveryStatus, IncomingStatus, IncomingWebhook, WebhookDelivery

pytestmark = [pytest.mark.redis]

ANSWER_WITHIN = 1.0  # the bound for a signed inbound webhook
DEADLINE = 30.0  # a request still blocked after this is hung: fail, do not wait forever


class HungBroker:
    """Accepts connections and never reads or answers them."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:  # a request still blocked on one of these gets EOF and ends
            conn.close()


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _point_app_at(url: str) -> None:
    """What a process started with REDIS_URL=url has: the broker URL, no pooled connection to the old one."""
    app.conf.broker_url = url
    pools.reset()  # kombu's process-wide producer pools, keyed by connection
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(params=["refused", "hung"])
def dead_broker(request):
    real = app.conf.broker_url
    hung = HungBroker() if request.param == "hung" else None
    port = hung.port if hung else _refused_port()
    _point_app_at(f"redis://127.0.0.1:{port}/0")
    broker.breaker.reset()

    def back():  # the broker comes back
        _point_app_at(real)

    back.port = port
    try:
        yield back
    finally:
        _point_app_at(real)
        broker.breaker.reset()
        if hung:
            hung.close()


def timed(call):
    """(result, seconds) of `call()` run in a thread; fails if it is still blocked after DEADLINE. The seconds are
    reported, never asserted: what bounds a request is told by `broker_sockets`."""
    box: dict = {}

    def run():
        started = time.monotonic()
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = exc
        finally:
            connections.close_all()  # this thread's own connection, or the test database cannot be dropped
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        pytest.fail(f"the request was still blocked on the broker after {DEADLINE}s")
    if "error" in box:
        raise box["error"]
    return box["result"], box["seconds"]


@pytest.fixture
def broker_sockets(dead_broker, monkeypatch, settings):
    """Every socket a request opens to the dead broker, with the timeout it connected under and the one it was
    left with for replies. A request waits on the broker at most (connects + replies) x CELERY_BROKER_TIMEOUT:
    these say how many waits there were and how long each could be, whatever the machine's load (a stopwatch on a
    loaded machine measured the load). The breaker is held open for the test: its reopening is a matter of time."""
    settings.CELERY_BROKER_BREAKER_SECONDS = 3600
    seen: list[socket.socket] = []
    connect = socket.socket.connect

    def spy(sock, address):
        if isinstance(address, tuple) and address[1] == dead_broker.port:
            seen.append(sock)
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


@pytest.fixture
def shop(org):
    return IntegrationFactory(organization=org, provider="sandbox", webhook_secret=SECRET)


def test_signed_webhooks_are_acknowledged_fast_and_processed_once_the_broker_returns(
    transactional_db, client, shop, viewer_api, dead_broker, broker_sockets, settings
):
    answers = []
    for n in range(5):
        body, headers = shopify_delivery(raw_order(id=7000 + n, name=f"#70{n}"), topic="orders/create")
        answer, seconds = timed(lambda body=body, headers=headers: client.post(
            receive_url(shop.route_key), data=body, content_type="application/json", headers=headers))
        answers.append((answer.status_code, seconds))
        health, _ = timed(lambda: client.get("/health/"))
        assert health.status_code == 200
        listing, _ = timed(lambda: viewer_api.get("/api/webhooks/"))
        assert listing.status_code == 200
    assert [status for status, _ in answers] == [202] * 5
    # Fast: one request of the five paid one bounded wait on the broker (the breaker spared the others), within
    # the second.
    assert [sock.gettimeout() for sock in broker_sockets] == [settings.CELERY_BROKER_TIMEOUT], answers
    assert settings.CELERY_BROKER_TIMEOUT * 2 <= ANSWER_WITHIN  # at worst a slow connect, then no reply
    stored = IncomingWebhook.objects.filter(integration=shop)
    assert stored.count() == 5 and set(stored.values_list("status", flat=True)) == {IncomingStatus.PENDING}

    # The broker is back: the sweeper's nudges run the processing (eagerly here, as a worker would).
    dead_broker()
    broker.breaker.reset()
    settings.WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS = 0
    app.conf.task_always_eager = True
    try:
        assert webhooks_sweep(now=timezone.now() + timedelta(seconds=1)).requeued == 5
    finally:
        app.conf.task_always_eager = False
    assert set(stored.values_list("status", flat=True)) == {IncomingStatus.COMPLETED}


def test_sync_now_answers_202_with_its_job_saved(transactional_db, operator_api, org, dead_broker, broker_sockets,
                                                settings):
    integration = IntegrationFactory(organization=org, provider="sandbox", access_token="tok")
    answer, _ = timed(lambda: operator_api.post(f"/api/integrations/{integration.pk}/sync/",
                                                {"job_type": "sync_orders"}, format="json"))
    assert answer.status_code == 202, answer.content[:500]
    job = SyncJob.objects.get(pk=answer.json()["id"])
    assert job.status == JobStatus.PENDING  # the sweeper sends it once the broker is back
    assert [sock.gettimeout() for sock in broker_sockets] == [settings.CELERY_BROKER_TIMEOUT]  # one bounded try


def test_endpoint_test_redeliver_and_recover_answer_2xx_with_their_rows_saved(
    transactional_db, operator_api, org, dead_broker, settings
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    endpoint, _ = make_endpoint(org, "http://127.0.0.1:9/hook")
    answer, _ = timed(lambda: operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/test/", {}, format="json"))
    assert answer.status_code == 202, answer.content[:500]
    ping = WebhookDelivery.objects.get(pk=answer.json()["id"])
    assert ping.status == DeliveryStatus.PENDING  # the dispatcher's sweep sends it

    answer, _ = timed(lambda: operator_api.post(f"/api/webhook-deliveries/{ping.pk}/redeliver/", {}, format="json"))
    assert answer.status_code == 202, answer.content[:500]

    failed = WebhookDelivery.objects.filter(pk=ping.pk)
    failed.update(status=DeliveryStatus.FAILED, created_at=timezone.now() - timedelta(hours=1))
    since = (timezone.now() - timedelta(hours=2)).isoformat()
    answer, _ = timed(lambda: operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/recover/", {"since": since},
                                                format="json"))
    assert answer.status_code == 202, answer.content[:500]
    assert answer.json()["queued"] == 1
    # No message reached a worker, so the recover was done in the request: the delivery is due again.
    assert failed.get().status == DeliveryStatus.PENDING
