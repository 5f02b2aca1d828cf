"""Drop the single-column indexes of WebhookDelivery.endpoint and .organization (issue 18).

Each is the leading column of a composite index that serves every query by it ((endpoint, -created_at) and
(endpoint, locked_until); (organization, -created_at)). Leasing and recording a delivery change indexed columns,
so every such update writes a new entry into every index of the row: two of its eight were read by nothing.

Only the indexes are dropped (the same way as commerce 0011): a plain AlterField would also drop and re-add the
foreign-key constraints, re-validating every delivery under a lock while dispatching waits.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # (index, table, column): the names Django gave them
    ("webhooks_webhookdelivery_endpoint_id_d5bfb5c8", "webhooks_webhookdelivery", "endpoint_id"),
    ("webhooks_webhookdelivery_organization_id_b55cf551", "webhooks_webhookdelivery", "organization_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_auditevent'),
        ('webhooks', '0007_incoming_nudged_at'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"',
                                  reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")')
                for index, table, column in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='webhookdelivery',
                    name='endpoint',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='webhooks.webhookendpoint'),
                ),
                migrations.AlterField(
                    model_name='webhookdelivery',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='webhook_deliveries', to='accounts.organization'),
                ),
            ],
        ),
    ]
