"""`manage.py run_sandbox`: serve the sandbox shop (a Shopify-like simulator) until Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from sandbox.data import recent_orders_until
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer


class Command(BaseCommand):
    help = "Run the sandbox shop simulator (Shopify Admin API shapes: REST, GraphQL products) on a local port."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same shop.")
        parser.add_argument("--orders", type=int, default=1000)
        parser.add_argument("--products", type=int, default=200)
        parser.add_argument("--locations", type=int, default=2)
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
        parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
        parser.add_argument("--token-ttl", type=int, default=3600, help="Access token lifetime in seconds; 0: never.")
        parser.add_argument("--rate-limit", type=int, default=40, help="Leaky bucket size (calls).")
        parser.add_argument("--leak-rate", type=float, default=2.0, help="Calls leaked per second.")
        parser.add_argument("--webhook-url", default=None, help="Where signed webhooks go when data changes.")
        parser.add_argument("--webhook-secret", default=None, help="Webhook HMAC secret (default: the client secret).")
        parser.add_argument("--mutate-every", type=float, default=0,
                            help="Touch --mutate-count orders every this many seconds (0: only on request).")
        parser.add_argument("--mutate-count", type=int, default=3)
        parser.add_argument("--seed-refresh-token", default=None,
                            help="Accept this refresh token once (how `make run`'s demo integration connects).")
        parser.add_argument("--seed-meta-token", default=None,
                            help="Accept this long-lived token on the ad platform side (make run's demo ad account).")
        parser.add_argument("--meta-throttle-every", type=int, default=0,
                            help="Answer every n-th ad platform call with Meta's throttle error 80004 (0: never).")
        parser.add_argument("--recent-orders", action="store_true",
                            help="Date the orders in the weeks before this one (a demo's analyses need recent "
                                 "sales), instead of early 2023; the shop moves on once a week.")
        parser.add_argument("--token-file", default=None,
                            help="Keep the tokens it issues in this file, so a restart still accepts them "
                                 "(default VAR_DIR/sandbox-tokens.json; '' keeps them in memory only).")

    def handle(self, *args, **opts):
        started = time.monotonic()
        sandbox = SandboxServer(
            host=opts["host"], port=opts["port"], seed=opts["seed"], orders=opts["orders"],
            products=opts["products"], locations=opts["locations"], currency=opts["currency"],
            client_id=opts["client_id"], client_secret=opts["client_secret"], token_ttl=opts["token_ttl"],
            rate_limit=opts["rate_limit"], leak_rate=opts["leak_rate"],
            webhook_url=opts["webhook_url"], webhook_secret=opts["webhook_secret"],
            token_file=(Path(settings.VAR_DIR) / "sandbox-tokens.json" if opts["token_file"] is None
                        else opts["token_file"] or None),
            meta_throttle_every=opts["meta_throttle_every"],
            orders_until=recent_orders_until() if opts["recent_orders"] else None,
        )
        if opts["seed_meta_token"]:
            sandbox.meta.tokens[opts["seed_meta_token"]] = "long"
        if opts["seed_refresh_token"]:
            sandbox.oauth.seed_refresh_token(opts["seed_refresh_token"])
        self.stdout.write(
            f"Sandbox shop {sandbox.data.domain} on {sandbox.url} "
            f"({opts['orders']} orders, {opts['products']} products, seed {opts['seed']}; "
            f"generated in {time.monotonic() - started:.2f}s). Client id {opts['client_id']!r}. Ctrl-C stops it."
        )
        if opts["webhook_url"]:
            self.stdout.write(f"Webhooks go to {opts['webhook_url']}.")
        if sandbox.oauth.token_file:
            self.stdout.write(f"Tokens are kept in {sandbox.oauth.token_file}; get one with "
                              f"curl -X POST {sandbox.url}/_sandbox/tokens")
        if opts["mutate_every"] > 0:
            sandbox.start()
            try:
                while True:
                    time.sleep(opts["mutate_every"])
                    ids = sandbox.touch_orders(opts["mutate_count"])
                    self.stdout.write(f"touched orders {ids}")
            except KeyboardInterrupt:
                pass
            finally:
                sandbox.stop()
            return
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Sandbox stopped.")
