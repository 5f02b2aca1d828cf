"""How many signed webhooks the receive endpoint accepts per second under gunicorn, against a bare app in the same run.

    .venv/bin/python bench/ingest.py [-n 6000] [-c 32] [--workers 2] [--threads 4] [--rounds 3] [--body-bytes 2048]

Runs the app under gunicorn (gthread workers, keep-alive) on 127.0.0.1 against
a temporary SQLite database, or against DATABASE_URL's PostgreSQL when it is
set (the bench's organization is deleted afterwards). Creates a Stripe
integration and sends N Stripe-signed events of about 2 KB, each with its own
event id, over C concurrent keep-alive connections.

On PostgreSQL the reference runs beside it: bench/ingest_bare.py, a bare WSGI
app that verifies the same signature and does one INSERT … ON CONFLICT, under
the same gunicorn settings and in the same database. The two alternate for
`--rounds` rounds (fresh event ids each round); the medians are compared.

Printed per side: accepted/s, p50/p99 latency, CPU ms per request (gunicorn
master and workers, from /proc), database transactions per request
(PostgreSQL's xact_commit), workers' RSS; SQL statements per request, counted
by a short extra pass under bench/ingest_counted.py; and the correctness line
(stored rows against 2xx answers, which must be equal; the exit status says
whether they are). The ratio to the reference comes last.

Processing messages go to a queue of the bench's own that no worker consumes
(on the filesystem transport in the temporary folder, or on REDIS_URL), so the
figure is ingestion alone: verify, store, answer, nudge.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "whsec_bench_ingest_secret"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=6000, help="webhooks per round and side")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500, help="webhooks sent to each side first, not counted")
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2), help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--body-bytes", type=int, default=2048)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(tmp: Path, queue: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp / "var"),
           "WEBHOOK_INCOMING_QUEUE": queue, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    return env


def stripe_event(number: int, size: int) -> bytes:
    event = {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
             "created": int(time.time()), "livemode": False, "api_version": "2024-06-20",
             "data": {"object": {"id": f"pi_{number}", "object": "payment_intent", "amount": 1750,
                                 "currency": "eur", "status": "succeeded", "metadata": {"order_id": str(number)},
                                 "description": ""}}}
    body = json.dumps(event, separators=(",", ":"))
    event["data"]["object"]["description"] = "x" * max(0, size - len(body))
    return json.dumps(event, separators=(",", ":")).encode()


def signed_requests(n: int, size: int) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    for number in range(n):
        body = stripe_event(number, size)
        stamp = str(int(time.time()))
        signature = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        requests.append((body, {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={signature}"}))
    return requests


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int, log: Path,
                   app: str = "config.wsgi", probe: str = "/health/") -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
               "--keep-alive", "30", "--backlog", "2048"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            if conn.getresponse().status < 500:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def send_all(port: int, path: str, requests: list, connections: int) -> tuple[list[float], Counter, float, int]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    statements = [0]
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine_lat, mine_status, mine_statements = [], Counter(), [0]
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            body, headers = requests[index]
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                mine_status[response.status] += 1
                mine_statements[0] += int(response.getheader("X-Bench-Statements") or 0)
            except (OSError, http.client.HTTPException) as exc:
                mine_status[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine_lat.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine_lat)
            statuses.update(mine_status)
            statements[0] += mine_statements[0]

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started, statements[0]


def process_tree(pid: int) -> list[int]:
    """The gunicorn master and its workers."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(child) for child in children)]


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for each in process_tree(pid)[1:]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def transactions() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


