"""A key rotation with a process still on the old ring: the command refuses (or, forced, goes on), and that
process answers for the integrations it can no longer read with a JSON envelope, a red health and a list that
still answers — never an HTML 500.

"The process on the old ring" is this test process with ENCRYPTION_KEYS=[old] (the API client and the admin
run in it), while the command runs with the new ring [new, old], as it would on a freshly deployed machine.
The last test runs a real Celery worker on the old ring and sees the command name it.
"""

from __future__ import annotations

import base64
import os
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from integrations import key_ring_reports
from integrations.encryption import DecryptionError, KeyRing, UnreadableSecret, key_id
from integrations.models import Integration, KeyRingReport
from tests.factories import IntegrationFactory, MembershipFactory, UserFactory


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


OLD, NEW = new_key(), new_key()
OLD_ID, NEW_ID = key_id(base64.b64decode(OLD)), key_id(base64.b64decode(NEW))
OLD_RING, NEW_RING = [OLD], [NEW, OLD]


def rotate(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with override_settings(ENCRYPTION_KEYS=NEW_RING):
        call_command("rotate_encryption_keys", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def raw_key_ids(integration: Integration) -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key, access_token FROM integrations_integration WHERE id = %s", [integration.pk])
        return {KeyRing.token_key_id(value) for value in cursor.fetchone() if value}


@pytest.fixture
def shop(org, settings):
    settings.ENCRYPTION_KEYS = OLD_RING
    return IntegrationFactory(organization=org, name="Old ring shop", code="old-ring-shop",
                              api_key="sk_live_old_ring_4242", access_token="tok_old_ring_9999")


@pytest.fixture
def reporting(settings, monkeypatch):
    """Key ring reports on, and this process due to report on its next request."""
    settings.KEY_RING_REPORT_SECONDS = 60
    monkeypatch.setattr(key_ring_reports, "_last_report", 0.0)


@pytest.mark.django_db
def test_rotating_with_a_process_on_the_old_ring(shop, org, settings, reporting, admin_api):
    # The web process on the old ring answers a request, and so reports its ring.
    assert admin_api.get("/api/integrations/").status_code == 200
    assert KeyRingReport.objects.get().key_ids == [OLD_ID]

    # The command, on a machine with the new ring, refuses: that process could not read the values afterwards.
    with pytest.raises(CommandError, match=f"1 running process\\(es\\) do not hold key {NEW_ID} yet"):
        rotate()
    assert raw_key_ids(shop) == {OLD_ID}  # nothing re-encrypted

    out, err = rotate(force=True)
    assert f"holds keys {OLD_ID}, not {NEW_ID}" in err
    assert f"No values left under {OLD_ID}; it can be removed." in out
    assert raw_key_ids(shop) == {NEW_ID}

    # That process, still on the old ring: its detail is the JSON envelope naming the key…
    detail = admin_api.get(f"/api/integrations/{shop.pk}/")
    assert detail.status_code == 503 and detail["Content-Type"] == "application/json"
    error = detail.json()["error"]
    assert error["code"] == "SECRETS_UNREADABLE" and NEW_ID in error["message"]
    assert error["details"]["key_ids"] == [NEW_ID] and error["details"]["ring_key_ids"] == [OLD_ID]
    assert "sk_live_old_ring_4242" not in detail.content.decode()
    # … the list still answers, the row flagged and its health red …
    listed = admin_api.get("/api/integrations/")
    assert listed.status_code == 200
    row = next(r for r in listed.json()["results"] if r["id"] == shop.pk)
    assert {"field": "api_key", "key_id": NEW_ID} in row["unreadable_secrets"]
    assert row["health"]["state"] == "error" and row["health"]["secrets_readable"] is False
    assert "SECRETS_UNREADABLE" in row["health"]["reasons"][0]
    assert row["has_api_key"] is True and row["api_key_masked"] == f"•••• (unreadable: key {NEW_ID})"
    # … and what would use the secrets answers the envelope too, never a provider call.
    for url in (f"/api/integrations/{shop.pk}/test/", f"/api/integrations/{shop.pk}/sync/"):
        answer = admin_api.post(url, {}, format="json")
        assert (answer.status_code, answer.json()["error"]["code"]) == (503, "SECRETS_UNREADABLE"), url

    # Once it holds the new ring, everything reads again.
    settings.ENCRYPTION_KEYS = NEW_RING
    healed = admin_api.get(f"/api/integrations/{shop.pk}/")
    assert healed.status_code == 200 and healed.json()["health"]["secrets_readable"] is True


@pytest.mark.django_db
def test_the_console_of_a_process_on_the_old_ring_opens_and_shows_the_secrets_unreadable(shop, org, settings,
                                                                                           client):
    rotate()
    settings.ENCRYPTION_KEYS = OLD_RING
    boss = UserFactory(is_superuser=True)
    MembershipFactory(organization=org, user=boss, role="owner")
    client.force_login(boss)

    page = client.get(f"/admin/integrations/integration/{shop.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"unreadable: stored under key {NEW_ID}" in html and "sk_live_old_ring_4242" not in html
    assert 'data-health="error"' in html
    listing = client.get("/admin/integrations/integration/")
    assert listing.status_code == 200 and 'data-health="error"' in listing.content.decode()
    dashboard = client.get("/admin/").content.decode()
    assert 'data-code="old-ring-shop" data-health="error"' in dashboard


@pytest.mark.django_db
def test_an_unreadable_value_never_passes_for_a_secret_and_saves_back_unchanged(shop, settings):
    rotate()
    settings.ENCRYPTION_KEYS = OLD_RING
    loaded = Integration.objects.get(pk=shop.pk)
    assert isinstance(loaded.api_key, UnreadableSecret) and loaded.api_key.key_id == NEW_ID
    with pytest.raises(DecryptionError, match=NEW_ID):
        f"Bearer {loaded.access_token}"
    loaded.name = "Renamed on the old ring"
    loaded.save()  # every column written: the unreadable ones as they were
    assert raw_key_ids(shop) == {NEW_ID}
    settings.ENCRYPTION_KEYS = NEW_RING
    assert Integration.objects.get(pk=shop.pk).api_key == "sk_live_old_ring_4242"


@pytest.mark.django_db
def test_a_webhook_it_cannot_verify_is_refused_with_503_so_the_provider_retries(shop, settings, client):
    from webhooks.models import IncomingWebhook

    rotate()
    settings.ENCRYPTION_KEYS = OLD_RING
    answer = client.post(f"/api/webhooks/receive/{shop.route_key}/", b'{"id": 1}', content_type="application/json")
    assert answer.status_code == 503 and answer["Retry-After"] == "30"
    assert answer.json()["error"]["code"] == "SECRETS_UNREADABLE"
    assert not IncomingWebhook.objects.exists()


@pytest.mark.django_db
def test_without_reports_the_command_says_it_cannot_know_and_prints_the_deploy_order(shop):
    out, _ = rotate()
    assert f"Cannot know whether every running process holds key {NEW_ID}" in out
    assert "1. Put the new key first in ENCRYPTION_KEYS" in out and "4. Remove the old key" in out
    assert f"No values left under {OLD_ID}; it can be removed." in out


@pytest.mark.django_db
def test_processes_on_the_new_ring_let_it_run_and_stale_reports_do_not_count(shop):
    KeyRingReport.objects.create(process="web-1:10", role="web", key_ids=[NEW_ID, OLD_ID])
    KeyRingReport.objects.create(process="gone:11", role="worker", key_ids=[OLD_ID],
                                 reported_at=timezone.now() - key_ring_reports.stale_after() * 2)
    out, _ = rotate()
    assert f"Every process that reported in the last 180 s holds key {NEW_ID}: web web-1:10." in out


@pytest.mark.django_db
def test_an_old_key_with_values_left_under_it_is_not_called_removable(shop):
    from django.db import connection

    with connection.cursor() as cursor:  # a value under the old key that fails authentication: it stays
        cursor.execute("SELECT api_key FROM integrations_integration WHERE id = %s", [shop.pk])
        token = cursor.fetchone()[0]
        cursor.execute("UPDATE integrations_integration SET api_key = %s WHERE id = %s",
                       [token[:-6] + ("AAAA==" if not token.endswith("AAAA==") else "BBBB=="), shop.pk])
    out = StringIO()
    with pytest.raises(CommandError, match="could not be re-encrypted"):
        with override_settings(ENCRYPTION_KEYS=NEW_RING):
            call_command("rotate_encryption_keys", stdout=out, stderr=StringIO())
    assert f"1 value(s) are still under {OLD_ID}" in out.getvalue()
    assert "it can be removed" not in out.getvalue()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_on_the_old_ring_is_named_and_the_rotation_refused(transactional_db, tmp_path, settings):
    from tests.e2e.workers import Worker, forget_queue, wait_for

    settings.ENCRYPTION_KEYS = OLD_RING
    shop = IntegrationFactory(api_key="sk_live_worker_ring_1")
    queue = f"key-ring-{uuid.uuid4().hex[:8]}"
    worker = Worker(queue, tmp_path / "worker.log", env={"ENCRYPTION_KEYS": OLD, "KEY_RING_REPORT_SECONDS": "60"})
    try:
        report = wait_for(lambda: KeyRingReport.objects.filter(role="worker").first(), 30,
                          "the worker's key ring report", worker)
        assert report.key_ids == [OLD_ID]
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError, match=f"do not hold key {NEW_ID} yet"):
            with override_settings(ENCRYPTION_KEYS=NEW_RING):
                call_command("rotate_encryption_keys", stdout=out, stderr=err)
        assert f"worker {report.process}" in err.getvalue()
        assert raw_key_ids(shop) == {OLD_ID}
    finally:
        worker.stop()
        forget_queue(queue)
    assert not KeyRingReport.objects.filter(role="worker").exists()  # a worker that stops takes its row along


@pytest.mark.django_db
def test_a_web_process_reports_once_an_interval_even_when_the_report_fails(settings, reporting, monkeypatch,
                                                                             viewer_api):
    tries = []

    def fail(**_):
        tries.append(1)
        raise RuntimeError("database gone")

    monkeypatch.setattr(key_ring_reports, "key_ring_report", fail)
    for _ in range(3):
        assert viewer_api.get("/api/integrations/").status_code == 200  # the request never sees it
    assert tries == [1]
