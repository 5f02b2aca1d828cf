"""POST /api/cron/{job}/: bearer secret compared in constant time, 401/404, tasks enqueued by name."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from syncjobs import cron
from syncjobs.cron import PERIODIC_JOBS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, settings):
    settings.CRON_SECRET = "cron-secret-123456"
    calls = []
    monkeypatch.setattr(cron, "_send", lambda name, kwargs, *_: calls.append((name, kwargs)))
    return calls


def post(job: str, header: str | None):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client.post(f"/api/cron/{job}/")


@pytest.mark.parametrize("header", [None, "Bearer wrong", "cron-secret-123456", "Basic cron-secret-123456",
                                    "Bearer ", "Api-Key cron-secret-123456"])
def test_without_the_secret_it_is_401(sent, header):
    answer = post("purge-logs", header)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "NOT_AUTHENTICATED"
    assert sent == []


def test_an_unset_secret_disables_the_endpoint(sent, settings):
    settings.CRON_SECRET = ""
    assert post("purge-logs", "Bearer ").status_code == 401
    assert post("purge-logs", "Bearer x").status_code == 401


def test_an_unknown_job_is_404_but_only_once_authorized(sent):
    assert post("mine-bitcoin", None).status_code == 401
    answer = post("mine-bitcoin", "Bearer cron-secret-123456")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


def test_a_job_enqueues_its_tasks(sent):
    answer = post("sync-orders", "Bearer cron-secret-123456")
    assert answer.status_code == 202
    assert answer.json() == {"job": "sync-orders", "enqueued": ["syncjobs.tasks.start_resource_syncs"],
                             "unavailable": [], "not_due": [], "unscheduled": []}
    assert sent == [("syncjobs.tasks.start_resource_syncs", {"job_type": "sync_orders"})]


def test_run_all_enqueues_everything_beat_would_run_then_only_what_is_due(sent):
    body = post("run-all", "Bearer cron-secret-123456").json()
    assert body["unavailable"] == body["not_due"] == body["unscheduled"] == []
    assert body["enqueued"] == [job.task for job in PERIODIC_JOBS]

    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        again = post("run-all", "Bearer cron-secret-123456").json()
    assert again["enqueued"] == [job.task for job in PERIODIC_JOBS if job.every <= 60]
    assert set(again["not_due"]) == {job.task for job in PERIODIC_JOBS if job.every > 60}


def test_run_all_follows_the_admins_schedule(sent):
    PeriodicTask.objects.filter(task="integrations.tasks.purge_oauth_states").update(enabled=False)
    refresh = PeriodicTask.objects.get(task="integrations.tasks.refresh_expiring_tokens")
    refresh.kwargs = '{"note": "set in the admin"}'
    refresh.save()

    body = post("run-all", "Bearer cron-secret-123456").json()

    assert body["unscheduled"] == ["integrations.tasks.purge_oauth_states"]
    assert ("integrations.tasks.refresh_expiring_tokens", {"note": "set in the admin"}) in sent
    assert PeriodicTask.objects.get(pk=refresh.pk).last_run_at is not None


def test_a_job_run_on_its_own_counts_for_run_all(sent):
    post("sweep-pushes", "Bearer cron-secret-123456")
    body = post("run-all", "Bearer cron-secret-123456").json()
    assert "commerce.tasks.sweep_pending_pushes" in body["not_due"]


def test_a_job_whose_tasks_are_missing_is_503(sent, monkeypatch):
    monkeypatch.setitem(cron.CRON_JOBS, "refresh-tokens", [("nowhere.tasks.nothing", {})])
    answer = post("refresh-tokens", "Bearer cron-secret-123456")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "CRON_JOB_UNAVAILABLE"
    assert sent == []


def test_every_job_is_routable_and_its_tasks_exist(sent):
    for job in cron.CRON_JOBS:
        answer = post(job, "Bearer cron-secret-123456")
        assert answer.status_code == 202 and answer.json()["unavailable"] == [], (job, answer.json())


def test_a_cron_call_enqueues_with_the_expiry_beat_would_give(monkeypatch):
    from config.celery import app

    app.loader.import_default_modules()
    task = "webhooks.tasks.dispatch_due_deliveries"
    options = []
    monkeypatch.setattr(app.tasks[task], "apply_async", lambda args=None, kwargs=None, **o: options.append(o))
    row = PeriodicTask.objects.get(task=task)
    cron._send(task, {}, row)
    row.expire_seconds = 120
    cron._send(task, {}, row)
    assert options == [{"expires": 60}, {"expires": 120}]
