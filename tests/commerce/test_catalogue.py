"""A product's catalogue (images, category, attributes): imported per channel, replaced exactly on re-import.

Records are normalized listings as the connectors hand them over (commerce/services/catalogue.py);
the connectors' own fixtures are imported in their tests (test_shopify_products, test_trendyol_storefront,
test_woocommerce_connector, test_ebay_connector).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.models import Product, ProductAttribute, ProductImage
from commerce.services import upsert_products
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
A, B, C = (f"https://cdn.example.com/mug-{n}.jpg" for n in "abc")


def listing(*, images=(A, B), attributes=None, category="Kitchen > Mugs", minutes=0, variants=None) -> dict:
    return {
        "external_id": "L1", "title": "Mug", "status": "active", "updated_at": T0 + timedelta(minutes=minutes),
        "category": category,
        "images": [{"url": url, "alt": f"alt {url[-5:-4]}"} for url in images],
        "attributes": [{"name": n, "value": v} for n, v in (attributes or {"Brand": "Acme"}).items()],
        "variants": variants or [
            {"external_id": "V1", "sku": "MUG-BLUE", "name": "Mug — Blue", "price": "9.90",
             "attributes": [{"name": "Color", "value": "Blue"}]},
            {"external_id": "V2", "sku": "MUG-RED", "name": "Mug — Red", "price": "9.90",
             "images": [{"url": C}], "attributes": [{"name": "Color", "value": "Red"}]},
        ],
    }


def images(sku: str, integration=None):
    rows = ProductImage.objects.filter(product__sku=sku)
    if integration is not None:
        rows = rows.filter(integration=integration)
    return list(rows.order_by("position").values_list("url", "position", "alt"))


def attributes(sku: str) -> dict:
    return dict(ProductAttribute.objects.filter(product__sku=sku).values_list("name", "value"))


def test_images_categories_and_attributes_land_on_each_variant(channel):
    upsert_products(integration=channel, products=[listing()])
    assert images("MUG-BLUE") == [(A, 1, "alt a"), (B, 2, "alt b")]
    assert images("MUG-RED") == [(C, 1, ""), (A, 2, "alt a"), (B, 3, "alt b")]  # its own image first
    assert attributes("MUG-BLUE") == {"Brand": "Acme", "Color": "Blue"}
    assert set(Product.objects.values_list("category", flat=True)) == {"Kitchen > Mugs"}


def test_a_reimport_removes_reorders_and_never_duplicates(channel):
    upsert_products(integration=channel, products=[listing()])
    upsert_products(integration=channel, products=[listing(images=(B,), attributes={"Brand": "Acme Co"},
                                                           minutes=5)])
    assert images("MUG-BLUE") == [(B, 1, "alt b")]  # A removed at the channel → removed here; B moved up
    assert images("MUG-RED") == [(C, 1, ""), (B, 2, "alt b")]
    assert attributes("MUG-RED") == {"Brand": "Acme Co", "Color": "Red"}
    upsert_products(integration=channel, products=[listing(images=(B, A), minutes=10)])
    upsert_products(integration=channel, products=[listing(images=(B, A), minutes=10)])  # the same again
    assert images("MUG-BLUE") == [(B, 1, "alt b"), (A, 2, "alt a")]
    assert ProductImage.objects.count() == 5 and ProductAttribute.objects.count() == 4


def test_an_unchanged_listing_writes_no_catalogue(channel):
    upsert_products(integration=channel, products=[listing()])
    with CaptureQueriesContext(connection) as queries:
        upsert_products(integration=channel, products=[listing()])
    assert not [q for q in queries.captured_queries if "commerce_productimage" in q["sql"]]


def test_two_channels_keep_their_own_pictures(channel, second_channel):
    upsert_products(integration=channel, products=[listing(images=(A,))])
    upsert_products(integration=second_channel, products=[listing(images=(C,), category="")])
    upsert_products(integration=second_channel, products=[listing(images=(), category="", minutes=5)])
    assert images("MUG-BLUE", channel) == [(A, 1, "alt a")]  # the other channel's re-import left it alone
    assert images("MUG-BLUE", second_channel) == []
    assert Product.objects.get(sku="MUG-BLUE").category == "Kitchen > Mugs"  # no category does not blank it


def test_malformed_images_and_attributes_are_left_out_not_the_product(channel):
    record = listing(images=("ftp://cdn.example.com/x.jpg", "", A, A), attributes={"": "x", "Brand": None})
    result = upsert_products(integration=channel, products=[record])
    assert result.created == 1 and result.failed == []
    assert images("MUG-BLUE") == [(A, 1, "alt a")]
    assert attributes("MUG-BLUE") == {"Brand": "", "Color": "Blue"}


def test_a_connector_that_says_nothing_about_the_catalogue_leaves_it(channel):
    upsert_products(integration=channel, products=[listing()])
    bare = {k: v for k, v in listing(minutes=5).items() if k not in ("images", "attributes", "category")}
    bare["variants"] = [{k: v for k, v in variant.items() if k not in ("images", "attributes")}
                        for variant in bare["variants"]]
    upsert_products(integration=channel, products=[bare])
    assert len(images("MUG-BLUE")) == 2 and attributes("MUG-BLUE")["Color"] == "Blue"


def test_the_products_api_shows_the_catalogue(channel, viewer_api):
    upsert_products(integration=channel, products=[listing()])
    [row] = viewer_api.get("/api/products/?sku=MUG-RED").json()["results"]
    assert row["category"] == "Kitchen > Mugs"
    assert row["images"] == [{"url": C, "position": 1, "alt": "", "integration": channel.code},
                             {"url": A, "position": 2, "alt": "alt a", "integration": channel.code},
                             {"url": B, "position": 3, "alt": "alt b", "integration": channel.code}]
    assert row["attributes"] == [{"name": "Brand", "value": "Acme", "integration": channel.code},
                                 {"name": "Color", "value": "Red", "integration": channel.code}]
    found = viewer_api.get("/api/products/?category=mugs").json()["results"]
    assert {r["sku"] for r in found} == {"MUG-BLUE", "MUG-RED"}
    assert viewer_api.get("/api/products/?category=shoes").json()["results"] == []


def test_the_admin_shows_thumbnails_and_attributes(channel, client, org):
    upsert_products(integration=channel, products=[listing(images=('https://cdn.example.com/a.jpg?x="1"&y=2',))])
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    listing_page = client.get("/admin/commerce/product/").content.decode()
    assert '<img src="https://cdn.example.com/a.jpg?x=&quot;1&quot;&amp;y=2"' in listing_page  # escaped
    product = Product.objects.get(sku="MUG-BLUE")
    page = client.get(f"/admin/commerce/product/{product.pk}/change/").content.decode()
    assert page.count('loading="lazy"') == 1 and "Kitchen &gt; Mugs" in page
    assert "Acme" in page and "Color" in page and "Blue" in page
