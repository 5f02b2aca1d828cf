"""The ERP's own commerce records: what the syncs and webhooks fill, and what the channels are kept in step with.

Only `commerce.services` writes these rows. Constraints the services rely on live
in the database, not in Python, so two workers importing the same order at once
still end with one Order (`order_integration_external_id`), one ExternalRef per
provider object (`externalref_unique`) and one pending inventory push per
channel and product (`inventorypush_unique`).

Money is Decimal with its currency; every timestamp is aware (USE_TZ). Customer
personal data (email, phone, addresses) lives on Order only; `__str__` and list
views never show it unmasked.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from accounts.models import Organization
from integrations.models import Integration

MONEY = {"max_digits": 14, "decimal_places": 4}


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"
    # After the hand-over to the carrier, as its tracking says (commerce/services/lifecycle.py).
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"
    RETURNED = "returned", "Returned"


# Statuses a courier's (or channel's) tracking sets on a fully shipped order; none of them holds stock.
TRACKED_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED,
                              OrderStatus.DELIVERY_FAILED, OrderStatus.RETURNED})
# Statuses in which an order still holds stock for its unfulfilled quantities.
RESERVING_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED})
# Statuses in which an order waits to be shipped.
AWAITING_FULFILLMENT = (OrderStatus.PAID, OrderStatus.PARTIALLY_FULFILLED)


class ProductStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Product(models.Model):
    """One sellable SKU of an organization, whichever channels list it (a channel's variant is one Product)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    barcode = models.CharField(max_length=100, blank=True, default="")
    category = models.CharField(
        max_length=500, blank=True, default="",
        help_text="The channel's category path (\"Apparel > Shirts\"); the last channel that named one wins.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [models.UniqueConstraint(fields=["organization", "sku"], name="product_org_sku")]

    def __str__(self) -> str:
        return self.sku


class ProductImage(models.Model):
    """One image of a product as one channel lists it (a re-import of that channel replaces its set, in order)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+",
                                    help_text="The channel whose catalogue lists the image.")
    url = models.URLField(max_length=2000)
    position = models.PositiveIntegerField(default=1, help_text="1 = the main image.")
    alt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["product", "integration", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "integration", "url"], name="productimage_unique_url"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} #{self.position}"


class ProductAttribute(models.Model):
    """One attribute (Color: Red, Brand: Acme) of a product as one channel lists it."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="attributes")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+",
                                    help_text="The channel whose catalogue gives the attribute.")
    name = models.CharField(max_length=200)
    value = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["product", "integration", "name"]
        constraints = [
            models.UniqueConstraint(fields=["product", "integration", "name"], name="productattribute_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class StockLevel(models.Model):
    """Stock of one product at one location. Sellable = on_hand − reserved (reserved: held by open orders)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stock_levels")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_levels")
    location = models.CharField(max_length=100)
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__sku", "location"]
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stocklevel_product_location"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_not_negative"),
        ]
        indexes = [models.Index(fields=["organization", "location"], name="stocklevel_org_location")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def is_low(self) -> bool:
        return self.available <= self.low_stock_threshold


class Order(models.Model):
    # No index of their own for these two foreign keys: the indexes below (organization first) and the unique
    # (integration, external_id) lead with them and serve every lookup by them; each extra index was one more
    # write per imported order (issue 18).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="orders", db_index=False)
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders",
        help_text="The channel the order came from.", db_index=False,
    )
    external_id = models.CharField(max_length=255, blank=True, default="", help_text="The channel's order id.")
    external_number = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    channel_status = models.JSONField(default=dict, blank=True, help_text="The channel's own status fields.")
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, default=0)
    total_discounts = models.DecimalField(**MONEY, default=0)
    total_tax = models.DecimalField(**MONEY, default=0)
    total_shipping = models.DecimalField(**MONEY, default=0)
    total = models.DecimalField(**MONEY, default=0)
    customer_external_id = models.CharField(max_length=255, blank=True, default="")
    customer_name = models.CharField(max_length=300, blank=True, default="")
    customer_email = models.EmailField(max_length=254, blank=True, default="")
    customer_accepts_marketing = models.BooleanField(
        null=True, blank=True,
        help_text="The buyer's email marketing consent as the channel reported it with this order; empty: unknown.",
    )
    shipping_address = models.JSONField(default=dict, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    placed_at = models.DateTimeField()
    external_updated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True, help_text="When it first became fulfilled.")
    seconds_to_fulfil = models.PositiveIntegerField(null=True, blank=True, help_text="fulfilled_at − placed_at.")
    shipped_at = models.DateTimeField(null=True, blank=True, help_text="When the carrier first had it (tracking).")
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When the carrier delivered it.")
    returned_at = models.DateTimeField(null=True, blank=True, help_text="When it became returned.")
    tracking_at = models.DateTimeField(null=True, blank=True,
                                       help_text="Time of the newest tracking event applied; older ones are ignored.")
    stock_location = models.CharField(max_length=100, blank=True, default="", help_text="Where its stock is held.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            # NULLs are distinct: orders entered by hand (no integration) never collide.
            models.UniqueConstraint(fields=["integration", "external_id"], name="order_integration_external_id"),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "placed_at"], name="order_org_status_placed"),
            models.Index(fields=["organization", "placed_at"], name="order_org_placed"),
            models.Index(fields=["organization", "external_number"], name="order_org_number"),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_number or self.pk}"

    @property
    def country_code(self) -> str:
        return str((self.shipping_address or {}).get("country_code") or "").upper()


class OrderLine(models.Model):
    # Indexed by the unique (order, external_id), which leads with it (see Order).
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    external_id = models.CharField(max_length=255)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_lines")
    sku = models.CharField(max_length=100, blank=True, default="")
    title = models.CharField(max_length=300, blank=True, default="")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    fulfilled_quantity = models.PositiveIntegerField(default=0)
    reserved_quantity = models.PositiveIntegerField(
        default=0, help_text="Units this line holds in StockLevel.reserved at the order's stock location."
    )
    returned_quantity = models.PositiveIntegerField(default=0, help_text="Units returned and restocked.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="orderline_order_external_id"),
            models.CheckConstraint(
                condition=Q(fulfilled_quantity__lte=F("quantity")), name="orderline_fulfilled_lte_qty"
            ),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("quantity")), name="orderline_returned_lte_qty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku or self.title} × {self.quantity}"

    @property
    def open_quantity(self) -> int:
        return max(0, self.quantity - self.fulfilled_quantity)


class PushStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUSHING = "pushing", "Pushing"
    PUSHED = "pushed", "Pushed"
    FAILED = "failed", "Failed"
    NOT_REQUIRED = "not_required", "Not required (channel takes no fulfillments)"


class Fulfillment(models.Model):
    """A shipment of some or all of an order's lines, and whether its tracking number reached the channel."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="fulfillments")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfillments")
    carrier = models.CharField(max_length=100)
    carrier_code = models.CharField(max_length=64, blank=True, default="")
    tracking_number = models.CharField(max_length=100)
    push_status = models.CharField(max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING)
    push_attempts = models.PositiveIntegerField(default=0)
    push_claimed_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.TextField(blank=True, default="")
    external_id = models.CharField(max_length=255, blank=True, default="", help_text="The channel's fulfillment id.")
    courier = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The courier integration that booked the shipment (its label comes from there); empty = none.",
    )
    delivery_pushed_at = models.DateTimeField(null=True, blank=True,
                                              help_text="When the channel was told the parcel was delivered.")
    delivery_push_error = models.TextField(blank=True, default="")
    delivery_push_attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the channel was last asked to confirm the delivery (whatever came of "
                                         "it); empty = never, which the sweeper looks for.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "push_status"], name="fulfillment_org_push")]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class FulfillmentLine(models.Model):
    fulfillment = models.ForeignKey(Fulfillment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="fulfillment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fulfillment", "order_line"], name="fulfillmentline_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class ResourceType(models.TextChoices):
    ORDER = "order", "Order"
    PRODUCT = "product", "Product (channel listing)"
    VARIANT = "variant", "Variant → Product"
    INVENTORY_ITEM = "inventory_item", "Inventory item → Product"
    INVENTORY_LEVEL = "inventory_level", "Inventory level → StockLevel"
    # The ads app's records (ads/models.py) are tied to their integration the same way.
    AD_ACCOUNT = "ad_account", "Ad account → AdAccount"
    CAMPAIGN = "campaign", "Campaign → Campaign"
    AD_SET = "ad_set", "Ad set / ad group → AdSet"
    MARKETING_CAMPAIGN = "marketing_campaign", "Marketing campaign (CRM) → MarketingCampaign"


class ExternalRef(models.Model):
    """One provider object ↔ the local row it became, with the newest version seen (time and payload hash).

    The row is also the lock point of an import: the services insert it first
    (ON CONFLICT DO NOTHING) and then lock it, so two transactions importing the
    same provider object take turns instead of both creating a row.
    """

    # Indexed by the unique (integration, resource_type, external_id), which leads with it (see Order).
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="external_refs",
                                    db_index=False)
    resource_type = models.CharField(max_length=32, choices=ResourceType.choices)
    external_id = models.CharField(max_length=255)
    object_id = models.BigIntegerField(null=True, blank=True, help_text="The local row's id (null: not yet written).")
    external_updated_at = models.DateTimeField(null=True, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "resource_type", "external_id"], name="externalref_unique"),
        ]
        indexes = [models.Index(fields=["resource_type", "object_id"], name="externalref_object")]

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.external_id}"


