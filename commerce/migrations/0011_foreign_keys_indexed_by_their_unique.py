"""Drop the single-column indexes of four foreign keys that a composite index already leads with (issue 18).

Order.integration and ExternalRef.integration are served by their unique (integration, …) constraints,
Order.organization by the (organization, …) indexes, OrderLine.order by the unique (order, external_id). Each
dropped index was one more index write per imported order, line or ref, and none of them is read by a query the
composite does not serve as well.

Only the indexes are dropped: a plain AlterField would also drop and re-add each foreign key constraint, which
re-validates every row of these tables under a lock that stops imports while it runs.
"""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # (index, table, column): the names Django gave them
    ("commerce_externalref_integration_id_1dc9e5ff", "commerce_externalref", "integration_id"),
    ("commerce_order_integration_id_ec0e9ecd", "commerce_order", "integration_id"),
    ("commerce_order_organization_id_46987ac3", "commerce_order", "organization_id"),
    ("commerce_orderline_order_id_678fed48", "commerce_orderline", "order_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_auditevent'),
        ('commerce', '0010_externalref_marketing_campaign_type'),
        ('integrations', '0011_integration_type_ai'),
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
                    model_name='externalref',
                    name='integration',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='external_refs', to='integrations.integration'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='integration',
                    field=models.ForeignKey(blank=True, db_index=False, help_text='The channel the order came from.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='orders', to='integrations.integration'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='orders', to='accounts.organization'),
                ),
                migrations.AlterField(
                    model_name='orderline',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='commerce.order'),
                ),
            ],
        ),
    ]
