"""upsert_products / upsert_inventory_levels: variants become Products by SKU, levels set stock, both idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from commerce.models import ChannelLocation, ExternalRef, Product, StockLevel
from commerce.services import upsert_inventory_levels, upsert_products

from .conftest import product_records

pytestmark = pytest.mark.django_db


def test_variants_become_products_and_re_running_changes_nothing(channel):
    records = product_records()
    skus = {v["sku"] for r in records for v in r["variants"] if v["sku"]}

    first = upsert_products(integration=channel, products=records)
    again = upsert_products(integration=channel, products=records)

    assert first.created == len(records) and first.failed == []
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(records))
    assert set(Product.objects.values_list("sku", flat=True)) == skus
    assert ExternalRef.objects.filter(resource_type="variant").count() == len(skus)


def test_an_older_product_version_does_not_overwrite_a_newer_one(channel):
    record = product_records()[0]
    newer = {**record, "updated_at": record["updated_at"] + timedelta(hours=1),
             "variants": [{**v, "name": "Renamed"} for v in record["variants"]]}
    upsert_products(integration=channel, products=[newer])
    result = upsert_products(integration=channel, products=[record])
    assert result.unchanged == 1
    assert set(Product.objects.values_list("name", flat=True)) == {"Renamed"}


def test_inventory_levels_set_on_hand_at_the_mapped_location_only(channel):
    channel.stock_mode = "import"
    channel.save()
    record = product_records()[0]
    upsert_products(integration=channel, products=[record])
    variant = record["variants"][0]
    ChannelLocation.objects.create(organization=channel.organization, integration=channel, external_id="9",
                                   erp_location="main")
    level = {"inventory_item_id": variant["inventory_item_id"], "location_id": "9", "available": 12,
             "updated_at": record["updated_at"]}

    result = upsert_inventory_levels(integration=channel, levels=[level, {**level, "location_id": "10"}])
    again = upsert_inventory_levels(integration=channel, levels=[level])
    older = upsert_inventory_levels(integration=channel, levels=[
        {**level, "available": 1, "updated_at": record["updated_at"] - timedelta(days=1)}])
    unknown = upsert_inventory_levels(integration=channel, levels=[{**level, "inventory_item_id": "404"}])

    assert result.created == 2 and again.unchanged == 1 and older.unchanged == 1
    assert result.unmapped_locations == {"10"}  # offered to the operator, not guessed
    assert ChannelLocation.objects.get(integration=channel, external_id="10").erp_location == ""
    assert "unknown inventory item" in unknown.failed[0]["error"]
    stock = dict(StockLevel.objects.filter(product__sku=variant["sku"]).values_list("location", "on_hand"))
    assert stock == {"main": 12}
