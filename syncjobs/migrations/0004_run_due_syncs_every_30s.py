"""run_due_syncs every 30 s instead of every minute: with a one-minute lease and a heartbeat every quarter
lease, a dead worker's job (or a pending one whose message was lost) is re-queued within about 90 s.

An interval an operator already changed from 60 s is left as it is.
"""

from django.db import migrations

TASK = "syncjobs.tasks.run_due_syncs"


def _move(apps, old: int, new: int) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=new, period="seconds")
    PeriodicTask.objects.filter(task=TASK, interval__every=old, interval__period="seconds").update(interval=interval)


class Migration(migrations.Migration):
    dependencies = [("syncjobs", "0003_syncjob_created_index")]

    operations = [
        migrations.RunPython(lambda apps, editor: _move(apps, 60, 30), lambda apps, editor: _move(apps, 30, 60)),
    ]
