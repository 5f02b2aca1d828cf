"""Why a pending job waits ("queued behind N"), in the API and on the job page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from syncjobs import services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from syncjobs.selectors import sync_job_wait
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def _start(organization, job_type=JobType.SYNC_ORDERS, **fields):
    integration = IntegrationFactory(organization=organization, provider="fakeshop")
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=job_type)
    if fields:
        SyncJob.objects.filter(pk=job.pk).update(**fields)
    return SyncJob.objects.get(pk=job.pk)


def test_a_queued_job_says_how_many_are_ahead_of_it_in_every_organization(org, shop, settings):
    settings.SYNC_TASK_QUEUE = "sync"
    now = timezone.now()
    elsewhere = OrganizationFactory()
    _start(elsewhere, nudged_at=now - timedelta(seconds=30))  # ahead, another organization's
    _start(org, nudged_at=now - timedelta(seconds=20))  # ahead
    _start(org, nudged_at=now - timedelta(seconds=40), heartbeat_at=now + timedelta(minutes=1))  # deferred: not in line
    running = _start(org, nudged_at=now - timedelta(seconds=50))
    services.sync_job_claim(job_id=running.pk)
    mine = _start(org, nudged_at=now - timedelta(seconds=10))
    _start(org, nudged_at=now - timedelta(seconds=5))  # behind it

    wait = sync_job_wait(mine)
    assert (wait.reason, wait.jobs_ahead, wait.jobs_running, wait.queue) == ("queued", 2, 1, "sync")
    assert wait.message == "Queued behind 2 jobs on the 'sync' queue; 1 running."
    running.refresh_from_db()
    assert sync_job_wait(running) is None  # it runs: it does not wait


def test_first_in_line_with_nothing_running_hints_at_a_missing_worker(org, shop):
    now = timezone.now()
    job = _start(org, nudged_at=now - timedelta(seconds=2))
    assert sync_job_wait(job).message == "Next in line on the 'sync' queue; 0 running."
    job = _start(org, job_type=JobType.SYNC_PRODUCTS, nudged_at=now - timedelta(minutes=2))
    assert "is a worker consuming the 'sync' queue?" in sync_job_wait(job).message


def test_a_deferred_job_says_when_it_retries_and_an_unsent_one_says_so(org, shop):
    retry_at = timezone.now() + timedelta(seconds=90)
    deferred = _start(org, heartbeat_at=retry_at, metadata={"retries": 1, "last_retry_error": "PROVIDER_ERROR: 503"})
    wait = sync_job_wait(deferred)
    assert (wait.reason, wait.retry_at) == ("retry_scheduled", retry_at)
    assert wait.message.startswith("Retrying at ") and wait.message.endswith("PROVIDER_ERROR: 503")
    unsent = _start(org, job_type=JobType.SYNC_PRODUCTS, nudged_at=None)
    assert sync_job_wait(unsent).reason == "not_sent"


def test_the_api_shows_why_a_job_waits_and_null_once_it_runs(operator_api, integration, enqueued):
    body = operator_api.post(f"/api/integrations/{integration.pk}/sync/", {"job_type": "sync_orders"},
                             format="json").json()
    assert body["waiting"]["reason"] == "queued" and body["waiting"]["jobs_ahead"] == 0
    assert body["waiting"]["message"].startswith("Next in line on the 'sync' queue")
    services.sync_job_claim(job_id=body["id"])
    assert operator_api.get(f"/api/sync-jobs/{body['id']}/").json()["waiting"] is None
    SyncJob.objects.filter(pk=body["id"]).update(status=JobStatus.COMPLETED)
    listed = operator_api.get("/api/sync-jobs/").json()
    assert listed["results"][0]["waiting"] is None


def test_the_schema_documents_waiting(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    job = schema["components"]["schemas"]["SyncJob"]["properties"]["waiting"]
    assert "pending job" in job["description"]
    wait = schema["components"]["schemas"]["SyncJobWait"]["properties"]
    assert {"reason", "message", "queue", "jobs_ahead", "jobs_running", "retry_at"} <= set(wait)


def test_the_job_page_says_why_it_waits_and_its_progress_keeps_saying_it(org, shop, integration):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import MembershipFactory

    client = Client()
    client.force_login(MembershipFactory(organization=org, role="viewer").user)
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    page = client.get(reverse("admin:syncjobs_syncjob_change", args=[job.pk])).content.decode()
    assert "<dd data-field=\"waiting\">Next in line on the &#x27;sync&#x27; queue; 0 running.</dd>" in page
    progress = client.get(reverse("admin:switchyard_syncjob_progress", args=[job.pk])).json()
    assert progress["waiting"] == "Next in line on the 'sync' queue; 0 running."
    services.sync_job_claim(job_id=job.pk)
    assert client.get(reverse("admin:switchyard_syncjob_progress", args=[job.pk])).json()["waiting"] == ""
