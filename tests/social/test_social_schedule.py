"""Social platforms sync their accounts and posts on a clock: a post's daily metrics are only as fresh as the last
pull, so without a schedule they would move only on a content.published event or a manual sync."""

from __future__ import annotations

import pytest
from django.utils import timezone

from syncjobs.cadences import cadences_for
from syncjobs.models import JobType, SyncJob, SyncSchedule
from syncjobs.scheduler import syncs_run_due
from syncjobs.tasks import run_sync_job
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("provider", ["tiktok", "instagram", "youtube"])
def test_each_social_platform_has_a_posts_cadence(provider):
    assert {c.job_type: c.every_minutes for c in cadences_for(provider)} == {
        JobType.SYNC_POSTS: 360, "check_health": 15}


def test_the_scheduler_starts_the_posts_sync_of_a_social_integration(org, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    sent: list[int] = []
    monkeypatch.setattr(run_sync_job, "apply_async", lambda args, **options: sent.append(args[0]))
    social = IntegrationFactory(organization=org, provider="tiktok", type="social", status="active",
                                auto_sync_enabled=True)
    assert SyncSchedule.objects.filter(integration=social, job_type=JobType.SYNC_POSTS).exists()
    with django_capture_on_commit_callbacks(execute=True):
        syncs_run_due(now=timezone.now())
    [job] = SyncJob.objects.filter(integration=social)
    assert (job.job_type, job.trigger, sent) == (JobType.SYNC_POSTS, "schedule", [job.pk])
