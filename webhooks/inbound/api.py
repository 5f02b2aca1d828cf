"""The incoming-webhooks REST API: list, read, retry, delete — thin views over selectors and services.

Tenancy as everywhere: another organization's webhook is WEBHOOK_NOT_FOUND.
Viewers read; operators also retry (`operator_actions`); admins and owners delete.
"""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import record_audit
from accounts.tenancy import TenantScopedMixin
from config.api import CursorPagination, ErrorResponseSerializer, StrictInputSerializer, error_responses
from webhooks.models import IncomingWebhook

from . import selectors, services
from .filters import IncomingWebhookFilter
from .serializers import IncomingWebhookDetailSerializer, IncomingWebhookSerializer


class ReceivedCursorPagination(CursorPagination):
    ordering = ("-received_at", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="List incoming webhooks",
        responses={200: IncomingWebhookSerializer(many=True),
                   **error_responses(bad_request="VALIDATION_ERROR: a filter value is not valid.")},
    ),
    retrieve=extend_schema(
        summary="Get an incoming webhook (headers and payload masked)",
        responses={200: IncomingWebhookDetailSerializer, **error_responses(not_found="WEBHOOK_NOT_FOUND")},
    ),
    destroy=extend_schema(
        summary="Delete an incoming webhook",
        responses={204: None, **error_responses(not_found="WEBHOOK_NOT_FOUND")},
    ),
)
class IncomingWebhookViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = IncomingWebhook.objects.none()
    serializer_class = IncomingWebhookSerializer
    pagination_class = ReceivedCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncomingWebhookFilter
    lookup_value_regex = r"\d+"  # /api/webhooks/receive/…, /shopify/, /meta/ stay the receive views'
    operator_actions = ("retry",)
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return IncomingWebhook.objects.none()
        return selectors.incoming_webhook_list(organization=self.organization)

    def get_object(self) -> IncomingWebhook:
        return selectors.incoming_webhook_get(organization=self.organization, webhook_id=self.kwargs["pk"])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(IncomingWebhookDetailSerializer(self.get_object()).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.webhook_delete(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Retry a failed incoming webhook",
        description="Puts a failed webhook back to pending with fresh retries and queues it (operator role).",
        request=None,
        responses={
            202: IncomingWebhookDetailSerializer,
            409: OpenApiResponse(ErrorResponseSerializer, description="WEBHOOK_NOT_RETRYABLE: it is not failed."),
            **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.", not_found="WEBHOOK_NOT_FOUND"),
        },
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        webhook = services.webhook_retry(webhook=webhook)
        record_audit(action="webhook.retried", request=request, target=webhook)
        return Response(IncomingWebhookDetailSerializer(webhook).data, status=status.HTTP_202_ACCEPTED)
