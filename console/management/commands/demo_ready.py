"""`manage.py demo_ready`: `make run`'s last word — where to sign in, once the processes answer.

Procfile.dev runs it beside web, worker, beat and the sandbox. It waits until
the web server's /ready/ and the sandbox answer, prints the admin URL, user and
password (DEMO_ADMIN_PASSWORD, kept in .env) and how to get a sandbox token,
then stays up doing nothing: honcho stops every process when one exits.
"""

from __future__ import annotations

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand

from connectors import registry
from connectors.base import provider_setting

from .setup_demo import DEMO_USER, admin_url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


class Command(BaseCommand):
    help = "Wait for make run's web server and sandbox, print the admin login and URLs, then idle."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=120, help="Seconds to wait before saying so.")
        parser.add_argument("--once", action="store_true", help="Exit after printing (tests, scripts).")

    def handle(self, *args, timeout: float, once: bool, **options):
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        simulator = registry.get("sandbox")  # the demo shop's connector: its URL setting (SANDBOX_URL)
        sandbox = provider_setting(simulator.key, "URL", simulator.provider_settings["URL"]).rstrip("/")
        deadline = time.monotonic() + timeout
        waiting = [f"{base}/ready/", f"{sandbox}/"]
        while waiting and time.monotonic() < deadline:
            waiting = [url for url in waiting if not _answers(url)]
            if waiting:
                time.sleep(0.5)
        if waiting:
            self.stderr.write(f"Still no answer from {', '.join(waiting)} after {timeout:g} s; see the lines above.")
        password = settings.DEMO_ADMIN_PASSWORD or "(the one setup_demo printed; set DEMO_ADMIN_PASSWORD in .env)"
        self.stdout.write("\n".join([
            "",
            "Switchyard is up.",
            f"  Console   {admin_url()}   user {DEMO_USER}   password {password}   (kept in .env)",
            f"  API docs  {base}/api/docs/",
            f"  Sandbox   {sandbox}/   a token for your own integration: curl -X POST {sandbox}/_sandbox/tokens",
            "Ctrl-C stops everything.",
            "",
        ]))
        self.stdout.flush()
        while not once:
            time.sleep(3600)
