"""Beat and the cron endpoint run the same periodic jobs: one list (config.beat.PERIODIC_JOBS), kept equal here."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app
from syncjobs.cron import CRON_JOBS, ON_DEMAND, PERIODIC_JOBS, RUN_ALL

pytestmark = pytest.mark.django_db


def test_every_beat_task_is_a_periodic_job_and_every_periodic_job_a_beat_task():
    beat = {(row.task, row.interval.every) for row in PeriodicTask.objects.select_related("interval")}
    assert beat == {(job.task, job.every) for job in PERIODIC_JOBS}


def test_every_periodic_job_is_a_cron_job_and_run_all_covers_them_all():
    for job in PERIODIC_JOBS:
        assert CRON_JOBS[job.slug] == [(job.task, {})], job.slug
    assert [name for name, _ in CRON_JOBS[RUN_ALL]] == [job.task for job in PERIODIC_JOBS]
    assert set(CRON_JOBS) == {job.slug for job in PERIODIC_JOBS} | set(ON_DEMAND) | {RUN_ALL}
    assert len({job.slug for job in PERIODIC_JOBS}) == len({job.task for job in PERIODIC_JOBS}) == len(PERIODIC_JOBS)


def test_the_jobs_the_issue_named_are_there():
    slugs = {job.slug for job in PERIODIC_JOBS}
    assert {"sync-awb", "sweep-pushes", "run-due-syncs"} <= slugs
    # Health checks run on each integration's schedule (run-due-syncs); check-health checks all of them now.
    assert CRON_JOBS["check-health"] == [("syncjobs.tasks.check_integrations_health", {})]


def test_every_cron_task_is_registered_with_the_worker():
    app.loader.import_default_modules()
    assert [name for tasks in CRON_JOBS.values() for name, _ in tasks if name not in app.tasks] == []
