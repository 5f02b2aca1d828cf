"""The commerce REST API: thin views over selectors.py and services.

Every queryset is the tenant's, so another organization's order is
ORDER_NOT_FOUND — a 404 that does not confirm it exists. Roles: viewers read;
operators fulfil, bulk-fulfil and adjust stock (daily warehouse work);
changing an order's status by hand needs admin. Auto-fulfil
(`POST /api/orders/auto-fulfill/`) calls couriers, so it is the pipeline's:
syncjobs/api.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import record_audit
from accounts.tenancy import TenantScopedMixin
from config.api import error_responses
from integrations.selectors import integration_get

from . import selectors
from .filters import OrderFilter, ProductFilter, StockLevelFilter
from .models import ChannelLocation, Order, Product, Return, ShippingLabel, StockLevel
from .serializers import (
    AnalyticsQuerySerializer,
    AnalyticsSerializer,
    BulkFulfillItemSerializer,
    BulkFulfillResultSerializer,
    BulkFulfillSerializer,
    ChannelLocationDiscoverResultSerializer,
    ChannelLocationDiscoverSerializer,
    ChannelLocationMapSerializer,
    ChannelLocationSerializer,
    FulfillmentSerializer,
    FulfillSerializer,
    LabelPrintSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    OrderStatusSerializer,
    ProductSerializer,
    ReturnCreateSerializer,
    ReturnSerializer,
    StockAdjustSerializer,
    StockDriftSerializer,
    StockLevelSerializer,
    StockModeResultSerializer,
    StockModeSerializer,
)
from .services import (
    adjust_stock,
    channel_location_map,
    channel_locations_refresh,
    order_set_status,
    stock_mode_set,
)
from .services.analytics import fulfillment_analytics
from .services.fulfillment import bulk_fulfill, fulfill
from .services.labels import label_read, labels_for_orders, labels_merge
from .services.returns import return_record

_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."


class LabelRenderer(BaseRenderer):
    """Lets a client that asks for `Accept: application/pdf` reach the label downloads (they answer the file
    themselves); an error still goes out as the JSON envelope."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


LABEL_RENDERERS = [JSONRenderer, LabelRenderer]


