"""The beat schedule of the Drive scan, in code (editable afterwards in the admin's periodic tasks): hourly."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("google drive: scan folders", "connectors.google_drive.tasks.scan_drive_folders", 3600),)


class Migration(migrations.Migration):
    dependencies = [
        ("google_drive", "0001_drive_files"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
