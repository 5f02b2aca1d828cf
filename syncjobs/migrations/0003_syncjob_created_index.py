"""SyncJob: an index on created_at for a superuser's list (not scoped to an organization).

Its date hierarchy reads MIN/MAX(created_at) and its page is newest first;
staff users are served by (organization, -created_at). On a huge table this
plain CREATE INDEX blocks writes to the table while it builds: create it by
hand with CONCURRENTLY (`manage.py sqlmigrate syncjobs 0003` prints it) and
then `manage.py migrate syncjobs 0003 --fake`.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("syncjobs", "0002_beat_schedule"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="syncjob",
            index=models.Index(fields=["created_at"], name="syncjob_created"),
        ),
    ]
