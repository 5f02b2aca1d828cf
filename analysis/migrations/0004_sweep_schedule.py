"""The analyses' sweep on beat's clock, every 5 minutes (interrupted suggestion applies, abandoned and
forgotten runs; also POST /api/cron/sweep-analyses/)."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("analysis: sweep analyses", "analysis.tasks.sweep_analyses", 300),)


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0003_suggestion_lease_and_run_retry"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