class InventoryPush(models.Model):
    """A pending push of one product's sellable stock to one channel: at most one row per (channel, product).

    A burst of stock changes bumps `requested_at` on the same row instead of
    adding rows, so the channel gets one push carrying the latest figure. The
    push task deletes the row only if it was not requested again meanwhile.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inventory_pushes")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="inventory_pushes")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="inventory_pushes")
    requested_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["requested_at"]
        verbose_name_plural = "inventory pushes"
        constraints = [models.UniqueConstraint(fields=["integration", "product"], name="inventorypush_unique")]

    def __str__(self) -> str:
        return f"push {self.product_id} → {self.integration_id}"


class ChannelLocation(models.Model):
    """A stock location of a channel (a Shopify location, a TikTok warehouse, a marketplace's one figure).

    A sync offers the channel's locations as rows with no `erp_location`; the
    operator maps each to one ERP stock location. Imported levels land at the
    mapped ERP location and pushes go per mapped location; an unmapped
    location is reported, never guessed. Two channel locations of one channel
    cannot share an ERP location: the ERP's quantity would be sold twice.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channel_locations")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="channel_locations")
    external_id = models.CharField(max_length=100, help_text="The channel's location id.")
    name = models.CharField(max_length=200, blank=True, default="")
    erp_location = models.CharField(max_length=100, blank=True, default="",
                                    help_text="The ERP stock location it maps to; blank = not mapped.")
    pushable = models.BooleanField(default=True, help_text="The channel accepts stock writes here (FBA does not).")
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="When the channel last listed it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration_id", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "external_id"], name="channellocation_unique"),
            models.UniqueConstraint(fields=["integration", "erp_location"], condition=~Q(erp_location=""),
                                    name="channellocation_one_per_erp_location"),
        ]

    def __str__(self) -> str:
        target = self.erp_location or "unmapped"
        return f"{self.name or self.external_id} → {target}"

    @property
    def mapped(self) -> bool:
        return bool(self.erp_location)