@extend_schema_view(
    list=extend_schema(summary="List products with their stock",
                       responses={200: ProductSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get a product",
                           responses={200: ProductSerializer, **error_responses(not_found="NOT_FOUND")}),
)
class ProductViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Product.objects.none()
    serializer_class = ProductSerializer
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = ProductFilter
    search_fields = ["sku", "name", "barcode"]
    ordering_fields = ["sku", "created_at"]
    ordering = ["sku"]

    def get_queryset(self):
        return Product.objects.none() if self._fake else selectors.product_list(organization=self.organization)


@extend_schema_view(
    list=extend_schema(summary="List stock levels", responses={
        200: StockLevelSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    partial_update=extend_schema(
        summary="Adjust a stock level",
        description="`delta` adds to on_hand, `on_hand` sets the counted figure; the change is pushed to every "
                    "channel that lists the SKU (debounced) and may publish inventory.low_stock.",
        request=StockAdjustSerializer,
        responses={200: StockLevelSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: unknown fields, wrong types, both delta and on_hand, on_hand below 0.",
            not_found="STOCK_LEVEL_NOT_FOUND")},
    ),
)
class InventoryViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = StockLevel.objects.none()
    serializer_class = StockLevelSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = StockLevelFilter
    ordering = ["id"]
    operator_actions = ("partial_update",)
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return StockLevel.objects.none() if self._fake else selectors.stock_level_list(organization=self.organization)

    def partial_update(self, request: Request, pk: str) -> Response:
        level = selectors.stock_level_get(organization=self.organization, stock_level_id=pk)
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        level = adjust_stock(stock_level=level, **serializer.validated_data)
        return Response(StockLevelSerializer(level).data)


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="Customer emails are masked and addresses reduced to city and country; `search` matches the "
                    "order number or the customer's email.",
        responses={200: OrderListSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get an order, with lines, fulfillments and the customer's contact",
                           responses={200: OrderDetailSerializer, **error_responses(not_found="ORDER_NOT_FOUND")}),
)
class OrderViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Order.objects.none()
    serializer_class = OrderListSerializer
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = OrderFilter
    search_fields = ["external_number", "name", "customer_email"]
    ordering_fields = ["placed_at", "created_at"]
    ordering = ["-placed_at"]
    operator_actions = ("fulfill", "bulk_fulfill", "returns", "print_labels")
    http_method_names = ["get", "post", "put", "head", "options"]

    def get_queryset(self):
        return Order.objects.none() if self._fake else selectors.order_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        order = selectors.order_detail(organization=self.organization, order_id=pk)
        return Response(OrderDetailSerializer(order).data)

    @extend_schema(summary="Orders waiting to be shipped (paid or partly shipped)",
                   responses={200: OrderListSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)})
    @action(detail=False, methods=["get"])
    def pending(self, request: Request) -> Response:
        queryset = self.filter_queryset(selectors.order_pending_list(organization=self.organization))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OrderListSerializer(page, many=True).data)

    @extend_schema(
        summary="Fulfil an order with tracking",
        description="Records the shipment (all open lines, or `lines`), then pushes the tracking number to the "
                    "order's channel in the background; the fulfillment's `push_status` tells how that went.",
        request=FulfillSerializer,
        responses={201: FulfillmentSerializer, **error_responses(
            bad_request="VALIDATION_ERROR (bad body, lines not open) or ORDER_NOT_FULFILLABLE (cancelled, "
                        "refunded or already fulfilled).", not_found="ORDER_NOT_FOUND")},
    )
    @action(detail=True, methods=["post"])
    def fulfill(self, request: Request, pk: str) -> Response:
        order = selectors.order_get(organization=self.organization, order_id=pk)
        serializer = FulfillSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fulfillment = fulfill(order=order, **serializer.validated_data)
        return Response(FulfillmentSerializer(fulfillment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an order's status by hand",
        description="Allowed: pending→paid/cancelled, paid→pending/cancelled/refunded, partially_fulfilled→"
                    "cancelled/refunded, fulfilled→refunded/shipped/delivered, shipped→in_transit/delivered/"
                    "delivery_failed/refunded, in_transit and delivery_failed→delivered (and each other)/refunded, "
                    "delivered and returned→refunded. Cancelling or refunding releases reserved stock. A tracked "
                    "status set by hand stamps and announces like a courier's event (order.shipped, "
                    "order.delivered, once); `returned` comes from a return (POST …/returns/), which restocks.",
        request=OrderStatusSerializer,
        responses={200: OrderDetailSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: unknown status or a move that is not allowed.",
            not_found="ORDER_NOT_FOUND")},
    )
    @action(detail=True, methods=["put"], url_path="status")
    def set_status(self, request: Request, pk: str) -> Response:
        order = selectors.order_get(organization=self.organization, order_id=pk)
        serializer = OrderStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_set_status(order=order, status=serializer.validated_data["status"])
        return Response(OrderDetailSerializer(selectors.order_detail(organization=self.organization,
                                                                     order_id=order.pk)).data)

    @extend_schema(
        summary="Fulfil several orders",
        description="Each item is checked and fulfilled on its own: a bad one is reported in `results` with its "
                    "error and does not stop the others. Answers 200 whatever the items' outcomes.",
        request=BulkFulfillSerializer,
        responses={200: BulkFulfillResultSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: the body is not {\"orders\": [1–500 objects]}.")},
    )
    @action(detail=False, methods=["post"], url_path="bulk-fulfill")
    def bulk_fulfill(self, request: Request) -> Response:
        serializer = BulkFulfillSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results: list[dict | None] = []
        valid = []
        for raw in serializer.validated_data["orders"]:
            item = BulkFulfillItemSerializer(data=raw)
            if item.is_valid():
                valid.append(item.validated_data)
                results.append(None)
            else:
                results.append({"order_id": raw.get("order_id"), "ok": False, "error": {
                    "code": "VALIDATION_ERROR", "message": "The item is not valid.", "details": item.errors}})
        done = iter(bulk_fulfill(organization=self.organization, items=valid).results)
        results = [r if r is not None else next(done) for r in results]
        ok = sum(1 for r in results if r["ok"])
        return Response({"fulfilled": ok, "failed": len(results) - ok, "results": results})


    @extend_schema(
        summary="Download an order's shipping label",
        description="The stored label of the order's parcel (`tracking_number`, else the newest): a PDF, or ZPL "
                    "for a channel that prints only that. Fetch it first with POST …/label/fetch/.",
        parameters=[OpenApiParameter("tracking_number", str, required=False)],
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The label."),
                   **error_responses(not_found="ORDER_NOT_FOUND, or LABEL_NOT_FOUND: no label stored yet.")},
    )
    @action(detail=True, methods=["get"], url_path="label", renderer_classes=LABEL_RENDERERS)
    def label(self, request: Request, pk: str) -> HttpResponse:
        order = selectors.order_get(organization=self.organization, order_id=pk)
        label = selectors.order_label(order=order, tracking_number=request.query_params.get("tracking_number"))
        return label_response(label, label_read(label))

    @extend_schema(
        summary="List an order's returns, or record one (restocks)",
        description="POST records goods that came back: each line's quantity goes back on hand at `location` "
                    "(default: where the order's stock was taken from), once. At most what shipped and has not "
                    "come back yet; when everything shipped is back the order becomes `returned` "
                    "(`order.returned`). A `reference` seen before records nothing new.",
        request=ReturnCreateSerializer,
        responses={200: ReturnSerializer(many=True), 201: ReturnSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: unknown lines, quantities over what can come back.",
            not_found="ORDER_NOT_FOUND")},
    )
    @action(detail=True, methods=["get", "post"], url_path="returns")
    def returns(self, request: Request, pk: str) -> Response:
        order = selectors.order_get(organization=self.organization, order_id=pk)
        if request.method == "GET":
            return Response(ReturnSerializer(selectors.order_returns(order=order), many=True).data)
        serializer = ReturnCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        record, restocked = return_record(order=order, lines=data["lines"], reason=data.get("reason", ""),
                                          location=data.get("location", ""), external_id=data.get("reference", ""))
        record_audit(action="order.return_recorded", request=request, target=order,
                     details={"return": record.pk, "lines": len(restocked)})
        return Response(ReturnSerializer(selectors.return_get(pk=record.pk)).data,
                        status=status.HTTP_201_CREATED if restocked else status.HTTP_200_OK)

    @extend_schema(
        summary="Print many orders' labels as one PDF",
        description="The stored label of each order, in the order given, merged into one PDF (ZPL labels are left "
                    "out: the `X-Labels-Skipped` header counts them). LABEL_NOT_FOUND names orders with no label "
                    "stored; fetch them with POST /api/orders/labels/fetch/.",
        request=LabelPrintSerializer,
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="One PDF."),
                   **error_responses(bad_request="VALIDATION_ERROR or NO_PRINTABLE_LABELS.",
                                     not_found="LABEL_NOT_FOUND: some orders have no stored label.")},
    )
    @action(detail=False, methods=["post"], url_path="labels/print", renderer_classes=LABEL_RENDERERS)
    def print_labels(self, request: Request) -> HttpResponse:
        serializer = LabelPrintSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        merged = labels_merge(labels_for_orders(organization=self.organization,
                                                order_ids=serializer.validated_data["order_ids"]))
        response = HttpResponse(merged.content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="labels-{merged.labels}.pdf"'
        response["X-Label-Pages"] = str(merged.pages)
        response["X-Labels-Skipped"] = str(len(merged.skipped))
        return response


def label_response(label: ShippingLabel, content: bytes) -> HttpResponse:
    """The label as a download (never cached: it carries the customer's name and address)."""
    response = HttpResponse(content, content_type=label.content_type)
    response["Content-Disposition"] = f'attachment; filename="{label.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@extend_schema_view(
    list=extend_schema(summary="List returns (from channels' claims and operators)",
                       responses={200: ReturnSerializer(many=True)}),
    retrieve=extend_schema(summary="Get a return", responses={200: ReturnSerializer,
                                                              **error_responses(not_found="NOT_FOUND")}),
)
class ReturnViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Return.objects.none()
    serializer_class = ReturnSerializer

    def get_queryset(self):
        return Return.objects.none() if self._fake else selectors.return_list(organization=self.organization)


