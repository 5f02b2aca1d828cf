"""The periodic jobs, in one list, and the helper that creates their beat schedules in data migrations.

PERIODIC_JOBS is the one list of background duties that run on a clock. Beat
runs them from django-celery-beat's PeriodicTask rows, which each app's data
migration creates (operators see and edit them in the admin); platforms without
beat call the same jobs through `POST /api/cron/<slug>/` (syncjobs/cron.py builds
its jobs from this list, and its `run-all` runs each job whose PeriodicTask is
due). tests/syncjobs/test_cron_parity.py keeps the migrations' rows, this list and
the cron jobs equal, so neither way of running them can drift. Adding a periodic
task: its app's data migration (`schedule_operation`) and one line here; a
provider's own jobs are declared by its connector (`periodic_jobs`) and joined to
these by `connectors.registry.periodic_jobs()`, the list beat and cron read.

Each app's migration lists its periodic tasks as (name, task path, every N
seconds) and calls `schedule_operation(TASKS)`. Created with get_or_create by
name, so an operator's later edit of the interval survives a re-run; reversing
the migration removes them.

Every periodic message expires (`expire_seconds` on the row, `expires` on the
message): while the workers are down beat keeps sending, and without it a
recovering worker would run every stale copy (720 dispatch runs an hour down).
A copy older than its task's interval is worth nothing, as the next one is
already queued; the floor of MIN_EXPIRE_SECONDS keeps a 5-second task alive
through an ordinary backlog, where expiring at 5 s would skip every run while
the queue is a few seconds behind. The scheduler gives a row that has no expiry
(one an operator added) the same default (config/beat_scheduler.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import migrations

PeriodicTaskSpec = tuple[str, str, int]  # (name shown in the admin, task path, every N seconds)

BEAT_DEPENDENCY = ("django_celery_beat", "0019_alter_periodictasks_options")
MIN_EXPIRE_SECONDS = 60
_PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def expire_seconds_for(every_seconds: float) -> int:
    """How long a periodic message stays worth running: about its interval, never under MIN_EXPIRE_SECONDS."""
    return max(int(every_seconds), MIN_EXPIRE_SECONDS)


def interval_seconds(every: int, period: str) -> float:
    """An IntervalSchedule's length in seconds (microseconds count as a fraction)."""
    return every * _PERIOD_SECONDS.get(period, 1e-6)


def schedule_operation(tasks: Sequence[PeriodicTaskSpec]) -> migrations.RunPython:
    def create(apps, schema_editor):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, seconds in tasks:
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
            PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval,
                                                                    "expire_seconds": expire_seconds_for(seconds)})

    def remove(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTask.objects.filter(name__in=[name for name, _, _ in tasks]).delete()

    return migrations.RunPython(create, remove)


def periodic_task_expiry(row: Any) -> Any:
    """A PeriodicTask's message expiry: its own (`expire_seconds`, or the `expires` time), else about its
    interval; None for a crontab row without one. Beat (config/beat_scheduler.py) and cron both send with it."""
    if row.expire_seconds or row.expires:
        return row.expire_seconds or row.expires
    if row.interval_id is None:
        return None
    return expire_seconds_for(interval_seconds(row.interval.every, row.interval.period))


def expiry_operation() -> migrations.RunPython:
    """Give every interval row that has no expiry its default (the rows earlier migrations made without one)."""

    def backfill(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        rows = PeriodicTask.objects.filter(interval__isnull=False, expires__isnull=True, expire_seconds__isnull=True)
        for row in rows.select_related("interval"):
            seconds = expire_seconds_for(interval_seconds(row.interval.every, row.interval.period))
            PeriodicTask.objects.filter(pk=row.pk, expire_seconds__isnull=True).update(expire_seconds=seconds)

    return migrations.RunPython(backfill, migrations.RunPython.noop)


@dataclass(frozen=True)
class PeriodicJob:
    slug: str  # its cron job: POST /api/cron/<slug>/
    task: str  # the Celery task's stable name, as the PeriodicTask row names it
    every: int  # seconds, as the data migrations schedule it (operators may change it in the admin)


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("dispatch-deliveries", "webhooks.tasks.dispatch_due_deliveries", 5),
    PeriodicJob("sweep-webhooks", "webhooks.inbound.tasks.sweep_incoming_webhooks", 30),
    PeriodicJob("sweep-events", "events.tasks.sweep_inbound_events", 30),
    PeriodicJob("run-due-syncs", "syncjobs.tasks.run_due_syncs", 30),
    PeriodicJob("sweep-pushes", "commerce.tasks.sweep_pending_pushes", 60),
    PeriodicJob("publish-due-posts", "social.tasks.publish_due_posts", 60),
    PeriodicJob("refresh-tokens", "integrations.tasks.refresh_expiring_tokens", 300),
    PeriodicJob("send-notices", "notifications.tasks.send_due_notices", 60),
    PeriodicJob("check-notification-conditions", "notifications.tasks.check_conditions", 300),
    PeriodicJob("purge-oauth-states", "integrations.tasks.purge_oauth_states", 3600),
    PeriodicJob("purge-idempotency-keys", "webhooks.tasks.purge_idempotency_keys", 3600),
    PeriodicJob("ai-analysis", "analysis.tasks.run_daily_analyses", 86400),
    PeriodicJob("sweep-analyses", "analysis.tasks.sweep_analyses", 300),
    PeriodicJob("purge-call-logs", "integrations.tasks.purge_integration_logs", 86400),
    PeriodicJob("purge-finished-jobs", "syncjobs.tasks.purge_finished_jobs", 86400),
    # Writes into the organization's own systems: its orders into ERP integrations (hourly), and a CSV backup of
    # its records into file-store integrations (daily; `POST /api/cron/backup/` runs it on demand).
    PeriodicJob("export-orders", "syncjobs.tasks.export_orders", 3600),
    PeriodicJob("backup", "syncjobs.tasks.backup_records", 86400),
    # Consenting customers into the mailing audiences and CRMs an operator has started one on (hourly).
    PeriodicJob("push-audiences", "syncjobs.tasks.push_audiences", 3600),
)
