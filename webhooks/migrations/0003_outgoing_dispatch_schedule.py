"""The beat schedule of outgoing webhooks, in code (editable afterwards in the admin's periodic tasks).

dispatch_due_deliveries every 5 s is the sweeper: it sends retries as they fall
due and whatever a lost nudge left behind. purge_idempotency_keys runs hourly.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (
    ("webhooks: dispatch due deliveries", "webhooks.tasks.dispatch_due_deliveries", 5),
    ("webhooks: purge idempotency keys", "webhooks.tasks.purge_idempotency_keys", 3600),
)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_outgoing_notices_retry_round"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
