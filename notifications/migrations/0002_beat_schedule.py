"""The beat schedule of notifications, in code (editable afterwards in the admin's periodic tasks).

send_due_notices every minute sends what quiet hours, digests and retries held back (and what a lost nudge
left); check_conditions every 5 min opens and clears the conditions no event reports (stuck orders, stock back
above its threshold, an endpoint switched back on).
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (
    ("notifications: send due notices", "notifications.tasks.send_due_notices", 60),
    ("notifications: check conditions", "notifications.tasks.check_conditions", 300),
)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
