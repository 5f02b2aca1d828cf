"""The beat schedule of incoming webhooks, in code (editable afterwards in the admin's periodic tasks).

sweep_incoming_webhooks every 30 s: re-queues pending webhooks whose nudge was
lost (broker down at receive time) and takes back webhooks of dead workers once
their lease (WEBHOOK_INCOMING_LEASE_SECONDS) ran out.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("webhooks: sweep incoming webhooks", "webhooks.inbound.tasks.sweep_incoming_webhooks", 30),)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_outgoing_dispatch_schedule"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
