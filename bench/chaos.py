"""Fault scenarios against real processes: does anything acknowledged get lost or done twice?

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/chaos.py [-n 60] [--only NAME]

Runs gunicorn, a Celery worker and beat (both under bin/keep-running, as the
Procfile runs them) against a PostgreSQL database of its own (`chaos_<pid>`,
created and dropped here) and Redis db 15 (flushed before and after), each
reached through a TCP proxy in this process that can cut them (connections
closed, new ones refused) or hang them (connections accepted, nothing
forwarded). For each scenario it posts N signed order webhooks from 4 clients
(a 5 s client timeout, as Shopify has), applies the fault for a while in the
middle of the stream, lifts it, waits for every acknowledged webhook to be
processed, and prints one row:

    tried · acknowledged (2xx) · stored (rows of the acknowledged) · processed ·
    lost (acknowledged, never processed) · duplicated (rows or orders twice) ·
    seconds from the end of the fault to the last acknowledged one processed

Scenarios: baseline; Redis refused; Redis hung; PostgreSQL cut; PostgreSQL hung;
worker SIGKILL; worker SIGTERM. Unacknowledged answers (503 while PostgreSQL is
down, a client timeout) are the provider's to retry, so they are not "lost".
WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS is 15 here (60 by default) and
WEBHOOK_INCOMING_LEASE_SECONDS 60 (300 by default) to keep the run short: a
webhook a worker was processing when the database went away is taken up again
once its lease runs out, so at the defaults that recovery takes about 5 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "whsec_chaos_secret"
REDIS_DB = 15
FINAL = ("completed", "failed", "ignored")


# ---------------------------------------------------------------- the proxy
class Proxy:
    """A TCP proxy on 127.0.0.1 in a thread: mode "up" forwards, "cut" refuses and closes, "hang" swallows."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "up"
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.server = None
        self.port = 0
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self._call(self._listen())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _listen(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer):
        if self.mode != "up":
            if self.mode == "hang":
                self.writers.add(writer)  # held open, never answered
            else:
                writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    while self.mode == "hang":
                        await asyncio.sleep(0.1)
                    if self.mode == "cut":
                        break
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def set(self, mode: str) -> None:
        self._call(self._set(mode))

    async def _set(self, mode: str):
        self.mode = mode
        if mode == "cut":
            self.server.close()  # new connections refused
            for writer in list(self.writers):
                writer.close()
            self.writers.clear()
        elif mode == "up":
            for writer in list(self.writers):  # what hung is cut now: clients reconnect
                writer.close()
            self.writers.clear()
            if not self.server.is_serving():
                await self._listen()

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = (parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else "") + f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))


