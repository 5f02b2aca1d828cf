"""The beat schedule of the audience push (hourly), in code; editable in the admin."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("syncjobs: push audiences to mailing lists and CRMs", "syncjobs.tasks.push_audiences", 3600),)


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0012_periodic_tasks_expire"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
