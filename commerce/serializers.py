"""Shapes of the commerce API: strict input; output that masks customer personal data in lists.

Money leaves as a string (exact, never a float) with its currency: two decimals
unless the amount has more (a three-decimal currency keeps them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictCharField, StrictInputSerializer, StrictIntegerField
from integrations.models import StockMode

from .masking import mask_address, mask_email
from .models import (
    ChannelLocation,
    Fulfillment,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ProductAttribute,
    ProductImage,
    StockLevel,
)

CENT = Decimal("0.01")


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    def to_representation(self, value: Decimal) -> str | None:
        if value is None:
            return None
        return str(value.quantize(CENT)) if value == value.quantize(CENT) else str(value.normalize())


class IntegrationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    provider = serializers.CharField()


# ---------------------------------------------------------------- products and stock
class StockFigureSerializer(serializers.ModelSerializer):
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "location", "on_hand", "reserved", "available", "low_stock_threshold"]


class ProductImageSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.code", read_only=True,
                                        help_text="The code of the channel whose catalogue lists the image.")

    class Meta:
        model = ProductImage
        fields = ["url", "position", "alt", "integration"]


class ProductAttributeSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.code", read_only=True,
                                        help_text="The code of the channel whose catalogue gives the attribute.")

    class Meta:
        model = ProductAttribute
        fields = ["name", "value", "integration"]


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField()
    stock = StockFigureSerializer(source="stock_levels", many=True, read_only=True)
    images = ProductImageSerializer(many=True, read_only=True)
    attributes = ProductAttributeSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "status", "price", "currency", "barcode", "category", "images", "attributes",
                  "stock", "created_at", "updated_at"]


class ProductRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name"]


class StockLevelSerializer(serializers.ModelSerializer):
    product = ProductRefSerializer(read_only=True)
    available = serializers.IntegerField(read_only=True)
    is_low = serializers.BooleanField(read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "product", "location", "on_hand", "reserved", "available", "low_stock_threshold", "is_low",
                  "updated_at"]


class StockAdjustSerializer(StrictInputSerializer):
    """Either `delta` (added to on_hand) or `on_hand` (the counted figure); optionally a new threshold."""

    delta = StrictIntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    on_hand = StrictIntegerField(required=False, min_value=0, max_value=100_000_000)
    low_stock_threshold = StrictIntegerField(required=False, min_value=0, max_value=1_000_000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "delta" in attrs and "on_hand" in attrs:
            raise serializers.ValidationError({"delta": ["Give either delta or on_hand, not both."]})
        if not attrs:
            raise serializers.ValidationError({"on_hand": ["Give delta, on_hand or low_stock_threshold."]})
        return attrs


# ---------------------------------------------------------------- orders
class OrderLineSerializer(serializers.ModelSerializer):
    unit_price = MoneyField()
    total = MoneyField()

    class Meta:
        model = OrderLine
        fields = ["id", "external_id", "product", "sku", "title", "quantity", "unit_price", "total",
                  "fulfilled_quantity", "reserved_quantity"]


class FulfillmentSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Fulfillment
        fields = ["id", "carrier", "carrier_code", "tracking_number", "push_status", "push_attempts", "pushed_at",
                  "push_error", "external_id", "lines", "created_at"]

    @extend_schema_field({"type": "array", "items": {"type": "object"}})
    def get_lines(self, obj: Fulfillment) -> list[dict[str, Any]]:
        return [{"line_id": fl.order_line_id, "sku": fl.order_line.sku, "quantity": fl.quantity}
                for fl in obj.lines.all()]


class OrderListSerializer(serializers.ModelSerializer):
    """A row of a list: the customer's email masked, the destination reduced to city and country."""

    integration = IntegrationRefSerializer(read_only=True, allow_null=True)
    total = MoneyField()
    customer_email = serializers.SerializerMethodField()
    destination = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "integration", "external_id", "external_number", "status", "currency", "total",
                  "customer_email", "destination", "placed_at", "fulfilled_at", "created_at", "updated_at"]

    def get_customer_email(self, obj: Order) -> str:
        return mask_email(obj.customer_email)

    @extend_schema_field({"type": "object"})
    def get_destination(self, obj: Order) -> dict[str, str]:
        return mask_address(obj.shipping_address)


