"""The commerce admin: orders with their lines and shipments, products with stock per location, rules, pushes.

Records the syncs write are read-only here (the services are the only writers);
operators act through actions that call the services: fulfil with tracking,
push stock now, re-pull an order from its channel, retry a failed push, analyse
the pricing or the stock of the selected products (or of all, the list's buttons). Lists
never show a customer's email or address unmasked.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.audit import record_audit
from analysis.models import AnalysisKind
from commerce.masking import mask_email
from commerce.models import (
    TRACKED_STATUSES,
    AutoFulfillRule,
    ChannelLocation,
    ChannelStock,
    Fulfillment,
    InventoryPush,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ProductAttribute,
    ProductImage,
    Return,
    ReturnLine,
    ShippingLabel,
    StockLevel,
    TrackingEvent,
)
from commerce.selectors import stock_level_low
from commerce.services.channel_stock import channel_location_map
from commerce.services.fulfillment import fulfill, fulfillment_retry_push
from commerce.services.labels import label_read, labels_merge
from commerce.services.returns import return_record
from commerce.services.stock import queue_inventory_push
from config.broker import nudge_on_commit
from config.errors import ApplicationError
from connectors import registry
from connectors.base import Capability
from integrations.models import StockMode
from syncjobs.labels import labels_fetch
from syncjobs.tasks import repull_order

from ..filters import IntegrationInScopeFilter
from ..formatting import address, money
from ..pagination import LargeTablePaginator
from ..scoping import OrganizationScopedAdmin
from .analysis import analyse_all_buttons, analyse_rows

ACTION_LIMIT = 100


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        """Whoever may see the parent record sees its rows (roles are per organization, not Django permissions)."""
        parent = self.admin_site._registry.get(self.parent_model)
        if parent is None:
            return super().has_view_permission(request, obj)
        return parent.has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LowStockFilter(admin.SimpleListFilter):
    """Levels (or products with a level) whose sellable stock is at or below the threshold."""

    title = "stock"
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", "Low stock")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        if queryset.model is StockLevel:
            return stock_level_low(queryset)
        return queryset.filter(pk__in=stock_level_low(StockLevel.objects.all()).values("product_id"))


# ---------------------------------------------------------------------- products and stock
class StockLevelInline(ReadOnlyInline):
    model = StockLevel
    fields = ("location", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at")
    readonly_fields = fields

    @admin.display(description="available")
    def available(self, obj):
        return obj.available


THUMBNAIL = ('<img src="{}" alt="{}" loading="lazy" referrerpolicy="no-referrer" '
             'style="height:{}px;max-width:{}px;object-fit:contain">')


def thumbnail(url: str | None, alt: str = "", size: int = 48):
    """An <img> of a channel's image URL (escaped; lazy, no referrer sent to the channel's CDN), or a dash."""
    return format_html(THUMBNAIL, url, alt, size, size * 2) if url else "—"


class ProductCatalogueInline(ReadOnlyInline):
    """Shown to whoever may view the product (ProductAdmin scoped that), not only to holders of model perms:
    an inline only ever lists the rows of the product whose page it is on."""

    def has_view_permission(self, request, obj=None):
        return True


class ProductImageInline(ProductCatalogueInline):
    """The product's images as each channel lists them, in order (a channel's re-import replaces its set)."""

    model = ProductImage
    fields = ("preview", "position", "integration", "url", "alt")
    readonly_fields = fields

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj.url, obj.alt, size=72)


class ProductAttributeInline(ProductCatalogueInline):
    model = ProductAttribute
    fields = ("integration", "name", "value")
    readonly_fields = fields


@admin.register(Product)
class ProductAdmin(OrganizationScopedAdmin):
    list_display = ("main_image", "sku", "name", "category", "status", "on_hand", "reserved", "organization")
    list_display_links = ("sku",)
    list_filter = ("status", LowStockFilter)
    search_fields = ("sku", "name", "barcode", "category")
    readonly_fields = ("organization", "sku", "category", "created_at", "updated_at")
    inlines = [ProductImageInline, ProductAttributeInline, StockLevelInline]
    # Pricing and stock are two actions, not one: they answer different questions, each run costs its own tokens,
    # and the operator who selected products to reprice has not asked for reorders.
    actions = ["push_stock_now", "analyse_pricing", "analyse_stock"]
    object_actions = ("push_stock_now",)
    object_action_labels = {"push_stock_now": "Push its stock now"}
    change_list_template = "admin/switchyard/analyse_change_list.html"

    def has_add_permission(self, request):
        return False  # products arrive from the channels and the ERP (their SKU is read only here)

    def changelist_view(self, request, extra_context=None):
        buttons = analyse_all_buttons(self, request, (AnalysisKind.PRICING, AnalysisKind.STOCK))
        return super().changelist_view(request, {**(extra_context or {}), "analyse_buttons": buttons})

    def get_queryset(self, request):
        first_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
        return super().get_queryset(request).annotate(
            total_on_hand=Sum("stock_levels__on_hand"), total_reserved=Sum("stock_levels__reserved"),
            main_image_url=Subquery(first_image.values("url")[:1]))

    @admin.display(description="image")
    def main_image(self, obj):
        return thumbnail(obj.main_image_url, obj.sku)

    @admin.display(description="on hand", ordering="total_on_hand")
    def on_hand(self, obj):
        return obj.total_on_hand or 0

    @admin.display(description="reserved", ordering="total_reserved")
    def reserved(self, obj):
        return obj.total_reserved or 0

    @admin.action(description="Push stock now to every channel that lists it", permissions=["operate"])
    def push_stock_now(self, request, queryset):
        scheduled = 0
        for organization_id in set(queryset.values_list("organization_id", flat=True)):
            products = queryset.filter(organization_id=organization_id)
            with transaction.atomic():
                product_ids = list(products.values_list("pk", flat=True))
                scheduled += queue_inventory_push(organization=products.first().organization,
                                                  product_ids=product_ids, countdown=0)
            record_audit(action="stock.push_requested", request=request, organization=organization_id,
                         details={"products": len(product_ids)})
        self.message_user(request, f"Stock push queued to {scheduled} channel(s).", messages.SUCCESS)

    @admin.action(description="Analyse pricing of selected products", permissions=["operate"])
    def analyse_pricing(self, request, queryset):
        analyse_rows(self, request, queryset, AnalysisKind.PRICING)

    @admin.action(description="Analyse stock of selected products (reorders)", permissions=["operate"])
    def analyse_stock(self, request, queryset):
        analyse_rows(self, request, queryset, AnalysisKind.STOCK)


@admin.register(StockLevel)
class StockLevelAdmin(OrganizationScopedAdmin):
    """Read-only: stock moves through the services (PATCH /api/inventory/{id}/, orders, channel imports)."""

    list_display = ("product", "location", "on_hand", "reserved", "available", "low_stock_threshold", "updated_at")
    list_filter = (LowStockFilter, "location")
    search_fields = ("product__sku", "location")
    list_select_related = ("product",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="available", ordering=F("on_hand") - F("reserved"))
    def available(self, obj):
        return obj.available


# ---------------------------------------------------------------------- orders
class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "title", "quantity", "unit_price_shown", "total_shown", "fulfilled_quantity", "reserved_quantity")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    @admin.display(description="unit price")
    def unit_price_shown(self, obj):
        return money(obj.unit_price, obj.order.currency)

    @admin.display(description="total")
    def total_shown(self, obj):
        return money(obj.total, obj.order.currency)


class FulfillmentInline(ReadOnlyInline):
    model = Fulfillment
    fields = ("carrier", "tracking_number", "push_status", "pushed_at", "push_error", "created_at")
    readonly_fields = fields
    show_change_link = True


class TrackingEventInline(ReadOnlyInline):
    model = TrackingEvent
    fields = ("occurred_at", "tracking_number", "code", "description", "status", "applied")
    readonly_fields = fields
    verbose_name_plural = "tracking events (newest first; applied = moved the order)"


class ShippingLabelInline(ReadOnlyInline):
    model = ShippingLabel
    fields = ("tracking_number", "source", "content_type", "size", "created_at", "download")
    readonly_fields = fields

    @admin.display(description="download")
    def download(self, obj):
        url = reverse("admin:commerce_order_label", args=[obj.order_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.filename)


class ReturnInline(ReadOnlyInline):
    model = Return
    fields = ("external_id", "source", "location", "reason", "created_at")
    readonly_fields = fields
    show_change_link = True


class FulfilForm(forms.Form):
    carrier = forms.CharField(max_length=100)
    carrier_code = forms.CharField(max_length=64, required=False)


@admin.register(Order)
class OrderAdmin(OrganizationScopedAdmin):
    list_display = ("__str__", "channel", "status", "fulfillment_state", "customer", "total_with_currency",
                    "placed_at")
    list_filter = ("status", IntegrationInScopeFilter, "placed_at")  # only the user's organizations' channels
    search_fields = ("external_number", "external_id", "name")
    list_select_related = ("integration",)
    date_hierarchy = "placed_at"
    paginator = LargeTablePaginator  # orders grow by the million: never a full COUNT per page
    show_full_result_count = False
    inlines = [OrderLineInline, FulfillmentInline, ShippingLabelInline, TrackingEventInline, ReturnInline]
    actions = ["fulfil_with_tracking", "fetch_labels", "print_labels", "repull_from_channel"]
    object_actions = ("fulfil_with_tracking", "fetch_labels", "print_labels", "repull_from_channel")
    object_action_labels = {"fulfil_with_tracking": "Fulfil with tracking…", "fetch_labels": "Fetch label",
                            "print_labels": "Download label (PDF)"}

    # Money with its currency's decimals and addresses as lines, in place of the raw figures and JSON.
    shown_instead = {
        **{name: f"{name}_shown" for name in ("subtotal", "total_discounts", "total_tax", "total_shipping",
                                             "total", "shipping_address", "billing_address")},
        "channel_status": "channel_status_shown",
    }

    def get_fields(self, request, obj=None):
        return [self.shown_instead.get(f.name, f.name) for f in Order._meta.fields if f.name != "currency"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("fulfillments")

    @admin.display(description="subtotal")
    def subtotal_shown(self, obj):
        return money(obj.subtotal, obj.currency)

    @admin.display(description="discounts")
    def total_discounts_shown(self, obj):
        return money(obj.total_discounts, obj.currency)

    @admin.display(description="tax")
    def total_tax_shown(self, obj):
        return money(obj.total_tax, obj.currency)

    @admin.display(description="shipping")
    def total_shipping_shown(self, obj):
        return money(obj.total_shipping, obj.currency)

    @admin.display(description="total")
    def total_shown(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description="shipping address")
    def shipping_address_shown(self, obj):
        return address(obj.shipping_address)

    @admin.display(description="billing address")
    def billing_address_shown(self, obj):
        return address(obj.billing_address)

    @admin.display(description="channel's status")
    def channel_status_shown(self, obj):
        status = obj.channel_status or {}
        return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in sorted(status.items())) or "–"

    @admin.display(description="channel", ordering="integration__code")
    def channel(self, obj):
        return obj.integration.code if obj.integration else "—"

    @admin.display(description="customer")
    def customer(self, obj):
        return mask_email(obj.customer_email)

    @admin.display(description="total", ordering="total")
    def total_with_currency(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description="shipping")
    def fulfillment_state(self, obj):
        """Shipments made here, else what the channel reports: a shop that ships by itself has no shipments here,
        and its fulfilled order is "shipped by the channel", not "not shipped". The channel's own word follows."""
        shipments = list(obj.fulfillments.all())
        if shipments:
            failed = sum(1 for f in shipments if f.push_status == "failed")
            return f"{len(shipments)} shipment(s)" + (f", {failed} push failed" if failed else "")
        reported = str((obj.channel_status or {}).get("fulfillment_status") or "")
        said = f" ({reported})" if reported else ""
        if (obj.status == OrderStatus.FULFILLED or obj.status in TRACKED_STATUSES
                or (obj.status == OrderStatus.REFUNDED and obj.fulfilled_at)):
            return f"shipped by the channel{said}"
        if obj.status == OrderStatus.PARTIALLY_FULFILLED:
            return f"partly shipped by the channel{said}"
        if obj.status == OrderStatus.CANCELLED:
            return "–"
        return f"not shipped{said}"

    @admin.action(description="Fulfil with tracking", permissions=["operate"])
    def fulfil_with_tracking(self, request, queryset):
        orders = list(queryset.order_by("pk")[:ACTION_LIMIT])
        if "confirm" not in request.POST:
            return TemplateResponse(request, "admin/commerce/fulfil_orders.html",
                                    {**self.admin_site.each_context(request), "orders": orders,
                                     "title": "Fulfil orders with tracking"})
        form = FulfilForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "A carrier is required.", messages.ERROR)
            return None
        done = 0
        for order in orders:
            tracking = request.POST.get(f"tracking_{order.pk}", "").strip()
            if not tracking:
                continue
            try:
                fulfill(order=order, tracking_number=tracking, **form.cleaned_data)
                record_audit(action="order.fulfilled", request=request, target=order,
                             details={"carrier": str(form.cleaned_data.get("carrier", ""))})
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done} order(s) fulfilled; tracking pushes queued.", messages.SUCCESS)
        return None

    @admin.action(description="Fetch shipping labels (from the courier or channel)", permissions=["operate"])
    def fetch_labels(self, request, queryset):
        fetched = 0
        for organization, ids in _by_organization(queryset.order_by("pk")[:ACTION_LIMIT]).items():
            outcome = labels_fetch(organization=organization, order_ids=ids, missing_only=False)
            fetched += outcome["fetched"]
            for result in outcome["results"]:
                if not result["ok"]:
                    self.message_user(request, f"Order {result['order_id']}: {result['error']['message']}",
                                      messages.ERROR)
        self.message_user(request, f"{fetched} label(s) fetched and stored.", messages.SUCCESS)

    @admin.action(description="Print labels (one PDF)", permissions=["view"])
    def print_labels(self, request, queryset):
        """The selected orders' stored labels as one PDF (fetched first where missing: operators only)."""
        orders = list(queryset.select_related("organization").order_by("pk")[:500])
        if self.has_role(request, "operator"):
            missing = [o for o in orders if not o.labels.exists()]
            for organization, ids in _by_organization(missing).items():
                labels_fetch(organization=organization, order_ids=ids)
        labels = [label for o in orders if (label := o.labels.order_by("-created_at", "-id").first())]
        if not labels:
            self.message_user(request, "None of these orders has a label; fetch them first.", messages.ERROR)
            return None
        try:
            merged = labels_merge(labels)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        record_audit(action="order.labels_printed", request=request, target=orders[0],
                     details={"orders": [o.pk for o in orders], "pages": merged.pages})
        response = HttpResponse(merged.content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="labels-{merged.labels}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response

    def get_urls(self):
        label = path("<path:object_id>/label/<int:label_id>/", self.admin_site.admin_view(self.label_view),
                     name="commerce_order_label")
        return [label, *super().get_urls()]

    def label_view(self, request, object_id: str, label_id: int) -> HttpResponse:
        """One stored label of an order the user may see (another organization's is not found)."""
        order = self.get_object(request, object_id)
        label = order.labels.filter(pk=label_id).first() if order is not None else None
        if label is None:
            raise Http404("Not found.")
        try:
            content = label_read(label)
        except ApplicationError as exc:
            raise Http404(exc.message) from None
        response = HttpResponse(content, content_type=label.content_type)
        response["Content-Disposition"] = f'attachment; filename="{label.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description="Re-pull from channel", permissions=["operate"])
    def repull_from_channel(self, request, queryset):
        ids = list(queryset.filter(integration__isnull=False).values_list("pk", flat=True)[:ACTION_LIMIT])
        for order in queryset.filter(pk__in=ids):
            nudge_on_commit(repull_order, (order.pk,))
            record_audit(action="order.repull_requested", request=request, target=order)
        self.message_user(request, f"Re-pull queued for {len(ids)} order(s).", messages.SUCCESS)


def _by_organization(orders) -> dict:
    """{organization: [order ids]}: label fetches are per organization (a superuser may select across them)."""
    grouped: dict = {}
    for order in orders:
        grouped.setdefault(order.organization, []).append(order.pk)
    return grouped


# ---------------------------------------------------------------------- returns
class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fk_name = "return_record"
    fields = ("order_line", "external_id", "quantity", "restocked_at")
    readonly_fields = fields


class ReturnForm(forms.ModelForm):
    """An operator's return of one line: the goods restock at `location` (default: where the order's stock was
    taken from) when saved; a reference seen before records nothing again."""

    sku = forms.CharField(max_length=100, help_text="The returned line's SKU.")
    quantity = forms.IntegerField(min_value=1)
    location = forms.CharField(max_length=100, required=False,
                               help_text="ERP stock location; empty = where the order's stock was taken from.")

    class Meta:
        model = Return
        fields = ("order", "sku", "quantity", "location", "reason", "external_id")
        labels = {"external_id": "reference"}

    def clean(self):
        """The checks return_record makes, shown on the form instead of as an error page."""
        data = super().clean()
        order, sku, quantity = data.get("order"), data.get("sku"), data.get("quantity")
        if order is not None and sku and quantity:
            line = order.lines.filter(sku=sku).first()
            if line is None:
                self.add_error("sku", "No line of this order has that SKU.")
            elif quantity > line.fulfilled_quantity - line.returned_quantity:
                self.add_error("quantity", f"At most {line.fulfilled_quantity - line.returned_quantity} "
                                           "(shipped and not yet returned).")
        return data


@admin.register(Return)
class ReturnAdmin(OrganizationScopedAdmin):
    list_display = ("__str__", "order", "source", "location", "created_at")
    list_filter = ("source",)
    search_fields = ("external_id", "order__external_number")
    list_select_related = ("order",)
    inlines = [ReturnLineInline]
    form = ReturnForm
    change_role = "operator"  # recording a return is warehouse work; a recorded one is never edited

    def get_fields(self, request, obj=None):
        return [f.name for f in Return._meta.fields if f.name != "id"] if obj is not None else list(
            ReturnForm.Meta.fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        record, restocked = return_record(order=data["order"], lines=[{"sku": data["sku"],
                                                                        "quantity": data["quantity"]}],
                                          location=data.get("location") or "", reason=data.get("reason") or "",
                                          external_id=data.get("external_id") or "")
        obj.pk = record.pk
        record_audit(action="order.return_recorded", request=request, target=data["order"],
                     details={"return": record.pk, "lines": len(restocked)})

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_related(self, request, form, formsets, change):
        """The lines were written by return_record."""


@admin.register(Fulfillment)
class FulfillmentAdmin(OrganizationScopedAdmin):
    list_display = ("tracking_number", "carrier", "order", "push_status", "push_attempts", "pushed_at", "created_at")
    list_filter = ("push_status", "carrier")
    search_fields = ("tracking_number", "order__external_number")
    list_select_related = ("order",)
    actions = ["retry_push"]
    object_actions = ("retry_push",)

    def object_action_applies(self, name, obj):
        return obj.push_status == "failed"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Fulfillment._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry the push to the channel", permissions=["operate"])
    def retry_push(self, request, queryset):
        retried = 0
        for fulfillment in queryset.filter(push_status="failed")[:ACTION_LIMIT]:
            fulfillment_retry_push(fulfillment=fulfillment)
            record_audit(action="fulfillment.push_retried", request=request, target=fulfillment)
            retried += 1
        self.message_user(request, f"{retried} push(es) queued again.", messages.SUCCESS)


@admin.register(InventoryPush)
class InventoryPushAdmin(OrganizationScopedAdmin):
    """Pending stock pushes, one per channel and product; a failing one shows the channel's error."""

    list_display = ("product", "integration", "requested_at", "attempts", "last_attempt_at", "last_error")
    list_filter = (IntegrationInScopeFilter,)
    list_select_related = ("product", "integration")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AutoFulfillRuleForm(forms.ModelForm):
    class Meta:
        model = AutoFulfillRule
        fields = ["organization", "name", "is_active", "priority", "channel", "require_paid", "require_in_stock",
                  "destination_countries", "courier", "carrier_code"]

    def clean(self):
        cleaned = super().clean()
        courier = cleaned.get("courier")
        if courier is not None and not (registry.is_registered(courier.provider)
                                        and registry.supports(courier.provider, Capability.SHIPMENTS)):
            self.add_error("courier", "This integration's connector cannot create shipments.")
        organization = cleaned.get("organization")
        for name in ("courier", "channel"):
            value = cleaned.get(name)
            if value is not None and organization is not None and value.organization_id != organization.pk:
                self.add_error(name, "Pick an integration of the rule's organization.")
        countries = cleaned.get("destination_countries")
        if countries is not None and (not isinstance(countries, list)
                                      or not all(isinstance(c, str) and len(c) == 2 for c in countries)):
            self.add_error("destination_countries", 'A list of two-letter country codes, e.g. ["RO"].')
        return cleaned


@admin.register(AutoFulfillRule)
class AutoFulfillRuleAdmin(OrganizationScopedAdmin):
    form = AutoFulfillRuleForm
    list_display = ("name", "is_active", "priority", "channel", "require_paid", "require_in_stock", "courier",
                    "carrier_code")
    list_filter = ("is_active",)
    list_editable = ("is_active", "priority")
    ordering = ("priority", "id")


class ChannelLocationForm(forms.ModelForm):
    class Meta:
        model = ChannelLocation
        fields = ("erp_location",)


@admin.register(ChannelLocation)
class ChannelLocationAdmin(OrganizationScopedAdmin):
    """A channel's stock locations and the ERP location each maps to; an unmapped one imports and pushes nothing."""

    form = ChannelLocationForm
    list_display = ("__str__", "integration", "external_id", "erp_location", "pushable", "last_seen_at")
    list_filter = (IntegrationInScopeFilter, "pushable")
    list_select_related = ("integration",)
    search_fields = ("external_id", "name", "erp_location")
    readonly_fields = ("integration", "external_id", "name", "pushable", "last_seen_at")
    fields = ("integration", "external_id", "name", "pushable", "last_seen_at", "erp_location")

    def has_add_permission(self, request):
        return False  # a sync or a discover offers locations; they are mapped, not invented

    def save_model(self, request, obj, form, change):
        try:
            channel_location_map(location=obj, erp_location=form.cleaned_data["erp_location"])
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        record_audit(action="channel_location.mapped", request=request, target=obj,
                     details={"erp_location": obj.erp_location})


class DriftFilter(admin.SimpleListFilter):
    title = "drift"
    parameter_name = "drift"

    def lookups(self, request, model_admin):
        return (("yes", "Differs from the ERP"), ("no", "Matches the ERP"))

    def queryset(self, request, queryset):
        differs = ~Q(channel_quantity=F("erp_quantity")) | Q(channel_quantity__isnull=True)
        if self.value() == "yes":
            return queryset.filter(differs)
        if self.value() == "no":
            return queryset.exclude(differs)
        return queryset


@admin.register(ChannelStock)
class ChannelStockAdmin(OrganizationScopedAdmin):
    """Stock drift: what each mapped channel location last said against what the ERP would sell there."""

    list_display = ("product", "integration", "channel_location", "channel_quantity", "erp_quantity_shown",
                    "difference", "reported_at", "pushed_quantity", "pushed_at")
    list_filter = (DriftFilter, IntegrationInScopeFilter)
    list_select_related = ("product", "integration", "channel_location")
    search_fields = ("product__sku",)
    actions = ("push_erp_quantity",)

    def get_queryset(self, request):
        erp = StockLevel.objects.filter(product_id=OuterRef("product_id"),
                                        location=OuterRef("channel_location__erp_location"))
        sellable = Greatest(F("on_hand") - F("reserved"), Value(0))
        return (super().get_queryset(request).exclude(channel_location__erp_location="")
                .annotate(erp_quantity=Coalesce(Subquery(erp.annotate(q=sellable).values("q")[:1]), Value(0))))

    @admin.display(description="ERP quantity", ordering="erp_quantity")
    def erp_quantity_shown(self, obj):
        return obj.erp_quantity

    @admin.display(description="channel − ERP")
    def difference(self, obj):
        return None if obj.channel_quantity is None else obj.channel_quantity - obj.erp_quantity

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Push the ERP's quantity to these channel locations", permissions=["operate"])
    def push_erp_quantity(self, request, queryset):
        queued = 0
        for row in queryset.select_related("integration", "organization")[:ACTION_LIMIT]:
            if row.integration.stock_mode != StockMode.PUSH:
                self.message_user(request, f"{row.integration}: the channel is the source of its stock "
                                           f"({row.integration.stock_mode}); nothing is pushed.", messages.WARNING)
                continue
            with transaction.atomic():
                queued += queue_inventory_push(organization=row.organization, product_ids=[row.product_id],
                                               countdown=0)
            record_audit(action="stock.push_requested", request=request, target=row)
        self.message_user(request, f"Queued {queued} push(es).", messages.SUCCESS)
