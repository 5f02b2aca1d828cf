"""With PostgreSQL unreachable, every API route answers JSON 503 SERVICE_UNAVAILABLE with Retry-After.

A real server process (gunicorn, as the Procfile runs it, DEBUG=false) is started with
DATABASE_URL pointing at a port nothing listens on, so the failure travels the
real stack: psycopg's connect, Django's connection handling, DRF, middleware.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

ROUTES = [
    ("GET", "/api/integrations/"),
    ("POST", "/api/integrations/"),
    ("GET", "/api/integrations/1/"),
    ("GET", "/api/orders/"),
    ("GET", "/api/sync-jobs/"),
    ("GET", "/api/webhooks/"),
    ("GET", "/api/webhook-endpoints/"),
    ("GET", "/api/webhook-deliveries/"),
    ("GET", "/api/integration-logs/"),
    ("GET", "/api/providers/"),
    ("POST", "/api/tax/validate/"),
    ("GET", "/api/integrations/oauth/callback/sandbox/?state=abc&code=x"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    closed = _free_port()  # bound and released: nothing listens there
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path_factory.mktemp("home")),
        "DEBUG": "false",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/gone",
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "SECRET_KEY": "s" * 50,
        "ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--timeout", "30"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready when it answers; a fixed 20 s of tries was too short for gunicorn to import Django on a loaded
        # machine. The bound is for a server that never comes up, and it fails at once if the process died.
        deadline = time.monotonic() + 180
        while True:
            try:
                requests.get(f"{base}/health/", timeout=10)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start (exit status {process.poll()})")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)  # 10 s was not always enough for gunicorn's graceful stop under load
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_api_route_answers_json_503_with_retry_after(server_without_database, method, path):
    # A refused connection is not waited on: a request that hung on the database fails on this timeout.
    response = requests.request(method, server_without_database + path, json={},
                                headers={"Authorization": "Api-Key sy_anything"}, timeout=30)
    assert response.status_code == 503, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0


def test_liveness_still_answers_and_readiness_says_why(server_without_database):
    assert requests.get(server_without_database + "/health/", timeout=30).status_code == 200
    ready = requests.get(server_without_database + "/ready/", timeout=30)
    assert ready.status_code == 503 and ready.headers["Content-Type"].startswith("application/json")
