"""The beat schedule of integrations: token refresh, OAuth state and call-log purges.

refresh_expiring_tokens every 5 minutes gives three chances inside the
15-minute refresh window; expired OAuth states go hourly; the call log is
purged daily past INTEGRATION_LOG_RETENTION_DAYS.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (
    ("integrations: refresh expiring tokens", "integrations.tasks.refresh_expiring_tokens", 300),
    ("integrations: purge expired OAuth states", "integrations.tasks.purge_oauth_states", 3600),
    ("integrations: purge old call logs", "integrations.tasks.purge_integration_logs", 86400),
)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
