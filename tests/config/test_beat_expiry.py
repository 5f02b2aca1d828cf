"""Beat's messages expire: a worker back after hours down runs the latest copy of each periodic task, not every
copy beat queued meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from kombu import Connection

from config.beat import MIN_EXPIRE_SECONDS, expiry_operation, interval_seconds
from config.beat_scheduler import SingleBeatScheduler
from config.celery import app

DISPATCH = "webhooks.tasks.dispatch_due_deliveries"  # every 5 s
BACKUP = "syncjobs.tasks.backup_records"  # daily


@pytest.fixture
def scheduler():
    app.loader.import_default_modules()
    return SingleBeatScheduler(app=app, lazy=True)


def sent_message(scheduler, row: PeriodicTask):
    """The message beat publishes for `row` (its own apply_async), read back off an in-memory broker."""
    with Connection("memory://") as connection:
        queue = connection.SimpleQueue("celery")  # the default queue, bound before beat publishes into it
        scheduler.apply_async(scheduler.Entry(row, app=app), producer=connection.Producer(), advance=False)
        message = queue.get(timeout=2)
        message.ack()
        queue.close()
        return message


@pytest.mark.django_db
def test_every_row_the_migrations_create_expires_after_about_its_interval():
    rows = PeriodicTask.objects.exclude(task="celery.backend_cleanup").select_related("interval")
    assert rows.exists()
    for row in rows:
        every = interval_seconds(row.interval.every, row.interval.period)
        assert row.expire_seconds == max(every, MIN_EXPIRE_SECONDS), row.name
    assert PeriodicTask.objects.get(task=DISPATCH).expire_seconds == MIN_EXPIRE_SECONDS
    assert PeriodicTask.objects.get(task=BACKUP).expire_seconds == 86400


@pytest.mark.django_db
def test_the_message_beat_sends_carries_an_expiry(scheduler):
    row = PeriodicTask.objects.get(task=DISPATCH)
    before = timezone.now()
    message = sent_message(scheduler, row)
    expires = datetime.fromisoformat(message.headers["expires"])
    assert before + timedelta(seconds=MIN_EXPIRE_SECONDS - 1) <= expires <= timezone.now() + timedelta(
        seconds=MIN_EXPIRE_SECONDS + 1)


@pytest.mark.django_db
def test_a_row_without_an_expiry_gets_its_interval_and_an_operators_own_expiry_wins(scheduler):
    hourly, _ = IntervalSchedule.objects.get_or_create(every=2, period="hours")
    added = PeriodicTask.objects.create(name="operator's extra sweep", task=DISPATCH, interval=hourly)
    assert added.expire_seconds is None
    assert scheduler.Entry(added, app=app).options["expires"] == 7200

    added.expire_seconds = 90
    added.save()
    assert scheduler.Entry(added, app=app).options["expires"] == 90


@pytest.mark.django_db
def test_the_migration_gives_rows_made_before_it_their_expiry():
    PeriodicTask.objects.filter(task__in=(DISPATCH, BACKUP)).update(expire_seconds=None)
    kept = PeriodicTask.objects.filter(task="syncjobs.tasks.run_due_syncs")
    kept.update(expire_seconds=45)  # what an operator chose stays

    expiry_operation().code(apps, None)

    assert PeriodicTask.objects.get(task=DISPATCH).expire_seconds == MIN_EXPIRE_SECONDS
    assert PeriodicTask.objects.get(task=BACKUP).expire_seconds == 86400
    assert kept.get().expire_seconds == 45
