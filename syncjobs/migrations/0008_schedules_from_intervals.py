"""Each integration's one `sync_interval_minutes` becomes its per-job-type schedules; health checks move onto them.

What the old interval meant, kept: it ran products, inventory and orders together every N minutes (0: manual).
- N > 0: the products, inventory and orders schedules run every N minutes, enabled, next due when the integration's
  next sync was; the operator chose that freshness (and that provider load), so none becomes staler or busier by
  the upgrade. Order status (new) starts switched off at its default: the orders schedule already covers it.
- 0 (manual): every sync schedule starts switched off at the cadence table's default, so switching one on gives
  the seed cadence; nothing syncs by itself that did not before.
- The health check runs every 15 minutes for every integration, as the beat task it replaces did; that task's
  beat row goes (check-health stays a cron job, on demand).

The cadences an integration gets are read from the live cadence table (which job types its provider runs).
Reversed, the interval is the shortest enabled sync schedule (0 when none).
"""

from django.db import migrations
from django.db.models import Min

from config.beat import BEAT_DEPENDENCY

OLD_SCHEDULED_SYNC = ("sync_products", "sync_inventory", "sync_orders")
HEALTH_TASK = ("syncjobs: check integrations health", "syncjobs.tasks.check_integrations_health", 900)


def schedules_from_intervals(apps, schema_editor):
    from syncjobs.cadences import Runs, cadences_for

    Integration = apps.get_model("integrations", "Integration")
    SyncSchedule = apps.get_model("syncjobs", "SyncSchedule")
    rows = []
    for integration in Integration.objects.only("pk", "provider", "sync_interval_minutes", "next_sync_at").iterator():
        old = integration.sync_interval_minutes
        for cadence in cadences_for(integration.provider):
            row = SyncSchedule(integration_id=integration.pk, job_type=cadence.job_type,
                               every_minutes=cadence.every_minutes, enabled=False)
            if cadence.runs == Runs.HEALTH:
                row.enabled = True
            elif old and cadence.job_type in OLD_SCHEDULED_SYNC:
                row.every_minutes, row.enabled, row.next_due_at = old, True, integration.next_sync_at
            rows.append(row)
        if len(rows) >= 1000:
            SyncSchedule.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    SyncSchedule.objects.bulk_create(rows, ignore_conflicts=True)


def intervals_from_schedules(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    SyncSchedule = apps.get_model("syncjobs", "SyncSchedule")
    shortest = (SyncSchedule.objects.filter(enabled=True, job_type__in=OLD_SCHEDULED_SYNC + ("sync_order_status",))
                .values("integration_id").annotate(every=Min("every_minutes")))
    for row in shortest:
        Integration.objects.filter(pk=row["integration_id"]).update(sync_interval_minutes=row["every"])


def drop_health_beat_task(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=HEALTH_TASK[1]).delete()


def restore_health_beat_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    name, task, seconds = HEALTH_TASK
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0007_sync_schedules"),
        ("integrations", "0010_key_ring_reports"),
        BEAT_DEPENDENCY,
    ]

    operations = [
        migrations.RunPython(schedules_from_intervals, intervals_from_schedules),
        migrations.RunPython(drop_health_beat_task, restore_health_beat_task),
    ]