class Side:
    """One server under test and its figures over the rounds."""

    def __init__(self, name: str, server: subprocess.Popen, port: int, path: str, stored) -> None:
        self.name, self.server, self.port, self.path, self.stored = name, server, port, path, stored
        self.rates, self.p50s, self.p99s, self.cpu, self.xacts = [], [], [], [], []
        self.accepted = self.rows = 0
        self.rss = 0.0
        self.warm = 0

    def round(self, requests: list, connections: int) -> None:
        from django.db import connections as db

        rows_before, xact_before, cpu_before = self.stored(), transactions(), cpu_seconds(self.server.pid)
        db.close_all()
        latencies, statuses, elapsed, _ = send_all(self.port, self.path, requests, connections)
        cpu = cpu_seconds(self.server.pid) - cpu_before
        self.rss = rss_mb(self.server.pid)
        accepted = sum(n for status, n in statuses.items() if isinstance(status, int) and 200 <= status < 300)
        xacts = None if xact_before is None else transactions() - xact_before
        self.rows += self.stored() - rows_before
        self.accepted += accepted
        latencies.sort()
        self.rates.append(accepted / elapsed)
        self.p50s.append(statistics.median(latencies) * 1000)
        self.p99s.append(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000)
        self.cpu.append(cpu * 1000 / len(requests))
        if xacts is not None:
            self.xacts.append(xacts / len(requests))
        print(f"  {self.name:<10} {dict(sorted(statuses.items(), key=str))} {accepted / elapsed:,.0f}/s, "
              f"p50 {self.p50s[-1]:.1f} ms, p99 {self.p99s[-1]:.1f} ms")

    def summary(self) -> str:
        xacts = f", {statistics.median(self.xacts):.2f} transactions/request" if self.xacts else ""
        return (f"{self.name:<10} {statistics.median(self.rates):,.0f} accepted/s, "
                f"p50 {statistics.median(self.p50s):.1f} ms, p99 {statistics.median(self.p99s):.1f} ms, "
                f"{statistics.median(self.cpu):.2f} ms CPU/request{xacts}, workers' RSS {self.rss:.0f} MB")


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-ingest-"))
    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    env = environment(tmp, queue)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "VAR_DIR", "DATABASE_URL",
                                           "WEBHOOK_INCOMING_QUEUE")})
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    from accounts.models import Organization
    from integrations.models import Integration
    from webhooks.models import IncomingWebhook

    call_command("migrate", verbosity=0)
    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(slug=f"bench-{suffix}", name="Ingest bench")
    integration = Integration.objects.create(
        organization=organization, name="Bench payments", code=f"bench-{suffix}", type="payment", provider="stripe",
        status="active", webhook_secret=SECRET,
    )
    postgres = connection.vendor == "postgresql"
    print(f"database: {'PostgreSQL' if postgres else 'SQLite (temporary)'}; gunicorn {args.workers} x {args.threads} "
          f"threads; {args.connections} connections; {args.requests} Stripe events of ~{args.body_bytes} bytes "
          f"a round, {args.rounds} rounds")
    connections.close_all()
    sides: list[Side] = []
    servers: list[subprocess.Popen] = []
    try:
        port = free_port()
        servers.append(start_gunicorn(env, port, args.workers, args.threads, tmp / "gunicorn.log"))
        sides.append(Side("Switchyard", servers[-1], port, f"/api/webhooks/receive/{integration.route_key}/",
                          lambda: IncomingWebhook.objects.filter(integration=integration).count()))
        if postgres:
            from bench.ingest_bare import TABLE, create_table

            database_url = _libpq_url(settings.DATABASES["default"])
            create_table(database_url)
            bare_env = {**env, "BARE_DATABASE_URL": database_url, "BARE_SECRET": SECRET}
            port = free_port()
            servers.append(start_gunicorn(bare_env, port, args.workers, args.threads, tmp / "bare.log",
                                          app="bench.ingest_bare:application", probe="/"))

            def bare_rows() -> int:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM {TABLE}")  # noqa: S608 - a constant
                    return cursor.fetchone()[0]

            sides.append(Side("bare app", servers[-1], port, "/", bare_rows))
        for side in sides:  # imports, caches, connections: what a server that has been up a while has done
            send_all(side.port, side.path, signed_requests(args.warmup, args.body_bytes), args.connections)
            side.warm = side.stored()
        for number in range(args.rounds):
            print(f"round {number + 1}:")
            for side in sides:
                side.round(signed_requests(args.requests, args.body_bytes), args.connections)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)

    # Statements per webhook: a short pass under the counting wrapper (bench/ingest_counted.py).
    port = free_port()
    counted = start_gunicorn(env, port, args.workers, args.threads, tmp / "counted.log",
                             app="bench.ingest_counted:application")
    try:
        sample = min(args.requests, 500)
        _, statuses, _, statements = send_all(port, f"/api/webhooks/receive/{integration.route_key}/",
                                              signed_requests(sample, args.body_bytes), min(args.connections, 8))
    finally:
        counted.terminate()
        counted.wait(timeout=30)

    ours = sides[0]
    print(ours.summary())
    print(f"{'':<10} {statements / sample:.2f} SQL statements per webhook (a pass of {sample} under "
          f"bench/ingest_counted.py; each process's first request also looks the integration up)")
    if len(sides) > 1:
        print(sides[1].summary())
    correct = all(side.rows == side.accepted for side in sides) and ours.accepted == args.requests * args.rounds
    print("correctness: " + "; ".join(f"{side.name} stored {side.rows} rows for {side.accepted} 2xx answers"
                                       for side in sides) + f": {'EQUAL' if correct else 'MISMATCH'}")
    if postgres:
        organization.delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")  # noqa: S608 - a constant
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue, f"_kombu.binding.{queue}")
    shutil.rmtree(tmp, ignore_errors=True)
    if len(sides) > 1:
        ratio = statistics.median(ours.rates) / statistics.median(sides[1].rates)
        print(f"ratio: {ratio:.2f} of the bare app's accepted/s (median of {args.rounds} rounds)")
    else:
        print("ratio: no reference on SQLite (set DATABASE_URL to a PostgreSQL database)")
    return 0 if correct else 1


def _libpq_url(database: dict) -> str:
    user = database.get("USER") or ""
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql://{user}{password}@{host}{port}/{database['NAME']}"


if __name__ == "__main__":
    sys.exit(main())
