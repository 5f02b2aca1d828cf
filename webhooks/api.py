"""The outgoing-webhooks REST API: thin viewsets over webhooks.outbound (selectors, endpoints services).

Tenancy: every query is the caller's organization's, so another organization's
endpoint or delivery is WEBHOOK_NOT_FOUND. Roles (HasOrganizationRole): viewers
read; operators also send a test ping, redeliver and recover; admins and owners
create, change, delete and rotate secrets.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import record_audit
from accounts.tenancy import TenantScopedMixin
from config.api import DateTimeFilter, IdFilter, StrictInputSerializer, error_responses

from .events import event_catalog
from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from .outbound import endpoints, selectors
from .outbound.idempotency import idempotent_call
from .serializers import (
    EventTypeSerializer,
    RecoverQueuedSerializer,
    RecoverSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
)

_WRITE_ERRORS = (
    "VALIDATION_ERROR: unknown or read-only fields, wrong types, unknown event types, an integration of another "
    "organization, or a URL that is not https (in production) or points at a private, loopback or link-local address."
)
_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."
_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", location=OpenApiParameter.HEADER, required=False,
    description="The same key within 24 h answers the first result (header `Idempotent-Replayed: true`) instead "
    "of creating again; the same key with a different body is 409 IDEMPOTENCY_KEY_REUSED.",
)


class WebhookDeliveryFilter(django_filters.FilterSet):
    endpoint = IdFilter(field_name="endpoint_id", help_text="An endpoint id.")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event = django_filters.CharFilter()
    event_id = django_filters.CharFilter()
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "status", "event", "event_id", "created_after", "created_before"]


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    return WebhookEndpointWithSecretSerializer(endpoint, context={"secret": secret}).data


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints",
                       responses={200: WebhookEndpointSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="Get a webhook endpoint",
                           responses={200: WebhookEndpointSerializer,
                                      **error_responses(not_found="WEBHOOK_NOT_FOUND")}),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description="Answers with the signing secret in full, once.",
        parameters=[_IDEMPOTENCY_KEY], request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointWithSecretSerializer, **error_responses(bad_request=_WRITE_ERRORS)},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint", request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer,
                   **error_responses(bad_request=_WRITE_ERRORS, not_found="WEBHOOK_NOT_FOUND")},
    ),
    destroy=extend_schema(summary="Delete a webhook endpoint and its deliveries",
                          responses={204: None, **error_responses(not_found="WEBHOOK_NOT_FOUND")}),
)
class WebhookEndpointViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = None
    filterset_fields = ["is_active"]
    operator_actions = ("send_test", "recover")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return WebhookEndpoint.objects.none()
        return selectors.endpoint_list(organization=self.organization)

    def get_object(self) -> WebhookEndpoint:
        return selectors.endpoint_get(organization=self.organization, endpoint_id=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        def call() -> tuple[int, dict]:
            serializer = WebhookEndpointCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            endpoint, secret = endpoints.endpoint_create(organization=self.organization, **serializer.validated_data)
            record_audit(action="endpoint.created", request=request, target=endpoint)
            return status.HTTP_201_CREATED, _with_secret(endpoint, secret)

        answer = idempotent_call(
            organization=self.organization, scope="webhook_endpoint.create",
            key=request.headers.get("Idempotency-Key"), request_data=request.data, call=call,
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return Response(answer.body, status=answer.status, headers=headers)

    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        serializer = WebhookEndpointUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoints.endpoint_update(endpoint=endpoint, data=serializer.validated_data)
        record_audit(action="endpoint.changed", request=request, target=endpoint,
                     details={"fields": sorted(serializer.validated_data)})
        return Response(WebhookEndpointSerializer(endpoint).data)

    def destroy(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        record_audit(action="endpoint.deleted", request=request, target=endpoint)
        endpoints.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="List the event types endpoints can subscribe to, with an example body each",
                   responses={200: EventTypeSerializer(many=True), **error_responses()})
    @action(detail=False, methods=["get"], url_path="event-types", pagination_class=None, filter_backends=[])
    def event_types(self, request: Request) -> Response:
        return Response(event_catalog())

    @extend_schema(
        summary="Rotate the signing secret",
        description="Answers with the new secret, once. For 24 h deliveries are signed with the new and the old "
        "secret (two `v1,` signatures in `webhook-signature`) so receivers can switch without losing messages.",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.",
                                     not_found="WEBHOOK_NOT_FOUND")},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        secret = endpoints.endpoint_rotate_secret(endpoint=endpoint)
        record_audit(action="endpoint.secret_rotated", request=request, target=endpoint)
        return Response(_with_secret(endpoint, secret))

    @extend_schema(
        summary="Send a test `ping` event", operation_id="webhook_endpoints_test", request=None,
        description="Queues a `ping` delivery to the endpoint (whatever it subscribes to) and sends it at once.",
        responses={202: WebhookDeliverySerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.",
                                     not_found="WEBHOOK_NOT_FOUND")},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        delivery = endpoints.endpoint_send_test(endpoint=endpoint)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="List an endpoint's deliveries", filters=True,
        responses={200: WebhookDeliverySerializer(many=True),
                   **error_responses(bad_request=_FILTER_ERRORS, not_found="WEBHOOK_NOT_FOUND")},
    )
    @action(detail=True, methods=["get"], filterset_class=WebhookDeliveryFilter, filter_backends=[DjangoFilterBackend],
            serializer_class=WebhookDeliverySerializer, queryset=WebhookDelivery.objects.none())
    def deliveries(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        queryset = self.filter_queryset(selectors.delivery_list(organization=self.organization).filter(
            endpoint=endpoint))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Re-send the endpoint's failed deliveries of a time window, in the background",
        request=RecoverSerializer,
        responses={202: RecoverQueuedSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: bad window, or the endpoint is disabled.",
                                     not_found="WEBHOOK_NOT_FOUND")},
    )
    @action(detail=True, methods=["post"])
    def recover(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        serializer = RecoverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        since, until = endpoints.recover_window_check(
            since=serializer.validated_data["since"], until=serializer.validated_data.get("until")
        )
        queued = endpoints.endpoint_request_recover(endpoint=endpoint, since=since, until=until)
        body = RecoverQueuedSerializer({"queued": queued, "since": since, "until": until}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="List webhook deliveries",
                       responses={200: WebhookDeliverySerializer(many=True),
                                  **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get a webhook delivery with its payload and every attempt",
                           responses={200: WebhookDeliveryDetailSerializer,
                                      **error_responses(not_found="WEBHOOK_NOT_FOUND")}),
)
class WebhookDeliveryViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]
    operator_actions = ("redeliver",)

    def get_queryset(self):
        if self._fake:
            return WebhookDelivery.objects.none()
        return selectors.delivery_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        delivery = selectors.delivery_get(organization=self.organization, delivery_id=pk)
        return Response(WebhookDeliveryDetailSerializer(delivery).data)

    @extend_schema(
        summary="Send a delivery again now", request=None,
        description="Queues the delivery with a fresh retry schedule and sends it at once (delivered ones too).",
        responses={202: WebhookDeliverySerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: the body must be empty, or the endpoint is "
                                     "disabled.", not_found="WEBHOOK_NOT_FOUND")},
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        delivery = selectors.delivery_get(organization=self.organization, delivery_id=pk)
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        delivery = endpoints.delivery_redeliver(delivery=delivery)
        record_audit(action="delivery.redelivered", request=request, target=delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
