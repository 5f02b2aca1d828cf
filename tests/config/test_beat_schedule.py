"""Every periodic task the migrations create names a task the worker knows, at the interval we chose."""

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app

EXPECTED = {
    "syncjobs.tasks.run_due_syncs": 30,
    "integrations.tasks.refresh_expiring_tokens": 300,
    "integrations.tasks.purge_oauth_states": 3600,
    "integrations.tasks.purge_integration_logs": 86400,
    "webhooks.tasks.dispatch_due_deliveries": 5,
    "webhooks.inbound.tasks.sweep_incoming_webhooks": 30,
    "commerce.tasks.sweep_pending_pushes": 60,
    "connectors.fancourier.tasks.track_open_awbs": 1800,
}


@pytest.mark.django_db
def test_the_migrations_schedule_every_background_duty():
    scheduled = {task.task: task.interval.every for task in PeriodicTask.objects.select_related("interval")}
    for task, seconds in EXPECTED.items():
        assert scheduled.get(task) == seconds, task


@pytest.mark.django_db
def test_health_checks_follow_each_integrations_schedule_not_a_beat_task():
    assert not PeriodicTask.objects.filter(task="syncjobs.tasks.check_integrations_health").exists()


@pytest.mark.django_db
def test_every_scheduled_task_is_registered_with_the_worker():
    app.loader.import_default_modules()
    unknown = [t.task for t in PeriodicTask.objects.all() if t.task not in app.tasks]
    assert unknown == []
