"""The daily analyses on beat's clock (editable afterwards in the admin's periodic tasks; also
POST /api/cron/ai-analysis/ for platforms without beat)."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("analysis: daily analyses", "analysis.tasks.run_daily_analyses", 86400),)


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0001_analysis_records"),
        BEAT_DEPENDENCY,
    ]

    operations = [schedule_operation(TASKS)]
