"""The beat schedule of commerce pushes, in code (editable afterwards in the admin's periodic tasks).

sweep_pending_pushes every minute re-sends stock and tracking pushes whose task
message was lost; the rows are the queue of record.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("commerce: sweep pending pushes", "commerce.tasks.sweep_pending_pushes", 60),)


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0001_commerce_records"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