class ChannelStock(models.Model):
    """What one channel location last said about one product, and what the hub last wrote there.

    `channel_quantity` is the channel's latest confirmed figure (a pull, a
    webhook, or the answer to our own write) at `reported_at` (the channel's
    time when it gives one). A push is due only when the ERP's quantity differs
    from it, so a webhook that echoes our own write changes nothing; a report
    older than `reported_at` is stale and ignored.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channel_stock")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="channel_stock")
    channel_location = models.ForeignKey(ChannelLocation, on_delete=models.CASCADE, related_name="stock")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="channel_stock")
    inventory_item_id = models.CharField(max_length=255, help_text="The channel's stock id of the product.")
    channel_quantity = models.IntegerField(null=True, blank=True, help_text="null: the channel does not track it.")
    reported_at = models.DateTimeField(null=True, blank=True)
    pushed_quantity = models.IntegerField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "channel stock level"
        verbose_name_plural = "channel stock (drift)"
        ordering = ["channel_location_id", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["channel_location", "product"], name="channelstock_unique"),
        ]
        indexes = [models.Index(fields=["integration", "product"], name="channelstock_int_product")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.channel_location_id}: {self.channel_quantity}"


class AutoFulfillRule(models.Model):
    """When an order matches (channel, paid, all lines in stock, destination country), ship it with a courier.

    Rules are tried by ascending priority; the first that matches an order wins.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="auto_fulfill_rules")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    channel = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="Only orders from this channel; empty = any channel.",
    )
    require_paid = models.BooleanField(default=True, help_text="Only orders whose status is paid.")
    require_in_stock = models.BooleanField(default=True, help_text="Only orders whose every line is in stock.")
    destination_countries = models.JSONField(
        default=list, blank=True, help_text='ISO country codes of the shipping address, e.g. ["RO", "BG"]; [] = any.'
    )
    courier = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="+",
        help_text="A courier integration whose connector creates shipments.",
    )
    carrier_code = models.CharField(max_length=64, blank=True, default="", help_text="Service code for the courier.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


# After-shipment records (tracking events, labels, returns) live in their own module; Django finds them here.
from .shipping import (  # noqa: E402, F401 (re-exported: commerce.models is where callers find records)
    LabelSource,
    Return,
    ReturnLine,
    ReturnSource,
    ShippingLabel,
    TrackingEvent,
)