# ---------------------------------------------------------------- processes
def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def celery_pids(wrapper: subprocess.Popen) -> list[int]:
    """The worker's main process (the wrapper's child) and its pool children."""
    def children(pid: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    main = children(wrapper.pid)
    return main + [c for m in main for c in children(m)]


def wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


# ---------------------------------------------------------------- webhooks
def signed(number: int, run: str) -> tuple[str, bytes, dict[str, str]]:
    from sandbox.webhooks import delivery_headers  # the simulator's own signed headers

    order = {"id": 7_000_000_000 + int(run, 16) % 1_000_000 * 1000 + number, "name": f"#{run}-{number}",
             "email": f"b{number}@example.com",
             "created_at": "2026-05-01T09:30:00+00:00", "updated_at": "2026-05-01T09:30:00+00:00",
             "financial_status": "paid", "fulfillment_status": None, "currency": "EUR", "total_price": "17.50",
             "line_items": [{"id": number, "sku": "CHAOS-1", "quantity": 1, "price": "17.50"}]}
    body = json.dumps(order, separators=(",", ":")).encode()
    event_id = str(uuid.uuid4())
    headers = delivery_headers("orders/create", body, secret=SECRET, shop_domain="chaos.myshopify.com",
                               webhook_id=event_id)
    return event_id, body, headers


def post_stream(port: int, path: str, n: int, run: str, span: float, clients: int = 4) -> tuple[int, list[str], float]:
    """Post n webhooks over `clients` connections, paced to take about `span` seconds (so the stream runs before,
    through and after the fault); (tried, acknowledged event ids, slowest answer)."""
    pause = span / max(1, n / clients)
    acked: list[str] = []
    slowest = [0.0]
    lock = threading.Lock()
    numbers = iter(range(n))

    def client():
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            event_id, body, headers = signed(number, run)
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", path, body=body, headers=headers)
                status = conn.getresponse().status
                conn.close()
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                slowest[0] = max(slowest[0], time.monotonic() - started)
                if 200 <= status < 300:
                    acked.append(event_id)
            time.sleep(max(0.0, pause - (time.monotonic() - started)))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return n, acked, slowest[0]


# ---------------------------------------------------------------- the run
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--webhooks", type=int, default=60, help="webhooks per scenario")
    parser.add_argument("--fault-seconds", type=float, default=8.0)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds to wait for processing")
    parser.add_argument("--only", action="append", help="run only these scenarios")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url.startswith("redis://"):
        print("chaos: needs PostgreSQL and Redis (DATABASE_URL=postgres://…, REDIS_URL=redis://…); skipped")
        return 0

    import psycopg
    import redis

    name = f"chaos_{os.getpid()}"
    admin = urlsplit(database_url)._replace(path="/postgres")
    with psycopg.connect(urlunsplit(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    broker_url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{REDIS_DB}"))
    redis.Redis.from_url(broker_url).flushdb()
    db_target, broker_target = urlsplit(db_url), urlsplit(broker_url)
    pg = Proxy(db_target.hostname, db_target.port or 5432)
    rd = Proxy(broker_target.hostname, broker_target.port or 6379)

    tmp = Path(tempfile.mkdtemp(prefix="switchyard-chaos-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": db_url, "REDIS_URL": broker_url,
                       "VAR_DIR": str(tmp / "var"), "LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count

    from accounts.models import Organization
    from commerce.models import Order
    from integrations.models import Integration
    from webhooks.models import IncomingWebhook

    call_command("migrate", verbosity=0)
    organization = Organization.objects.create(slug="chaos", name="Chaos")
    integration = Integration.objects.create(
        organization=organization, name="Chaos shop", code="chaos-shop", type="ecommerce", provider="sandbox",
        status="active", webhook_secret=SECRET, config={"shop_domain": "chaos.myshopify.com"},
    )
    connections.close_all()
    env = {**os.environ, "DATABASE_URL": pg.url(db_url), "REDIS_URL": rd.url(broker_url), "DEBUG": "false",
           "WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS": "15", "WEBHOOK_INCOMING_LEASE_SECONDS": "60",
           "CONN_MAX_AGE": "0", "PYTHONUNBUFFERED": "1"}
    port = pg.port + 1000 if pg.port < 64000 else 18000
    bin_dir = Path(sys.executable).parent
    web = start([str(bin_dir / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                 "--worker-class", "gthread", "--threads", "4", "--timeout", "30"], env, tmp / "web.log")
    worker_cmd = [str(ROOT / "bin" / "keep-running"), str(bin_dir / "celery"), "-A", "config", "worker",
                  "--loglevel", "WARNING", "--concurrency", "2", "--without-gossip", "--without-mingle"]
    worker = start(worker_cmd, env, tmp / "worker.log")
    beat = start([str(ROOT / "bin" / "keep-running"), str(bin_dir / "celery"), "-A", "config", "beat",
                  "--loglevel", "WARNING", "--schedule", str(tmp / "beat-schedule")], env, tmp / "beat.log")
    wait_http(port)
    time.sleep(5)  # the worker and beat connect

    def fault(kind: str):
        if kind.startswith("redis"):
            rd.set("cut" if kind == "redis-refused" else "hang")
            return lambda: rd.set("up")
        if kind.startswith("postgres"):
            pg.set("cut" if kind == "postgres-cut" else "hang")
            return lambda: pg.set("up")
        if kind.startswith("worker"):
            pids = celery_pids(worker)
            # SIGKILL takes the pool children too (an OOM kill, a lost machine); SIGTERM goes to the main process
            # alone, as `docker stop` sends it to PID 1, which then shuts its pool down warmly.
            sig, pids = (signal.SIGKILL, pids) if kind == "worker-sigkill" else (signal.SIGTERM, pids[:1])
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            return lambda: None  # bin/keep-running starts it again
        return lambda: None

    scenarios = ["baseline", "redis-refused", "redis-hung", "postgres-cut", "postgres-hung",
                 "worker-sigkill", "worker-sigterm"]
    rows = []
    span = args.fault_seconds + 6  # the stream: 2 s before the fault, through it, and 4 s after
    try:
        for kind in scenarios:
            if args.only and kind not in args.only:
                continue
            run = uuid.uuid4().hex[:6]
            result: dict = {}
            path = f"/api/webhooks/receive/{integration.code}/"
            sender = threading.Thread(target=lambda result=result, path=path, run=run: result.update(
                zip(("tried", "acked", "slowest"), post_stream(port, path, args.webhooks, run, span), strict=True)))
            sender.start()
            time.sleep(2)
            lift = fault(kind)
            time.sleep(args.fault_seconds)
            lift()
            lifted = time.monotonic()
            sender.join()
            acked = set(result["acked"])
            deadline = time.monotonic() + args.deadline
            while True:
                rows_q = IncomingWebhook.objects.filter(integration=integration, external_id__in=acked)
                done = rows_q.filter(status__in=FINAL).count()
                if done == len(acked) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            recovered = time.monotonic() - lifted
            stored = rows_q.values("external_id").distinct().count()
            orders = Order.objects.filter(integration=integration, external_number__startswith=f"#{run}-")
            twice = orders.values("external_number").annotate(n=Count("id")).filter(n__gt=1)
            duplicated = (rows_q.count() - stored) + sum(row["n"] - 1 for row in twice)
            rows.append((kind, result["tried"], len(acked), stored, done, len(acked) - done, duplicated,
                         recovered, result["slowest"]))
            connections.close_all()
            print(f"  {kind}: done", flush=True)
    finally:
        for process in (beat, worker, web):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        connections.close_all()
        with psycopg.connect(urlunsplit(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        redis.Redis.from_url(broker_url).flushdb()

    print()
    print("| scenario | tried | acknowledged | stored | processed | lost | duplicated | s to recover "
          "| slowest answer |")
    print("| --- | --: | --: | --: | --: | --: | --: | --: | --: |")
    for kind, tried, acked, stored, done, lost, dup, recovered, slowest in rows:
        print(f"| {kind} | {tried} | {acked} | {stored} | {done} | {lost} | {dup} | {recovered:.0f} "
              f"| {slowest:.2f} s |")
    return 1 if any(row[5] or row[6] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
