"""The SyncJob admin: progress on the page, cancel and resume actions for operators, scoped to the organization."""

from __future__ import annotations

import pytest
from django.test import Client

from syncjobs import services
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def staff(org, role) -> Client:
    membership = MembershipFactory(organization=org, role=role)
    client = Client()
    client.force_login(membership.user)
    return client


def test_an_operator_sees_progress_and_cancels(org, integration, shop, writer):
    shop.add_orders(12, bad={3})
    done = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    services.sync_job_run(job_id=done.pk, writers=writer.writers())
    pending = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    client = staff(org, "operator")

    page = client.get(f"/admin/syncjobs/syncjob/{done.pk}/change/").content.decode()
    assert "12 records, 2 pages: 11 new" in page and "1003" in page and "has no currency" in page
    assert client.get("/admin/syncjobs/syncjob/").status_code == 200

    client.post("/admin/syncjobs/syncjob/", {"action": "cancel", "_selected_action": [pending.pk, done.pk]})
    assert SyncJob.objects.get(pk=pending.pk).status == JobStatus.CANCELLED
    assert SyncJob.objects.get(pk=done.pk).status == JobStatus.COMPLETED

    client.post("/admin/syncjobs/syncjob/", {"action": "resume", "_selected_action": [pending.pk]})
    assert SyncJob.objects.get(pk=pending.pk).status == JobStatus.PENDING


def test_a_viewer_cannot_act_and_another_org_sees_nothing(org, other_org, integration):
    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    viewer = staff(org, "viewer")
    viewer.post("/admin/syncjobs/syncjob/", {"action": "cancel", "_selected_action": [job.pk]})
    assert SyncJob.objects.get(pk=job.pk).status == JobStatus.PENDING

    IntegrationFactory(organization=other_org, provider="fakeshop")
    stranger = staff(other_org, "owner")
    assert stranger.get(f"/admin/syncjobs/syncjob/{job.pk}/change/").status_code == 302
    stranger.post("/admin/syncjobs/syncjob/", {"action": "cancel", "_selected_action": [job.pk]})
    assert SyncJob.objects.get(pk=job.pk).status == JobStatus.PENDING
