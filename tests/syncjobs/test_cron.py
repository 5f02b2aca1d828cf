"""POST /api/cron/{job}/: bearer secret compared in constant time, 401/404, tasks enqueued by name."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from syncjobs import cron

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, settings):
    settings.CRON_SECRET = "cron-secret-123456"
    calls = []
    monkeypatch.setattr(cron, "_send", lambda name, kwargs: calls.append((name, kwargs)))
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
                             "unavailable": []}
    assert sent == [("syncjobs.tasks.start_resource_syncs", {"job_type": "sync_orders"})]


def test_run_all_reports_tasks_of_apps_not_installed(sent):
    body = post("run-all", "Bearer cron-secret-123456").json()
    assert "syncjobs.tasks.run_due_syncs" in body["enqueued"]
    assert "webhooks.tasks.dispatch_due_deliveries" in body["enqueued"]
    assert set(body["enqueued"]) | set(body["unavailable"]) == {name for name, _ in cron.CRON_JOBS["run-all"]}


def test_every_job_is_routable(sent):
    for job in cron.CRON_JOBS:
        assert post(job, "Bearer cron-secret-123456").status_code in (202, 503)
