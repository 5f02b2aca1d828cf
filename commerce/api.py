"""The commerce REST API: thin views over selectors.py and services.

Every queryset is the tenant's, so another organization's order is
ORDER_NOT_FOUND — a 404 that does not confirm it exists. Roles: viewers read;
operators fulfil, bulk-fulfil, run auto-fulfil and adjust stock (daily
warehouse work); changing an order's status by hand needs admin.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import TenantScopedMixin, error_responses

from . import selectors
from .filters import OrderFilter, ProductFilter, StockLevelFilter
from .models import Order, Product, StockLevel
from .serializers import (
    AnalyticsQuerySerializer,
    AnalyticsSerializer,
    AutoFulfillResultSerializer,
    AutoFulfillSerializer,
    BulkFulfillItemSerializer,
    BulkFulfillResultSerializer,
    BulkFulfillSerializer,
    FulfillmentSerializer,
    FulfillSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    OrderStatusSerializer,
    ProductSerializer,
    StockAdjustSerializer,
    StockLevelSerializer,
)
from .services import adjust_stock, order_set_status
from .services.analytics import fulfillment_analytics
from .services.autofulfill import auto_fulfill
from .services.fulfillment import bulk_fulfill, fulfill

_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."


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
    operator_actions = ("fulfill", "bulk_fulfill", "auto_fulfill")
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
                    "cancelled/refunded, fulfilled→refunded. Cancelling or refunding releases reserved stock.",
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
        summary="Apply the organization's auto-fulfil rules",
        description="Ships each unshipped order that a rule matches with the rule's courier, and fulfils it with "
                    "the courier's tracking number. 409 AUTO_FULFILL_RUNNING while another run is in progress.",
        request=AutoFulfillSerializer,
        responses={200: AutoFulfillResultSerializer, 409: OpenApiResponse(description="AUTO_FULFILL_RUNNING"),
                   **error_responses(bad_request="VALIDATION_ERROR: unknown fields or wrong types.")},
    )
    @action(detail=False, methods=["post"], url_path="auto-fulfill")
    def auto_fulfill(self, request: Request) -> Response:
        serializer = AutoFulfillSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = auto_fulfill(organization=self.organization, order_ids=serializer.validated_data.get("order_ids"))
        return Response(AutoFulfillResultSerializer(outcome).data)


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
