"""The beat schedule of syncs: due syncs each minute, health checks every 15 minutes, a daily purge.

run_due_syncs also re-queues jobs whose worker died (their lease ran out), so a
crashed sync resumes from its checkpoint within a minute of the lease.
"""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (
    ("syncjobs: run due syncs", "syncjobs.tasks.run_due_syncs", 60),
    ("syncjobs: check integrations health", "syncjobs.tasks.check_integrations_health", 900),
    ("syncjobs: purge finished jobs", "syncjobs.tasks.purge_finished_jobs", 86400),
)


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0001_sync_job"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
