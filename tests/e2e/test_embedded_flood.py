"""The embedded runtime keeps up: 500 webhooks flood `make run`'s stack, and "Sync now" still starts at once.

The stack is Procfile.dev's own processes — web (runserver), worker, syncworker
and beat — on the embedded defaults: a SQLite file and the filesystem broker,
both in the test's temporary folder, whatever DATABASE_URL and REDIS_URL say.
The sandbox shop runs in a thread of this process. 500 signed order webhooks
are posted to the receive URL as fast as 8 connections go while the worker is
down (a restart, as in the issue: the queue is then as long as it gets); the
worker starts, and as it begins on the backlog a sync is asked for through the
API: it must be seen running while webhooks of the backlog are still waiting.
Behind the backlog on one queue it would wait for all 500 (about 8 s here at
the new polling interval, minutes at the old one); on its own queue it waits for
nothing. (An order, not seconds: on a loaded machine 5 s were not always enough.)

Meanwhile beat runs the incoming-webhook sweeper every second, with a grace of
1 s (WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS): every waiting webhook is overdue to
it. Each process records every processing message it sends and every one it
finishes (tests/e2e/flight_recorder.py), and no webhook may ever have had more
than one in flight: a sweeper that re-queued rows whose message was merely
queued would show up as two.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from sandbox.data import API_VERSION, ShopData
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from sandbox.webhooks import sign
from tests.e2e import flight_recorder
from tests.e2e.workers import EmbeddedStack

WEBHOOKS = 500
CONNECTIONS = 8
SECRET = "whsec_embedded_flood"
PROCESS = "webhooks.inbound.tasks.process_incoming_webhook"

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker]

SEED = """
import json
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from accounts.models import Organization
from accounts.services import api_key_create
from integrations.models import Integration

given = json.loads({given!r})
organization = Organization.objects.create(slug="flood", name="Flood")
shop = Integration.objects.create(
    organization=organization, name="Flooded shop", code="flooded-shop", type="ecommerce", provider="sandbox",
    status="active", api_endpoint=given["url"], api_key=given["client_id"], api_secret=given["client_secret"],
    access_token=given["access_token"], webhook_secret=given["secret"], config={{"rate_limit": None}},
)
_, key = api_key_create(organization=organization, name="flood", role="operator")
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
PeriodicTask.objects.filter(task="webhooks.inbound.tasks.sweep_incoming_webhooks").update(interval=every_second)
print(json.dumps({{"integration": shop.pk, "route_key": shop.route_key, "key": key}}))
"""


def signed_orders(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Order webhooks as the sandbox signs them (Shopify's headers), each with its own webhook id."""
    data = ShopData(seed=7, orders=count, products=20)
    deliveries = []
    for j in range(count):
        body = json.dumps(data.order(j), separators=(",", ":")).encode()
        deliveries.append((body, {
            "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign(body, SECRET), "X-Shopify-Shop-Domain": data.domain,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }))
    return deliveries


def post_all(port: int, path: str, deliveries: list) -> list[int]:
    """POST every delivery over CONNECTIONS keep-alive connections; the answers' statuses."""
    statuses: list[int] = []
    lock = threading.Lock()
    pending = iter(deliveries)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                delivery = next(pending, None)
            if delivery is None:
                break
            body, headers = delivery
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                statuses.append(status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def api(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_a_flood_of_webhooks_neither_delays_sync_now_nor_gets_a_second_message(tmp_path):
    stack = EmbeddedStack(tmp_path, OUTBOUND_URL_ALLOWLIST="127.0.0.1", WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS="1")
    deliveries = signed_orders(WEBHOOKS)
    with SandboxServer(port=0, seed=11, orders=40, products=20, rate_limit=1_000_000,
                       leak_rate=1_000_000.0) as sandbox, stack:
        stack.manage("migrate", "--no-input", "-v", "0")
        given = {"url": sandbox.url, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                 "access_token": sandbox.issue_tokens()["access_token"], "secret": SECRET}
        seeded = json.loads(stack.manage("shell", "-c", SEED.format(given=json.dumps(given))).strip().splitlines()[-1])
        stack.start("web", "syncworker", "beat")

        flood_started = time.monotonic()
        statuses = post_all(stack.port, f"/api/webhooks/receive/{seeded['route_key']}/", deliveries)
        flooded_in = time.monotonic() - flood_started
        assert statuses.count(202) + statuses.count(200) == WEBHOOKS, sorted(set(statuses))
        stack.start("worker")
        waiting = stack.query("SELECT count(*) FROM webhooks_incomingwebhook WHERE status = 'pending'")[0][0]

        asked = time.monotonic()
        status, job = api(stack.port, "POST", f"/api/integrations/{seeded['integration']}/sync/", seeded["key"],
                          {"job_type": "sync_orders"})
        assert status == 202, job
        def count(status: str) -> int:
            return stack.query("SELECT count(*) FROM webhooks_incomingwebhook WHERE status = ?", (status,))[0][0]

        while True:  # the backlog's progress once the sync is seen running: an order, not a stopwatch
            if stack.query("SELECT status FROM syncjobs_syncjob WHERE id = ?", (job["id"],))[0][0] != "pending":
                done_before = count("completed")
                break
            if time.monotonic() - asked > 300:  # a sync that never starts, not a slow one
                pytest.fail(f"the sync never started:\n{stack.log('syncworker')}")
            time.sleep(0.02)
        started_in = time.monotonic() - asked

        deadline = time.monotonic() + 300
        while count("completed") < WEBHOOKS:
            if time.monotonic() > deadline or count("failed"):
                pytest.fail(f"{count('completed')} of {WEBHOOKS} webhooks processed, {count('failed')} failed:\n"
                            f"{stack.log('worker')}")
            time.sleep(0.2)
        drained_in = time.monotonic() - asked
        time.sleep(2)  # two more sweeps, which must find nothing to re-send
        job_status = stack.query("SELECT status, error_message FROM syncjobs_syncjob WHERE id = ?", (job["id"],))[0]

    events = flight_recorder.read(stack.flight_log)
    in_flight = flight_recorder.most_in_flight(events, PROCESS)
    sent = sum(1 for _, kind, task, _ in events if kind == "sent" and task == PROCESS)
    print(f"\n{WEBHOOKS} webhooks stored in {flooded_in:.1f} s; {waiting} waiting for the worker when the sync was "
          f"asked for; the sync started {started_in:.2f} s after, {done_before} of them processed by then; all "
          f"processed {drained_in:.1f} s after; {sent} processing messages sent")
    # Behind the backlog on one queue the sync would start only once every webhook was processed.
    assert done_before < WEBHOOKS, f"the sync started only after all {WEBHOOKS} webhooks ({started_in:.1f} s)"
    assert len(in_flight) == WEBHOOKS
    doubled = {webhook: n for webhook, n in in_flight.items() if n > 1}
    assert not doubled, f"{len(doubled)} webhooks had more than one message in flight, e.g. {list(doubled.items())[:5]}"
    assert sent == WEBHOOKS  # nothing failed, so nothing was ever sent twice
    assert job_status[0] in ("running", "completed"), job_status
