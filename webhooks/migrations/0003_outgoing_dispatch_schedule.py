"""The beat schedule of outgoing webhooks, in code (editable afterwards in the admin's periodic tasks).

dispatch_due_deliveries every 5 s is the sweeper: it sends retries as they fall
due and whatever a lost nudge left behind. purge_idempotency_keys runs hourly.
"""

from django.db import migrations

TASKS = (
    ("webhooks: dispatch due deliveries", "webhooks.tasks.dispatch_due_deliveries", 5),
    ("webhooks: purge idempotency keys", "webhooks.tasks.purge_idempotency_keys", 3600),
)


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
        ("webhooks", "0002_outgoing_notices_retry_round"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
