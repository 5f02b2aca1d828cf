"""The integrations REST API: thin viewsets over selectors.py and services.py.

Every queryset is the tenant's (`request_tenant(request).organization`), so
another organization's integration is INTEGRATION_NOT_FOUND and its log row
NOT_FOUND — a 404 that does not confirm it exists. Roles come from
`HasOrganizationRole`: viewers read, operators also run the connection test,
admins and owners create, change and delete.
"""

from __future__ import annotations

from dataclasses import asdict

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import record_audit, record_changes
from accounts.tenancy import TenantScopedMixin
from config.api import StrictInputSerializer, error_responses
from connectors import registry

from . import selectors, services
from .filters import CursorSafeOrderingFilter, IntegrationFilter, IntegrationLogFilter
from .models import SECRET_FIELDS, Integration, IntegrationLog
from .serializers import (
    ConnectionResultSerializer,
    IntegrationLogSerializer,
    IntegrationSerializer,
    IntegrationWriteSerializer,
    ProviderSerializer,
)

_WRITE_ERRORS = (
    "VALIDATION_ERROR (unknown or read-only fields, wrong types, malformed JSON, code in use, unsafe api_endpoint) "
    "or INVALID_PROVIDER."
)
_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."


@extend_schema_view(
    list=extend_schema(
        summary="List integrations",
        responses={200: IntegrationSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="Get an integration",
        responses={200: IntegrationSerializer, **error_responses(not_found="INTEGRATION_NOT_FOUND")},
    ),
    create=extend_schema(
        summary="Create an integration",
        request=IntegrationWriteSerializer,
        responses={201: IntegrationSerializer, **error_responses(bad_request=_WRITE_ERRORS)},
    ),
    update=extend_schema(
        summary="Replace an integration",
        description=(
            "Full update: `name` and `provider` are required, as on create, and every field given is "
            "replaced. Fields left out keep their values (`code` included); secrets are write-only, so one left "
            "out is kept (send \"\" or null to clear it)."
        ),
        request=IntegrationWriteSerializer,
        responses={
            200: IntegrationSerializer,
            **error_responses(bad_request=_WRITE_ERRORS, not_found="INTEGRATION_NOT_FOUND"),
        },
    ),
    partial_update=extend_schema(
        summary="Change an integration",
        request=IntegrationWriteSerializer,
        responses={
            200: IntegrationSerializer,
            **error_responses(bad_request=_WRITE_ERRORS, not_found="INTEGRATION_NOT_FOUND"),
        },
    ),
    destroy=extend_schema(
        summary="Delete an integration",
        responses={204: None, **error_responses(not_found="INTEGRATION_NOT_FOUND")},
    ),
)
class IntegrationViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    queryset = Integration.objects.none()  # the real one is per tenant: get_queryset
    serializer_class = IntegrationSerializer
    filter_backends = [DjangoFilterBackend, SearchFilter, CursorSafeOrderingFilter]
    filterset_class = IntegrationFilter
    search_fields = ["name", "code", "description"]
    ordering_fields = ["created_at", "name", "last_sync_at"]
    ordering = ["-created_at"]
    null_safe_ordering = {"last_sync_at": "last_sync_sort"}
    operator_actions = ("test_connection",)
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return Integration.objects.none()
        return selectors.integration_list(organization=self.organization)

    def get_object(self) -> Integration:
        return selectors.integration_get(organization=self.organization, integration_id=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(IntegrationSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(IntegrationSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        serializer = IntegrationWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.integration_create(organization=self.organization, **serializer.validated_data)
        record_audit(action="integration.created", request=request, target=integration,
                     details={"secrets": sorted(k for k in serializer.validated_data if k in SECRET_FIELDS)})
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str) -> Response:
        return self._change(request, partial=False)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._change(request, partial=True)

    def _change(self, request: Request, *, partial: bool) -> Response:
        integration = self.get_object()
        serializer = IntegrationWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        integration = services.integration_update(integration=integration, data=serializer.validated_data)
        record_changes(request=request, target=integration, data=serializer.validated_data,
                       secret_fields=SECRET_FIELDS, kind="integration")
        return Response(IntegrationSerializer(integration).data)

    def destroy(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        record_audit(action="integration.deleted", request=request, target=integration)
        services.integration_delete(integration=integration)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Test an integration's connection",
        description=(
            "Runs the provider's connection test (operator role or above). A failing provider answers "
            "200 with `ok: false` and a `detail` free of secrets; the integration's `last_error` records it."
        ),
        operation_id="integrations_test",
        request=None,
        responses={
            200: ConnectionResultSerializer,
            **error_responses(
                bad_request="VALIDATION_ERROR: the body must be empty.", not_found="INTEGRATION_NOT_FOUND"
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test_connection(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        result = services.integration_test_connection(integration=integration)
        record_audit(action="integration.tested", request=request, target=integration,
                     details={"ok": result.ok, "latency_ms": result.latency_ms})
        return Response(ConnectionResultSerializer(asdict(result)).data)


class ProviderViewSet(viewsets.ViewSet):
    """The connector registry: what each provider is and can do. Not paginated (it is a short catalogue)."""

    @extend_schema(summary="List providers", responses={200: ProviderSerializer(many=True), **error_responses()})
    def list(self, request: Request) -> Response:
        return Response([cls.describe() for _, cls in sorted(registry.providers().items())])


@extend_schema_view(
    list=extend_schema(
        summary="List integration log rows",
        responses={200: IntegrationLogSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="Get an integration log row",
        responses={200: IntegrationLogSerializer, **error_responses(not_found="NOT_FOUND")},
    ),
)
class IntegrationLogViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Read-only: the calls integrations made and received, newest first (bodies already redacted)."""

    queryset = IntegrationLog.objects.none()
    serializer_class = IntegrationLogSerializer
    filter_backends = [DjangoFilterBackend, CursorSafeOrderingFilter]
    filterset_class = IntegrationLogFilter
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if self._fake:
            return IntegrationLog.objects.none()
        return selectors.integration_log_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        log = selectors.integration_log_get(organization=self.organization, log_id=pk)
        return Response(IntegrationLogSerializer(log).data)