class FulfillmentAnalyticsView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Fulfilment analytics",
        parameters=[AnalyticsQuerySerializer],
        responses={200: AnalyticsSerializer, **error_responses(bad_request="VALIDATION_ERROR: a bad time.")},
    )
    def get(self, request: Request) -> Response:
        query = AnalyticsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        figures = fulfillment_analytics(organization=self.organization, **query.validated_data)
        return Response(AnalyticsSerializer(figures).data)


# ---------------------------------------------------------------------- channel stock
@extend_schema_view(
    list=extend_schema(
        summary="List channel stock locations",
        description="Every location a channel offered (a sync or a discover), with the ERP location it maps to. "
                    "Levels at an unmapped location are recorded but land nowhere; pushes go per mapped location.",
        parameters=[OpenApiParameter("integration", int, description="Only this integration's locations.")],
        responses={200: ChannelLocationSerializer(many=True), **error_responses(
            bad_request=_FILTER_ERRORS, not_found="INTEGRATION_NOT_FOUND: `integration` is not one of yours.")}),
    retrieve=extend_schema(summary="Get a channel stock location", responses={
        200: ChannelLocationSerializer, **error_responses(not_found="CHANNEL_LOCATION_NOT_FOUND")}),
    partial_update=extend_schema(
        summary="Map a channel location to an ERP stock location",
        description="`erp_location` names the ERP location (\"\" unmaps). Two locations of one channel cannot "
                    "share an ERP location.",
        request=ChannelLocationMapSerializer,
        responses={200: ChannelLocationSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: unknown fields, too long, or already mapped for this channel.",
            not_found="CHANNEL_LOCATION_NOT_FOUND")}),
)
class ChannelLocationViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             viewsets.GenericViewSet):
    queryset = ChannelLocation.objects.none()
    serializer_class = ChannelLocationSerializer
    ordering = ["id"]
    operator_actions = ("discover",)
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return ChannelLocation.objects.none()
        queryset = selectors.channel_location_list(organization=self.organization).order_by("pk")
        integration = self.request.query_params.get("integration")
        if integration is not None:
            queryset = queryset.filter(integration_id=integration_get(
                organization=self.organization, integration_id=integration).pk)
        return queryset

    def retrieve(self, request: Request, pk: str) -> Response:
        location = selectors.channel_location_get(organization=self.organization, location_id=pk)
        return Response(ChannelLocationSerializer(location).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        location = selectors.channel_location_get(organization=self.organization, location_id=pk)
        serializer = ChannelLocationMapSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        location = channel_location_map(location=location, erp_location=serializer.validated_data["erp_location"])
        record_audit(action="channel_location.mapped", request=request, target=location,
                     details={"erp_location": location.erp_location})
        return Response(ChannelLocationSerializer(location).data)

    @extend_schema(
        summary="Ask a channel for its stock locations",
        description="New locations are offered unmapped; the answer lists the ones still unmapped.",
        request=ChannelLocationDiscoverSerializer,
        responses={200: ChannelLocationDiscoverResultSerializer, **error_responses(
            bad_request="VALIDATION_ERROR or CAPABILITY_NOT_SUPPORTED (the provider keeps no stock).",
            not_found="INTEGRATION_NOT_FOUND")},
    )
    @action(detail=False, methods=["post"])
    def discover(self, request: Request) -> Response:
        serializer = ChannelLocationDiscoverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = integration_get(organization=self.organization,
                                      integration_id=serializer.validated_data["integration"])
        return Response(channel_locations_refresh(integration=integration))


class StockModeView(TenantScopedMixin, APIView):
    """Who is the source of truth for one channel's stock; only admins change it, and every change is audited."""

    @extend_schema(
        summary="Set a channel's stock mode",
        description="`import`: the channel is the source (the hub never writes its stock). `push`: the ERP is the "
                    "source (its sellable quantity is written per mapped location; the channel's levels are "
                    "recorded as drift). `off`: neither. Recorded in the audit trail.",
        request=StockModeSerializer,
        responses={200: StockModeResultSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: unknown mode.", not_found="INTEGRATION_NOT_FOUND")},
    )
    def post(self, request: Request, pk: str) -> Response:
        integration = integration_get(organization=self.organization, integration_id=pk)
        serializer = StockModeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = stock_mode_set(integration=integration, mode=serializer.validated_data["stock_mode"],
                                     request=request)
        return Response({"id": integration.pk, "code": integration.code, "stock_mode": integration.stock_mode})


class StockDriftView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Where channels' stock differs from the ERP's",
        description="One row per mapped (channel location, SKU) whose channel level is not the ERP's sellable "
                    "quantity there, with how long at least (`since`, `age_seconds`).",
        parameters=[OpenApiParameter("integration", int, description="Only this integration.")],
        responses={200: StockDriftSerializer(many=True), **error_responses(
            bad_request=_FILTER_ERRORS, not_found="INTEGRATION_NOT_FOUND")},
    )
    def get(self, request: Request) -> Response:
        integration = request.query_params.get("integration")
        integration_id = None
        if integration is not None:
            integration_id = integration_get(organization=self.organization, integration_id=integration).pk
        drift = selectors.stock_drift(organization=self.organization, integration_id=integration_id)
        return Response(StockDriftSerializer(drift, many=True).data)
