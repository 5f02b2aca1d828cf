"""Token refresh: before an expiring token is used, after a 401, once however many threads ask."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import responses
from django.db import connection, connections
from django.utils import timezone

from connectors import tokens
from connectors.errors import AuthExpired, ProviderError, RefreshFailed
from integrations.models import Integration, IntegrationLog
from tests.connectors import http_fakes
from tests.connectors.http_fakes import (
    BASE,
    TOKEN_URL,
    FakeKeyShopConnector,
    FakeShopConnector,
    make_integration,
    registered,
)

SHOP_URL = f"{BASE}/admin/shop.json"


shop = http_fakes.fake_shops  # the fixture, re-bound (nothing shadows an import)
pytestmark = pytest.mark.usefixtures("sleeps")  # nothing here waits out a backoff


def _token_answer(access="access-token-NEW5555", refresh="refresh-token-NEW6666"):
    return {"access_token": access, "refresh_token": refresh, "expires_in": 3600, "token_type": "Bearer"}


def _bearer(call) -> str:
    return call.request.headers.get("Authorization", "")


@responses.activate
def test_a_token_expiring_within_a_minute_is_refreshed_before_the_call(shop):
    integration = make_integration(expires_at=timezone.now() + timedelta(seconds=30))
    responses.post(TOKEN_URL, json=_token_answer())
    responses.get(SHOP_URL, json={"shop": {}})

    FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert [c.request.url for c in responses.calls] == [TOKEN_URL, SHOP_URL]
    assert parse_qs(responses.calls[0].request.body)["refresh_token"] == ["refresh-token-RRRR2222"]
    assert _bearer(responses.calls[1]) == "Bearer access-token-NEW5555"
    row = Integration.objects.get(pk=integration.pk)
    assert (row.access_token, row.refresh_token) == ("access-token-NEW5555", "refresh-token-NEW6666")
    assert row.expires_at > timezone.now() + timedelta(minutes=59)
    with connection.cursor() as cursor:  # stored encrypted, not in the clear
        cursor.execute("SELECT access_token, refresh_token FROM integrations_integration WHERE id = %s", [row.pk])
        stored = cursor.fetchone()
    assert all(value.startswith("enc1:") and "NEW" not in value for value in stored)


@responses.activate
def test_a_token_with_time_left_is_not_refreshed(shop):
    integration = make_integration(expires_at=timezone.now() + timedelta(minutes=10))
    responses.get(SHOP_URL, json={})

    FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert len(responses.calls) == 1 and _bearer(responses.calls[0]) == "Bearer access-token-AAAA1111"


@responses.activate
def test_a_401_refreshes_once_and_retries_once(shop):
    integration = make_integration()  # no expires_at: only the provider knows
    responses.get(SHOP_URL, status=401, json={"errors": "expired"})
    responses.post(TOKEN_URL, json=_token_answer())
    responses.get(SHOP_URL, json={"shop": {}})

    response = FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert response.status_code == 200
    assert [c.request.url for c in responses.calls] == [SHOP_URL, TOKEN_URL, SHOP_URL]
    assert _bearer(responses.calls[2]) == "Bearer access-token-NEW5555"
    outcomes = list(IntegrationLog.objects.order_by("id").values_list("action", "metadata__outcome"))
    assert outcomes == [("get_shop", "refresh"), ("refresh_token", "ok"), ("get_shop", "ok")]


@responses.activate
def test_a_401_after_the_refresh_is_auth_expired(shop):
    responses.get(SHOP_URL, status=401)
    responses.post(TOKEN_URL, json=_token_answer())

    with pytest.raises(AuthExpired) as caught:
        FakeShopConnector(make_integration()).http.get("/admin/shop.json", action="get_shop")

    assert len(responses.calls) == 3  # call, refresh, one retry: no loop
    assert caught.value.code == "TOKEN_EXPIRED" and caught.value.http_status == 401 and not caught.value.transient


@responses.activate
def test_a_refused_refresh_token_fails_permanently_and_asks_for_reauthorization(shop):
    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=5))
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "refresh token revoked"})

    with pytest.raises(RefreshFailed) as caught:
        FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    error = caught.value
    assert error.code == "REFRESH_FAILED" and not error.transient and error.status_code == 400
    assert "refresh token revoked" in error.message
    row = Integration.objects.get(pk=integration.pk)
    assert row.status == "pending_auth" and "revoked" in row.last_error
    assert row.access_token == "access-token-AAAA1111"
    assert "refresh-token-RRRR2222" not in row.last_error + error.message
    # The failed refresh call's log row survived the refresh's transaction.
    assert IntegrationLog.objects.filter(action="refresh_token", status_code=400).count() == 1


@responses.activate
def test_an_unreachable_token_endpoint_is_a_transient_refresh_failure(shop, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=5))
    responses.post(TOKEN_URL, status=503)

    with pytest.raises(RefreshFailed) as caught:
        FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert caught.value.transient
    assert Integration.objects.get(pk=integration.pk).status == "active"


def test_a_token_host_that_does_not_resolve_keeps_the_status_and_is_transient(shop, monkeypatch):
    from config.errors import UnsafeURL
    from connectors import outbound

    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=5))

    resolved = outbound.resolve
    lookups = []

    def dns_gone_after_the_first_lookup(host):  # the call's own check passes; the token call's does not
        lookups.append(host)
        if len(lookups) > 1:
            raise UnsafeURL(f"Host {host!r} does not resolve.")
        return resolved(host)

    monkeypatch.setattr(outbound, "resolve", dns_gone_after_the_first_lookup)
    with pytest.raises(RefreshFailed) as caught:
        FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert caught.value.transient
    row = Integration.objects.get(pk=integration.pk)
    assert row.status == "active" and "does not resolve" in row.last_error


@responses.activate
def test_a_token_with_seconds_left_is_used_when_the_token_endpoint_is_down(shop, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    integration = make_integration(expires_at=timezone.now() + timedelta(seconds=30))
    responses.post(TOKEN_URL, status=503)
    responses.get(SHOP_URL, json={})

    assert FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop").status_code == 200
    assert _bearer(responses.calls[1]) == "Bearer access-token-AAAA1111"


@responses.activate
def test_a_token_another_worker_already_refreshed_is_used_without_refreshing(shop):
    integration = make_integration(expires_at=timezone.now() - timedelta(minutes=1))
    Integration.objects.filter(pk=integration.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    row = Integration.objects.get(pk=integration.pk)
    row.access_token = "access-token-OTHER7777"
    row.save(update_fields=["access_token"])
    responses.get(SHOP_URL, json={})

    FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert [c.request.url for c in responses.calls] == [SHOP_URL]
    assert _bearer(responses.calls[0]) == "Bearer access-token-OTHER7777"


@responses.activate
def test_an_api_key_401_is_a_plain_provider_error(shop):
    responses.get(SHOP_URL, status=401, json={"errors": "Invalid API key"})

    with pytest.raises(ProviderError) as caught:
        FakeKeyShopConnector(make_integration(FakeKeyShopConnector)).http.get("/admin/shop.json", action="get_shop")

    assert type(caught.value) is ProviderError and caught.value.status_code == 401
    assert len(responses.calls) == 1


# ---------------------------------------------------------------- 20 threads, one refresh
class _TokenServer(ThreadingHTTPServer):
    """A provider on 127.0.0.1: a token endpoint (slow, to widen the race) and one API that checks the token."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.refreshes = 0
        self.api_calls = 0
        self.tokens_seen: set[str] = set()
        self.lock = threading.Lock()
        self.current = "access-token-OLD0000"


