"""Beat schedules created in code, by data migrations, so operators see and edit them in the admin.

Each app's migration lists its periodic tasks as (name, task path, every N
seconds) and calls `schedule_operation(TASKS)`. Created with get_or_create by
name, so an operator's later edit of the interval survives a re-run; reversing
the migration removes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations

PeriodicTaskSpec = tuple[str, str, int]  # (name shown in the admin, task path, every N seconds)

BEAT_DEPENDENCY = ("django_celery_beat", "0019_alter_periodictasks_options")


def schedule_operation(tasks: Sequence[PeriodicTaskSpec]) -> migrations.RunPython:
    def create(apps, schema_editor):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for name, task, seconds in tasks:
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
            PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})

    def remove(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTask.objects.filter(name__in=[name for name, _, _ in tasks]).delete()

    return migrations.RunPython(create, remove)
