"""The catalogue port's implementation (connectors/catalogue.py): product ids by SKU, for connectors below."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Product


class CommerceCatalogue:
    def product_ids_by_sku(self, *, organization_id: int, skus: Iterable[str]) -> dict[str, int]:
        wanted = sorted({str(sku) for sku in skus if sku})
        if not wanted:
            return {}
        return dict(Product.objects.filter(organization_id=organization_id, sku__in=wanted).values_list("sku", "pk"))
