"""Integration codes become unique per organization; the URLs providers call use a global route key instead.

Codes were one global namespace because inbound URLs used them, so "already in use" told one tenant another
tenant's code. Now `code` is unique per organization and `route_key` names the integration in provider-facing
URLs (`/api/webhooks/receive/<route_key>/`, Payme's and Click's callbacks). Every existing integration gets its
code as its route key (codes were globally unique until now), so every URL already configured at a provider
keeps working; integrations created from now on get `<code>-<12 hex>`.

The column is added nullable, filled, then made NOT NULL and unique, in one transaction.
"""

from django.db import migrations, models
from django.db.models import F


def route_key_is_code(apps, schema_editor):
    apps.get_model("integrations", "Integration").objects.update(route_key=F("code"))


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_claim_connected_accounts")]

    operations = [
        migrations.AddField(
            model_name="integration", name="route_key",
            field=models.SlugField(max_length=80, null=True, editable=False, db_index=False),
        ),
        migrations.RunPython(route_key_is_code, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="integration", name="route_key",
            field=models.SlugField(
                max_length=80, unique=True, editable=False,
                help_text="Names the integration in the URLs providers call (webhooks, payment callbacks); unique "
                          "across organizations, generated at creation. Integrations older than per-organization "
                          "codes keep their code as route key, so the URLs providers already have keep working.",
            ),
        ),
        migrations.AlterField(
            model_name="integration", name="code",
            field=models.SlugField(max_length=64, help_text="Unique within the organization."),
        ),
        migrations.AddConstraint(
            model_name="integration",
            constraint=models.UniqueConstraint(fields=("organization", "code"), name="integration_code_per_org"),
        ),
    ]
