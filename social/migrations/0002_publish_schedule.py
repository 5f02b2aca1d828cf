"""publish_due_posts every minute queues the scheduled posts whose time has come (and re-sends lost ones)."""

from django.db import migrations

from config.beat import BEAT_DEPENDENCY, schedule_operation

TASKS = (("social: publish due posts", "social.tasks.publish_due_posts", 60),)


class Migration(migrations.Migration):
    dependencies = [("social", "0001_initial"), BEAT_DEPENDENCY]

    operations = [schedule_operation(TASKS)]
