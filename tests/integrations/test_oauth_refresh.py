"""Refresh: the manual endpoint, what the beat task picks, its backoff, and one provider call however many race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from connectors import http, registry, tokens
from connectors.errors import RefreshFailed
from integrations import tasks
from integrations.models import Integration
from integrations.oauth.refresh import refresh_due
from sandbox.server import SandboxServer
from tests.connectors.http_fakes import FakeKeyShopConnector
from tests.factories import ApiKeyFactory, IntegrationFactory, IntegrationLogFactory
from tests.integrations.oauth_fakes import published, subscribe_all

CLIENT_ID, CLIENT_SECRET = "rf-client-id-1111", "rf-client-secret-2222"


@pytest.fixture(autouse=True)
def quiet(monkeypatch, settings):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    cache.clear()


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, seed=5, orders=10, products=3, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                       rate_limit=1000, leak_rate=1000) as server:
        yield server


def _connected(org, sandbox, **fields) -> Integration:
    issued = sandbox.issue_tokens()
    defaults = {"organization": org, "provider": "sandbox", "api_endpoint": sandbox.url, "api_key": CLIENT_ID,
                "api_secret": CLIENT_SECRET, "access_token": issued["access_token"],
                "refresh_token": issued["refresh_token"], "expires_at": timezone.now() + timedelta(hours=1)}
    return IntegrationFactory(**{**defaults, **fields})


# ---------------------------------------------------------------- the endpoint
@pytest.mark.django_db
def test_an_operator_refreshes_now(org, sandbox, api_client_for):
    integration = _connected(org, sandbox)

    answer = api_client_for(org, "operator").post(f"/api/integrations/{integration.pk}/refresh/")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["refreshed"] is True and answer.json()["integration"]["id"] == integration.pk
    assert "access_token" not in answer.json()["integration"]  # masked, never the value
    row = Integration.objects.get(pk=integration.pk)
    assert row.access_token != integration.access_token and row.refresh_token != integration.refresh_token
    assert sandbox.stats()["refresh_grants"] == 1


@pytest.mark.django_db
def test_a_second_refresh_right_after_the_first_is_that_one(org, sandbox, admin_api):
    integration = _connected(org, sandbox)
    first = admin_api.post(f"/api/integrations/{integration.pk}/refresh/").json()
    second = admin_api.post(f"/api/integrations/{integration.pk}/refresh/").json()
    assert (first["refreshed"], second["refreshed"]) == (True, False)
    assert sandbox.stats()["refresh_grants"] == 1


@pytest.mark.django_db
def test_a_viewer_cannot_refresh_and_another_organization_is_not_found(org, other_org, sandbox, api_client_for):
    integration = _connected(org, sandbox)
    assert api_client_for(org, "viewer").post(f"/api/integrations/{integration.pk}/refresh/").status_code == 403
    answer = api_client_for(other_org, "admin").post(f"/api/integrations/{integration.pk}/refresh/")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert api_client_for(org, "admin").post("/api/integrations/nope/refresh/").status_code == 404
    assert sandbox.stats().get("refresh_grants", 0) == 0


@pytest.mark.django_db
def test_refresh_without_a_refresh_token_or_support_is_refused(org, admin_api):
    bare = IntegrationFactory(organization=org, provider="sandbox", access_token="x" * 10)
    answer = admin_api.post(f"/api/integrations/{bare.pk}/refresh/")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    registry.register(FakeKeyShopConnector)
    try:
        keyed = IntegrationFactory(organization=org, provider="fake-key-shop", refresh_token="r" * 10)
        answer = admin_api.post(f"/api/integrations/{keyed.pk}/refresh/")
    finally:
        registry.unregister("fake-key-shop")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"
    assert admin_api.post(f"/api/integrations/{bare.pk}/refresh/", {"x": 1}, format="json").status_code == 400


@pytest.mark.django_db
def test_a_rejected_refresh_token_needs_a_reconnect_and_publishes_integration_error(org, sandbox, admin_api):
    subscribe_all(org)
    integration = _connected(org, sandbox, refresh_token="shprt_revoked000000")

    answer = admin_api.post(f"/api/integrations/{integration.pk}/refresh/")

    assert answer.json()["error"]["code"] == "REFRESH_FAILED"
    assert "shprt_revoked000000" not in str(answer.json())
    row = Integration.objects.get(pk=integration.pk)
    assert row.status == "pending_auth" and row.access_token == integration.access_token
    [event] = published(org, "integration.error")
    assert event["code"] == "REFRESH_FAILED" and event["status"] == "pending_auth" and not event["transient"]
    assert event["integration"]["id"] == integration.pk
    assert refresh_due().filter(pk=integration.pk).count() == 0  # not retried until a reconnect


# ---------------------------------------------------------------- what the beat picks
@pytest.mark.django_db
def test_the_beat_picks_tokens_expiring_within_the_window_or_not_refreshed_for_a_day(org, settings):
    now = timezone.now()
    made = lambda **f: IntegrationFactory(organization=org, provider="sandbox", access_token="a" * 8,  # noqa: E731
                                          refresh_token="r" * 8, **f)
    expiring = made(expires_at=now + timedelta(minutes=14))
    expired = made(expires_at=now - timedelta(minutes=5))
    fresh = made(expires_at=now + timedelta(minutes=16))
    IntegrationLogFactory(integration=fresh, action="refresh_token", status_code=200)
    stale = made(expires_at=now + timedelta(days=30))
    Integration.objects.filter(pk=stale.pk).update(created_at=now - timedelta(days=2))
    IntegrationLogFactory(integration=stale, action="refresh_token", status_code=200,
                          created_at=now - timedelta(hours=25))
    never_expiring_new = made(expires_at=None)  # connected just now: its exchange counts as fresh
    made(expires_at=now, status="pending_auth")
    made(expires_at=now, status="inactive")
    IntegrationFactory(organization=org, provider="sandbox", access_token="a" * 8, expires_at=now)  # no refresh token

    assert set(refresh_due().values_list("pk", flat=True)) == {expiring.pk, expired.pk, stale.pk}
    assert never_expiring_new.pk not in refresh_due().values_list("pk", flat=True)
    settings.OAUTH_REFRESH_WINDOW_MINUTES = 20
    assert fresh.pk in refresh_due().values_list("pk", flat=True)


@pytest.mark.django_db
def test_the_beat_task_queues_each_due_integration_once(org, sandbox, monkeypatch):
    due = _connected(org, sandbox, expires_at=timezone.now() + timedelta(minutes=5))
    _connected(org, sandbox)
    queued: list[int] = []
    monkeypatch.setattr(tasks.refresh_integration_token, "delay", queued.append)

    assert tasks.refresh_expiring_tokens() == 1
    assert tasks.refresh_expiring_tokens() == 0  # still queued: no second task
    assert queued == [due.pk]

    assert tasks.refresh_integration_token.apply(args=[due.pk]).get() is True
    assert tasks.refresh_integration_token.apply(args=[due.pk]).get() is False  # idempotent: no longer due
    assert sandbox.stats()["refresh_grants"] == 1
    assert tasks.refresh_expiring_tokens() == 0


@pytest.mark.django_db
def test_transient_failures_back_off_then_set_error_and_publish(org, sandbox, settings, monkeypatch):
    settings.PROVIDER_MAX_RETRIES = 0
    subscribe_all(org)
    integration = _connected(org, sandbox, expires_at=timezone.now() + timedelta(minutes=5),
                             api_endpoint="http://127.0.0.1:9")  # nothing listens: connection refused
    countdowns: list[float] = []

    def fake_retry(*, exc, countdown):
        countdowns.append(countdown)
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(tasks.refresh_integration_token, "retry", fake_retry)
    for attempt in range(tasks.REFRESH_MAX_RETRIES):
        tasks.refresh_integration_token.push_request(retries=attempt)
        try:
            with pytest.raises(RuntimeError):
                tasks.refresh_integration_token.run(integration.pk)
        finally:
            tasks.refresh_integration_token.pop_request()
        assert Integration.objects.get(pk=integration.pk).status == "active"  # backing off, not failed yet
    tasks.refresh_integration_token.push_request(retries=tasks.REFRESH_MAX_RETRIES)
    try:
        assert tasks.refresh_integration_token.run(integration.pk) is False
    finally:
        tasks.refresh_integration_token.pop_request()

    bases = [60 * 2**n for n in range(tasks.REFRESH_MAX_RETRIES)]  # 1, 2, 4, 8, 16 minutes, up to 25% jitter
    assert all(base <= c <= base * 1.25 for base, c in zip(bases, countdowns, strict=True)), countdowns
    row = Integration.objects.get(pk=integration.pk)
    assert row.status == "error" and row.last_error.startswith("REFRESH_FAILED: ")
    [event] = published(org, "integration.error")
    assert event["code"] == "REFRESH_FAILED" and event["status"] == "error" and event["transient"]

    # The provider is back: the next refresh puts the integration back to active.
    Integration.objects.filter(pk=row.pk).update(api_endpoint=sandbox.url)
    assert tasks.refresh_integration_token.apply(args=[row.pk]).get() is True
    row = Integration.objects.get(pk=row.pk)
    assert row.status == "active" and row.last_error == ""


# ---------------------------------------------------------------- the race
def _race(integration_id: int, api_key: str, monkeypatch) -> list[object]:
    """A manual refresh, the beat task and a connector call, released together.

    They also meet again at the door of the locked refresh: each has read the
    expired token and decided to refresh before any of them goes in, so what
    keeps it to one provider call is the lock, not who happened to be first.
    """
    barrier = threading.Barrier(3)
    at_the_lock = threading.Barrier(3)
    locked_refresh = tokens.refresh_token

    def meet_then_refresh(*args, **kwargs):
        at_the_lock.wait(timeout=30)
        return locked_refresh(*args, **kwargs)

    monkeypatch.setattr(tokens, "refresh_token", meet_then_refresh)
    results: list[object] = [None, None, None]

    def manual():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        barrier.wait(timeout=60)
        return client.post(f"/api/integrations/{integration_id}/refresh/").status_code

    def beat():
        barrier.wait(timeout=60)
        return tasks.refresh_expiring_tokens()

    def sync():
        connector = registry.connector_for(Integration.objects.get(pk=integration_id))
        barrier.wait(timeout=60)
        return len(next(connector.iter_orders()).items)

    def run(index, work):
        try:
            results[index] = work()
        except Exception as exc:  # reported by the assertion
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate((manual, beat, sync))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locks", ["process_and_row", "row_only"])
def test_a_manual_refresh_the_beat_task_and_a_sync_racing_make_one_provider_call(org, sandbox, monkeypatch, locks):
    if locks == "row_only":
        if connections["default"].vendor != "postgresql":
            pytest.skip("needs PostgreSQL: the row lock is what separate workers share")
        monkeypatch.setattr(tokens, "_process_lock", lambda integration_id: threading.RLock())
    # The beat's per-integration task runs in the beat's thread, as a worker would run it.
    monkeypatch.setattr(tasks.refresh_integration_token, "delay",
                        lambda integration_id: tasks.refresh_integration_token.apply(args=[integration_id]))
    _, raw_key = ApiKeyFactory.create_with_raw(organization=org, role="operator")
    integration = _connected(org, sandbox, expires_at=timezone.now() - timedelta(minutes=1))
    sandbox.expire_tokens()

    results = _race(integration.pk, raw_key, monkeypatch)

    assert results[0] == 200 and results[2] == 10, results
    assert results[1] in (0, 1), results  # the beat queued it, or found it refreshed already
    assert sandbox.stats()["refresh_grants"] == 1
    row = Integration.objects.get(pk=integration.pk)
    assert row.access_token != integration.access_token and row.expires_at > timezone.now()


def test_refresh_failed_is_transient_only_for_provider_outages():
    assert RefreshFailed(transient=True).transient and not RefreshFailed(transient=False).transient
