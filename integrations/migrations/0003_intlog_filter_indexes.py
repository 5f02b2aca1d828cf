"""IntegrationLog: indexes for the admin's filters within an organization.

A staff user's call log is `organization IN (...)` newest first; each filter
gets an index that starts the way it filters:

- action:       (organization, action, -created_at)        new
- status class: (organization, status_code, -created_at)   new (a range on status_code; "no response" is IS NULL)
- direction:    (organization, direction, -created_at)     new (two values, but inbound rows can be a small share)
- integration:  (integration, -created_at)                 exists (an integration is in one organization)
- date:         (organization, -created_at)                exists (the date hierarchy and the unfiltered list)

Operators with a huge integrations_integrationlog table: these run as plain
CREATE INDEX inside the migration's transaction, which blocks writes to the
table (every provider call logs a row) while each index builds. CREATE INDEX
CONCURRENTLY cannot run in a transaction. To avoid the write stall, create the
three indexes by hand first, with the names and columns printed by
`manage.py sqlmigrate integrations 0003` and CONCURRENTLY added, then record
this migration with `manage.py migrate integrations 0003 --fake`.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0002_beat_schedule"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="integrationlog",
            index=models.Index(fields=["organization", "action", "-created_at"], name="intlog_org_action_created"),
        ),
        migrations.AddIndex(
            model_name="integrationlog",
            index=models.Index(fields=["organization", "status_code", "-created_at"], name="intlog_org_status_created"),
        ),
        migrations.AddIndex(
            model_name="integrationlog",
            index=models.Index(
                fields=["organization", "direction", "-created_at"], name="intlog_org_direction_created"
            ),
        ),
    ]
