"""How fast orders come out of a local sandbox shop through the sandbox connector.

    .venv/bin/python bench/sandbox_pull.py [--orders 20000] [--seed 1] [--rate-limit 0]

Starts a sandbox on a free port, connects an Integration to it (in a temporary
SQLite database, migrated here; `--default-db` uses the configured one instead),
pulls every order with `iter_orders()` through the provider client (outbound
check, auth header, one IntegrationLog row per call) and prints orders/second.
For comparison it first pulls the same pages with bare `requests` (no Django),
which is what the simulator alone can serve. `--rate-limit N` runs the sandbox
with a Shopify-like bucket of N (leaking --leak-rate/s) instead of none.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-limit", type=int, default=0, help="sandbox bucket size; 0: no limit")
    parser.add_argument("--leak-rate", type=float, default=2.0)
    parser.add_argument("--default-db", action="store_true", help="use the configured database, not a temporary one")
    return parser.parse_args()


def setup_django(tmp: str, default_db: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not default_db:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["OUTBOUND_URL_ALLOWLIST"] = "127.0.0.1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def bare_pull(sandbox, token: str) -> tuple[int, int, float]:
    import requests

    from connectors import registry
    from integrations.models import Integration
    from sandbox.data import API_VERSION

    # The token header the sandbox connector sends (Shopify's), without the rest of the connector.
    auth = registry.get("sandbox")(Integration(provider="sandbox", access_token=token)).auth_headers()
    session, count, pages = requests.Session(), 0, 0
    url = f"{sandbox.url}/admin/api/{API_VERSION}/orders.json?status=any&limit=250"
    started = time.perf_counter()
    while url:
        response = session.get(url, headers=auth, timeout=30)
        if response.status_code == 429:
            time.sleep(float(response.headers["Retry-After"]))
            continue
        response.raise_for_status()
        count += len(response.json()["orders"])
        pages += 1
        url = response.links.get("next", {}).get("url")
    return count, pages, time.perf_counter() - started


def connector_pull(sandbox, orders: int) -> tuple[int, int, float, int]:
    from accounts.models import Organization
    from connectors import registry
    from integrations.models import Integration, IntegrationLog
    from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    tokens = sandbox.issue_tokens()
    integration = Integration.objects.create(
        organization=organization, name="Bench sandbox", code=f"bench-sandbox-{int(time.time())}", type="ecommerce",
        provider="sandbox", status="active", api_endpoint=sandbox.url, api_key=DEFAULT_CLIENT_ID,
        api_secret=DEFAULT_CLIENT_SECRET, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
        config={"rate_limit": None},  # measure the pipe, not a client-side limiter
    )
    connector = registry.connector_for(integration)
    seen: set[int] = set()
    pages = 0
    started = time.perf_counter()
    for page in connector.iter_orders():
        seen.update(order["id"] for order in page.items)
        pages += 1
    elapsed = time.perf_counter() - started
    if len(seen) != orders:
        raise SystemExit(f"pulled {len(seen)} distinct orders, expected {orders}")
    return len(seen), pages, elapsed, IntegrationLog.objects.filter(integration=integration).count()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp, args.default_db)
        from sandbox.server import SandboxServer

        bucket = args.rate_limit or 1_000_000
        leak = args.leak_rate if args.rate_limit else 1_000_000.0
        started = time.perf_counter()
        with SandboxServer(port=0, seed=args.seed, orders=args.orders, products=args.products,
                           rate_limit=bucket, leak_rate=leak) as sandbox:
            generated = time.perf_counter() - started
            count, pages, elapsed = bare_pull(sandbox, sandbox.issue_tokens()["access_token"])
            print(f"sandbox_pull: shop of {args.orders:,} orders (seed {args.seed}) ready in {generated:.2f} s")
            print(f"sandbox_pull: bare HTTP   {count:,} orders, {pages} pages in {elapsed:.2f} s "
                  f"= {count / elapsed:,.0f} orders/s")
            count, pages, elapsed, log_rows = connector_pull(sandbox, args.orders)
            stats = sandbox.stats()
        print(f"sandbox_pull: connector   {count:,} orders, {pages} pages in {elapsed:.2f} s "
              f"= {count / elapsed:,.0f} orders/s ({log_rows} IntegrationLog rows, "
              f"{stats.get('throttled', 0)} 429s from the sandbox)")


if __name__ == "__main__":
    main()
