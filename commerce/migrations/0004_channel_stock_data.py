"""Existing stock under the new rules: explicit location mappings, channels as the source, no double reservations.

- Every location a channel already imported into becomes a ChannelLocation
  mapped to the ERP location its levels landed at: `config["locations"]`
  entries as they were, and the `<code>/<location id>` names the old import
  made up. Nothing moves; the mapping is now visible and editable.
- Every integration starts in `import` (the field's default): connecting and
  importing never rewrites a merchant's stock unasked. A shop that relied on
  the old automatic push is switched to `push` by an operator (audited).
- Shop channels net out their own open orders, so in `import` their orders
  hold no ERP stock: the reservations those orders made are released
  (on_hand, which was imported net of them, stays).
"""

from django.conf import settings
from django.db import migrations
from django.db.models import F
from django.db.models.functions import Greatest

# The shop providers whose quantities are net of their open orders at the time of this migration.
NETTING_PROVIDERS = ("shopify", "sandbox", "woocommerce", "trendyol", "ebay", "amazon_sp", "tiktok_shop")
RESERVING = ("pending", "paid", "partially_fulfilled")


def forwards(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    StockLevel = apps.get_model("commerce", "StockLevel")
    ChannelLocation = apps.get_model("commerce", "ChannelLocation")
    OrderLine = apps.get_model("commerce", "OrderLine")

    for integration in Integration.objects.all().iterator():
        mapped = {}
        for external_id, erp_location in ((integration.config or {}).get("locations") or {}).items():
            if erp_location and str(erp_location) not in mapped.values():
                mapped[str(external_id)[:100]] = str(erp_location)[:100]
        prefix = f"{integration.code}/"
        for location in (StockLevel.objects.filter(organization_id=integration.organization_id,
                                                   location__startswith=prefix)
                         .values_list("location", flat=True).distinct()):
            external_id = location[len(prefix):]
            if external_id and external_id not in mapped and location not in mapped.values():
                mapped[external_id] = location
        for external_id, erp_location in mapped.items():
            ChannelLocation.objects.get_or_create(
                integration_id=integration.pk, external_id=external_id,
                defaults={"organization_id": integration.organization_id, "erp_location": erp_location},
            )

        if integration.provider not in NETTING_PROVIDERS:
            continue
        lines = OrderLine.objects.filter(order__integration_id=integration.pk, order__status__in=RESERVING,
                                         reserved_quantity__gt=0, product_id__isnull=False)
        for line in lines.select_related("order").iterator():
            location = line.order.stock_location or (integration.config or {}).get("stock_location") or settings.COMMERCE_STOCK_LOCATION
            StockLevel.objects.filter(product_id=line.product_id, location=location).update(
                reserved=Greatest(F("reserved") - line.reserved_quantity, 0))
        lines.update(reserved_quantity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0003_channel_stock"),
        ("integrations", "0007_stock_mode"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
