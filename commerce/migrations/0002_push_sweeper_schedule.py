"""The beat schedule of commerce pushes, in code (editable afterwards in the admin's periodic tasks).

sweep_pending_pushes every minute re-sends stock and tracking pushes whose task
message was lost; the rows are the queue of record.
"""

from django.db import migrations

TASKS = (("commerce: sweep pending pushes", "commerce.tasks.sweep_pending_pushes", 60),)


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0001_commerce_records"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
