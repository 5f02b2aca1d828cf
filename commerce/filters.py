"""Query-string filters of the commerce API; a malformed value is a VALIDATION_ERROR, never silently ignored."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from config.api import DateTimeFilter, IdFilter

from .models import Order, OrderStatus, Product, ProductStatus, StockLevel
from .selectors import stock_level_low


class ProductFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(help_text="Exact SKU.")
    status = django_filters.ChoiceFilter(choices=ProductStatus.choices)
    category = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the category path.")

    class Meta:
        model = Product
        fields = ["sku", "status", "category"]


class StockLevelFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter(field_name="product__sku", help_text="Exact SKU.")
    location = django_filters.CharFilter()
    low_stock = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")], coerce=lambda v: v == "true", method="filter_low",
        help_text="true: only levels whose on_hand − reserved is at or below the threshold; false: the others.",
    )

    class Meta:
        model = StockLevel
        fields = ["sku", "location", "low_stock"]

    @extend_schema_field(OpenApiTypes.STR)  # the choices above say which strings; no model field to read
    def filter_low(self, queryset, name, value):
        low = stock_level_low(queryset)
        return low if value else queryset.exclude(pk__in=low.values("pk"))


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, help_text="Repeat for several.")
    integration = IdFilter(field_name="integration_id", help_text="An integration id.")
    placed_after = DateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = DateTimeFilter(field_name="placed_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "integration", "placed_after", "placed_before"]
