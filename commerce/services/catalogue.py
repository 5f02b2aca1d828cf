"""A product's catalogue from a channel: its images (URLs in order), category and attributes.

Connectors normalize a listing (connectors/*/mapping.py `normalize_product`) with optional
catalogue keys, on the listing and on each variant:

    {"category": "Apparel > Shirts",
     "images": [{"url": "https://…/front.jpg", "alt": "Front"}, …],       # in the channel's order
     "attributes": [{"name": "Brand", "value": "Acme"}, …],
     "variants": [{…, "images": [{"url": …}], "attributes": [{"name": "Size", "value": "M"}]}]}

A variant (one ERP Product) gets its own images first, then the listing's it does not already have;
positions are that order, 1 = the main image. Its attributes are the listing's, overlaid by its own
(the variant's Size wins over nothing, its Color over the listing's). What each channel lists is kept
apart (ProductImage/ProductAttribute carry the integration), so two channels listing one SKU never
erase each other's pictures; a re-import of one channel replaces that channel's set exactly: an image
gone from the channel is deleted, a moved one changes position, nothing is duplicated. Category is a
Product field; a listing without one leaves it as it was (a channel with no taxonomy, Amazon's
listings say, does not blank the category another channel gave).

What can go wrong: a malformed image (no http(s) URL) or attribute (no name) is left out, not the
product: a picture never stops a SKU's import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from integrations.models import Integration

from ..models import Product, ProductAttribute, ProductImage

URL_LIMIT = 2000
ALT_LIMIT = 500
NAME_LIMIT = 200
VALUE_LIMIT = 1000
CATEGORY_LIMIT = 500


@dataclass
class Catalogue:
    """One Product's catalogue from one channel: images [(url, alt)] in order, attributes {name: value}."""

    images: list[tuple[str, str]] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    category: str = ""


def catalogue_of(listing: dict[str, Any], variant: dict[str, Any]) -> Catalogue:
    """The catalogue of one variant of a normalized listing (see the module docstring for the merge)."""
    images: list[tuple[str, str]] = []
    seen: set[str] = set()
    for image in [*_images(variant.get("images")), *_images(listing.get("images"))]:
        if image[0] not in seen:
            seen.add(image[0])
            images.append(image)
    attributes = {**_attributes(listing.get("attributes")), **_attributes(variant.get("attributes"))}
    category = str(variant.get("category") or listing.get("category") or "").strip()[:CATEGORY_LIMIT]
    return Catalogue(images=images, attributes=attributes, category=category)


def has_catalogue(listing: dict[str, Any]) -> bool:
    """Whether the connector says anything about the catalogue (keys absent: the set is left as it is)."""
    keys = ("images", "attributes", "category")
    return any(k in listing for k in keys) or any(k in v for v in listing.get("variants") or [] for k in keys)


def catalogue_replace(*, integration: Integration, catalogues: dict[int, Catalogue]) -> None:
    """Make each Product's images/attributes from this channel exactly `catalogues[product_id]`.

    Runs in the caller's transaction; a few statements for the whole page, whatever its size: one
    read per table, one delete, one insert, one update.
    """
    if not catalogues:
        return
    _replace_images(integration, catalogues)
    _replace_attributes(integration, catalogues)
    by_category: dict[str, list[int]] = defaultdict(list)
    for product_id, catalogue in catalogues.items():
        if catalogue.category:
            by_category[catalogue.category].append(product_id)
    for category, product_ids in by_category.items():
        Product.objects.filter(pk__in=product_ids).exclude(category=category).update(category=category)


def _replace_images(integration: Integration, catalogues: dict[int, Catalogue]) -> None:
    existing: dict[tuple[int, str], ProductImage] = {
        (image.product_id, image.url): image
        for image in ProductImage.objects.filter(integration=integration, product_id__in=list(catalogues))
    }
    wanted: set[tuple[int, str]] = set()
    to_create, to_update = [], []
    for product_id, catalogue in catalogues.items():
        for position, (url, alt) in enumerate(catalogue.images, start=1):
            wanted.add((product_id, url))
            row = existing.get((product_id, url))
            if row is None:
                to_create.append(ProductImage(product_id=product_id, integration=integration, url=url,
                                              position=position, alt=alt))
            elif (row.position, row.alt) != (position, alt):
                row.position, row.alt = position, alt
                to_update.append(row)
    gone = [row.pk for key, row in existing.items() if key not in wanted]
    if gone:
        ProductImage.objects.filter(pk__in=gone).delete()
    if to_update:
        ProductImage.objects.bulk_update(to_update, ["position", "alt"])
    if to_create:  # a concurrent import of the same listing may have inserted a row first: it holds the same URL
        ProductImage.objects.bulk_create(to_create, ignore_conflicts=True)


def _replace_attributes(integration: Integration, catalogues: dict[int, Catalogue]) -> None:
    existing: dict[tuple[int, str], ProductAttribute] = {
        (row.product_id, row.name): row
        for row in ProductAttribute.objects.filter(integration=integration, product_id__in=list(catalogues))
    }
    wanted: set[tuple[int, str]] = set()
    to_create, to_update = [], []
    for product_id, catalogue in catalogues.items():
        for name, value in catalogue.attributes.items():
            wanted.add((product_id, name))
            row = existing.get((product_id, name))
            if row is None:
                to_create.append(ProductAttribute(product_id=product_id, integration=integration, name=name,
                                                  value=value))
            elif row.value != value:
                row.value = value
                to_update.append(row)
    gone = [row.pk for key, row in existing.items() if key not in wanted]
    if gone:
        ProductAttribute.objects.filter(pk__in=gone).delete()
    if to_update:
        ProductAttribute.objects.bulk_update(to_update, ["value"])
    if to_create:
        ProductAttribute.objects.bulk_create(to_create, ignore_conflicts=True)


def _images(value: Any) -> list[tuple[str, str]]:
    found = []
    for image in value if isinstance(value, list) else []:
        url = image.get("url") if isinstance(image, dict) else image
        url = str(url or "").strip()
        if url.startswith(("https://", "http://")) and len(url) <= URL_LIMIT:
            alt = str(image.get("alt") or "")[:ALT_LIMIT] if isinstance(image, dict) else ""
            found.append((url, alt))
    return found


def _attributes(value: Any) -> dict[str, str]:
    pairs = value.items() if isinstance(value, dict) else (
        ((a.get("name"), a.get("value")) for a in value if isinstance(a, dict)) if isinstance(value, list) else ())
    found = {}
    for name, attr_value in pairs:
        name = str(name or "").strip()[:NAME_LIMIT]
        if name:
            found[name] = "" if attr_value is None else str(attr_value).strip()[:VALUE_LIMIT]
    return found


class CommerceCatalogue:
    """The catalogue port's implementation (connectors/catalogue.py): product ids by SKU, for connectors below
    (the Drive scan attaching images by file name)."""

    def product_ids_by_sku(self, *, organization_id: int, skus: Iterable[str]) -> dict[str, int]:
        wanted = sorted({str(sku) for sku in skus if sku})
        if not wanted:
            return {}
        return dict(Product.objects.filter(organization_id=organization_id, sku__in=wanted).values_list("sku", "pk"))
