"""The beat schedule of incoming webhooks, in code (editable afterwards in the admin's periodic tasks).

sweep_incoming_webhooks every 30 s: re-queues pending webhooks whose nudge was
lost (broker down at receive time) and takes back webhooks of dead workers once
their lease (WEBHOOK_INCOMING_LEASE_SECONDS) ran out.
"""

from django.db import migrations

TASKS = (("webhooks: sweep incoming webhooks", "webhooks.inbound.tasks.sweep_incoming_webhooks", 30),)


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
        ("webhooks", "0003_outgoing_dispatch_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
