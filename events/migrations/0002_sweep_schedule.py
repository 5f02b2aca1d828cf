"""The beat schedule of consumed events, in code (editable afterwards in the admin's periodic tasks).

sweep_inbound_events every 30 s: re-queues pending events whose nudge was lost
and takes back events of dead workers once their lease ran out. The cron
endpoint runs the same task as `sweep-events` (syncjobs/cron.py lists both).
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("events: sweep inbound events", "events.tasks.sweep_inbound_events", 30),)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_event_sources_and_inbound_events"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
