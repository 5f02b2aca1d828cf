"""The beat schedules of the order export (hourly) and the records backup (daily), in code; editable in the admin."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (
    ("syncjobs: export orders to ERPs", "syncjobs.tasks.export_orders", 3600),
    ("syncjobs: back up records to file stores", "syncjobs.tasks.backup_records", 86400),
)


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0005_syncjob_nudged_at"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
