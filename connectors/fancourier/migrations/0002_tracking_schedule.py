"""The beat schedule of FAN Courier tracking, in code (editable afterwards in the admin's periodic tasks).

track_open_awbs every 30 minutes: one task per active FAN Courier integration asks about its open AWBs.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("fancourier: track open AWBs", "connectors.fancourier.tasks.track_open_awbs", 1800),)


class Migration(migrations.Migration):
    dependencies = [
        ("fancourier", "0001_shipments"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