class _Handler(BaseHTTPRequestHandler):
    server: _TokenServer

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        threading.Event().wait(0.3)
        with self.server.lock:
            self.server.refreshes += 1
            number = self.server.refreshes
            if form.get("refresh_token") != ["refresh-token-RRRR2222"]:
                return self._answer(400, {"error": "invalid_grant"})
            self.server.current = f"access-token-NEW{number:04d}"
        self._answer(200, _token_answer(access=self.server.current, refresh="refresh-token-RRRR2222"))

    def do_GET(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        with self.server.lock:
            self.server.api_calls += 1
            self.server.tokens_seen.add(token)
            valid = token == self.server.current and token != "access-token-OLD0000"
        self._answer(200 if valid else 401, {"shop": {"name": "x"}} if valid else {"errors": "expired"})


@pytest.fixture
def token_server():
    server = _TokenServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _twenty_threads_call(integration_id: int) -> list[object]:
    results: list[object] = [None] * 20
    barrier = threading.Barrier(20)

    def work(index: int) -> None:
        try:
            integration = Integration.objects.get(pk=integration_id)
            connector = FakeShopConnector(integration)
            barrier.wait(timeout=10)
            results[index] = connector.http.get("/admin/shop.json", action="get_shop").status_code
        except Exception as exc:  # reported in the assertion below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("expiry", ["expired", "only_the_provider_knows"])
def test_twenty_threads_with_an_expired_token_refresh_exactly_once(token_server, settings, expiry):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    expires_at = timezone.now() - timedelta(minutes=5) if expiry == "expired" else None
    integration = make_integration(
        api_endpoint=f"http://127.0.0.1:{token_server.server_port}",
        access_token="access-token-OLD0000",
        expires_at=expires_at,
    )
    with registered(FakeShopConnector):
        results = _twenty_threads_call(integration.pk)

    assert results == [200] * 20
    assert token_server.refreshes == 1
    row = Integration.objects.get(pk=integration.pk)
    assert row.access_token == "access-token-NEW0001" and row.expires_at > timezone.now()
    assert IntegrationLog.objects.filter(action="refresh_token").count() == 1
    assert IntegrationLog.objects.filter(action="get_shop", status_code=200).count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_row_lock_alone_makes_separate_workers_refresh_once(token_server, settings, monkeypatch):
    """Each thread gets its own process lock, as if it were a worker on another machine: only the row lock is shared."""
    monkeypatch.setattr(tokens, "_process_lock", lambda integration_id: threading.RLock())
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    integration = make_integration(
        api_endpoint=f"http://127.0.0.1:{token_server.server_port}",
        access_token="access-token-OLD0000",
        expires_at=timezone.now() - timedelta(minutes=5),
    )
    with registered(FakeShopConnector):
        results = _twenty_threads_call(integration.pk)

    assert results == [200] * 20
    assert token_server.refreshes == 1


@responses.activate
def test_an_integration_given_only_a_refresh_token_refreshes_before_its_first_call(shop):
    integration = make_integration(expires_at=None)
    Integration.objects.filter(pk=integration.pk).update(access_token="")
    integration.refresh_from_db()
    responses.post(TOKEN_URL, json=_token_answer())
    responses.get(SHOP_URL, json={"shop": {}})

    FakeShopConnector(integration).http.get("/admin/shop.json", action="get_shop")

    assert [c.request.url for c in responses.calls] == [TOKEN_URL, SHOP_URL]
    assert _bearer(responses.calls[1]) == "Bearer access-token-NEW5555"
    assert not IntegrationLog.objects.filter(status_code=401).exists()
