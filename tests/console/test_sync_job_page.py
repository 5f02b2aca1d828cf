"""A sync job's page: progress that refreshes itself (a JSON endpoint), and Cancel for operators."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(shop_integration):
    return SyncJob.objects.create(
        integration=shop_integration, organization=shop_integration.organization, job_type=JobType.SYNC_ORDERS,
        trigger=Trigger.MANUAL, status=JobStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=10),
        records_processed=500, records_created=480, records_updated=15, records_failed=5, pages_processed=2,
    )


def progress_url(job):
    return reverse("admin:switchyard_syncjob_progress", args=[job.pk])


def test_progress_reports_counts_pages_and_rate(org, staff, running):
    # A stopped clock: the rate is records over the seconds the job has run, exact whatever the machine's load.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        SyncJob.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(seconds=10))
        answer = staff(org, "viewer").get(progress_url(running))
        assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
        job = answer.json()
        assert (job["status"], job["finished"], job["records_processed"], job["pages_processed"]) == (
            "running", False, 500, 2)
        assert (job["records_created"], job["records_updated"], job["records_failed"]) == (480, 15, 5)
        assert (job["records_per_second"], job["duration_seconds"]) == (50.0, 10.0)

        clock.shift(timedelta(seconds=10))  # a running job that processed nothing more slows down
        assert staff(org, "viewer").get(progress_url(running)).json()["records_per_second"] == 25.0

        running.refresh_from_db()
        running.status, running.completed_at = JobStatus.COMPLETED, timezone.now()
        running.save()
        clock.shift(timedelta(hours=1))  # a finished job's rate is over its run, not until now
        job = staff(org, "viewer").get(progress_url(running)).json()
    assert (job["finished"], job["records_per_second"], job["duration_seconds"]) == (True, 25.0, 20.0)


def test_progress_of_another_organizations_job_is_not_found(org, staff, running):
    stranger = staff(OrganizationFactory(), "owner")
    assert stranger.get(progress_url(running)).status_code == 404
    assert stranger.post(reverse("admin:switchyard_syncjob_cancel", args=[running.pk])).status_code == 404


def test_the_page_refreshes_itself_and_offers_cancel_to_operators_only(org, staff, running):
    page = staff(org, "operator").get(reverse("admin:syncjobs_syncjob_change", args=[running.pk])).content.decode()
    assert f'data-progress-url="{progress_url(running)}"' in page and 'data-finished="false"' in page
    assert 'id="cancel-job"' in page and "/static/switchyard/console.js" in page
    assert '<dd data-field="records_processed">500</dd>' in page

    page = staff(org, "viewer").get(reverse("admin:syncjobs_syncjob_change", args=[running.pk])).content.decode()
    assert 'data-progress-url' in page and 'id="cancel-job"' not in page


def test_cancel_asks_a_running_job_to_stop_and_is_audited(org, staff, running):
    operator = staff(org, "operator")
    response = operator.post(reverse("admin:switchyard_syncjob_cancel", args=[running.pk]))
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.cancel_requested and running.status == JobStatus.RUNNING  # stops after its current page
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.target_id) == ("sync.cancelled", operator.user, str(running.pk))

    assert staff(org, "viewer").post(reverse("admin:switchyard_syncjob_cancel", args=[running.pk])).status_code == 403
    assert operator.get(reverse("admin:switchyard_syncjob_cancel", args=[running.pk])).status_code == 405


def test_a_finished_job_is_not_cancelled(org, staff, shop_integration):
    done = SyncJob.objects.create(integration=shop_integration, organization=org, job_type=JobType.SYNC_ORDERS,
                                  trigger=Trigger.MANUAL, status=JobStatus.COMPLETED, completed_at=timezone.now())
    response = staff(org, "operator").post(reverse("admin:switchyard_syncjob_cancel", args=[done.pk]), follow=True)
    assert "already completed" in response.content.decode()
    done.refresh_from_db()
    assert done.status == JobStatus.COMPLETED and not AuditEvent.objects.exists()
    IntegrationFactory(organization=org)  # unrelated rows do not matter