class OrderDetailSerializer(serializers.ModelSerializer):
    """One order, for the people who ship it: with the customer's contact and addresses."""

    integration = IntegrationRefSerializer(read_only=True, allow_null=True)
    subtotal = MoneyField()
    total_discounts = MoneyField()
    total_tax = MoneyField()
    total_shipping = MoneyField()
    total = MoneyField()
    lines = OrderLineSerializer(many=True, read_only=True)
    fulfillments = FulfillmentSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "integration", "external_id", "external_number", "name", "status", "channel_status",
                  "currency", "subtotal", "total_discounts", "total_tax", "total_shipping", "total",
                  "customer_external_id", "customer_name", "customer_email", "customer_accepts_marketing",
                  "shipping_address", "billing_address", "placed_at", "external_updated_at", "cancelled_at",
                  "fulfilled_at", "seconds_to_fulfil", "stock_location", "lines", "fulfillments", "created_at",
                  "updated_at"]


class FulfillLineInputSerializer(StrictInputSerializer):
    line_id = StrictIntegerField(required=False, min_value=1)
    sku = StrictCharField(required=False, max_length=100)
    quantity = StrictIntegerField(required=False, min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("line_id" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError({"line_id": ["Name the line by line_id or by sku (one of them)."]})
        return attrs


class FulfillSerializer(StrictInputSerializer):
    tracking_number = StrictCharField(max_length=100)
    carrier = StrictCharField(max_length=100)
    carrier_code = StrictCharField(required=False, allow_blank=True, max_length=64)
    lines = FulfillLineInputSerializer(many=True, required=False, help_text="Leave out to ship everything open.")


class BulkFulfillItemSerializer(FulfillSerializer):
    order_id = StrictIntegerField(min_value=1)


class BulkFulfillSerializer(StrictInputSerializer):
    orders = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=500,
        help_text="Each {order_id, tracking_number, carrier, carrier_code?, lines?}; each is checked on its own.",
    )


class BulkFulfillResultSerializer(serializers.Serializer):
    fulfilled = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField())


class OrderStatusSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)


class AnalyticsQuerySerializer(StrictInputSerializer):
    placed_after = serializers.DateTimeField(required=False)
    placed_before = serializers.DateTimeField(required=False)


class AnalyticsSerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_channel = serializers.ListField(child=serializers.DictField())
    fulfilled = serializers.IntegerField()
    fulfilled_within_24h = serializers.IntegerField()
    fulfilled_within_48h = serializers.IntegerField()
    average_hours_to_fulfil = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    failed_pushes = serializers.IntegerField()


class ChannelLocationSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id", read_only=True)
    mapped = serializers.BooleanField(read_only=True)

    class Meta:
        model = ChannelLocation
        fields = ["id", "integration", "external_id", "name", "erp_location", "mapped", "pushable", "last_seen_at",
                  "updated_at"]
        read_only_fields = fields


class ChannelLocationMapSerializer(StrictInputSerializer):
    """The ERP stock location a channel location maps to; "" unmaps it."""

    erp_location = StrictCharField(max_length=100, allow_blank=True, trim_whitespace=True)


class ChannelLocationDiscoverSerializer(StrictInputSerializer):
    integration = StrictIntegerField(min_value=1)


class ChannelLocationDiscoverResultSerializer(serializers.Serializer):
    locations = serializers.IntegerField()
    new = serializers.ListField(child=serializers.CharField())
    unmapped = serializers.ListField(child=serializers.CharField())


class StockModeSerializer(StrictInputSerializer):
    stock_mode = serializers.ChoiceField(choices=StockMode.choices)


class StockModeResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    stock_mode = serializers.CharField()


class StockDriftSerializer(serializers.Serializer):
    integration = serializers.IntegerField(source="integration_id")
    integration_code = serializers.CharField()
    stock_mode = serializers.CharField()
    channel_location = serializers.CharField()
    erp_location = serializers.CharField()
    sku = serializers.CharField()
    channel_quantity = serializers.IntegerField(allow_null=True)
    erp_quantity = serializers.IntegerField()
    difference = serializers.IntegerField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)
