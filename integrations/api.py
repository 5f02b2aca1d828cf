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
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import record_audit, record_changes
from accounts.models import ROLE_RANK, Role
from accounts.tenancy import TenantScopedMixin, request_tenant
from config.api import ErrorResponseSerializer, StrictInputSerializer, error_responses
from config.errors import ApplicationError, ValidationError
from connectors import registry

from . import selectors, services
from .encryption import check_readable
from .filters import CursorSafeOrderingFilter, IntegrationFilter, IntegrationLogFilter
from .health_selectors import integrations_health
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
_UNREADABLE = OpenApiResponse(
    ErrorResponseSerializer,
    description="SECRETS_UNREADABLE: the integration's secrets are stored under an encryption key this server's "
                "ENCRYPTION_KEYS lacks (`details.key_ids`); during a key rotation, a server still on the old ring.")


class ConnectionTestFailed(ApplicationError):
    code = "CONNECTION_TEST_FAILED"
    http_status = status.HTTP_409_CONFLICT
    default_message = "The connection test did not pass, so the integration was not activated."


def _flag(request: Request, name: str) -> bool:
    """A boolean query parameter: absent or false/0 is False, true/1 is True; anything else is a 400."""
    raw = request.query_params.get(name)
    if raw is None or raw.lower() in ("false", "0"):
        return False
    if raw.lower() in ("true", "1"):
        return True
    raise ValidationError(details={name: ["Must be true or false."]})


@extend_schema_view(
    list=extend_schema(
        summary="List integrations",
        responses={200: IntegrationSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="Get an integration",
        responses={200: IntegrationSerializer, 503: _UNREADABLE,
                   **error_responses(not_found="INTEGRATION_NOT_FOUND")},
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
    operator_actions = ("test_connection",)  # ?activate=true asks for admin (_require_admin)
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return Integration.objects.none()
        return selectors.integration_list(organization=self.organization)

    def get_object(self) -> Integration:
        return selectors.integration_get(organization=self.organization, integration_id=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        """A row whose secrets this server cannot read is listed, flagged (`unreadable_secrets`, health error)."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        health = integrations_health(page)  # one computation for the page: a fixed number of queries
        return self.get_paginated_response(IntegrationSerializer(page, many=True, context={"health": health}).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        check_readable(integration)  # 503 SECRETS_UNREADABLE naming the key, rather than a half-shown integration
        return Response(IntegrationSerializer(integration).data)

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
            "200 with `ok: false` and a `detail` free of secrets; the integration's `last_error` records it. "
            "With `?activate=true` (admin role) a passing test also switches an `inactive`, `testing` or "
            "`pending_auth` integration on: `activated` says whether it did, `status` is the status after."
        ),
        operation_id="integrations_test",
        parameters=[OpenApiParameter("activate", bool, description="Activate the integration if the test passes "
                                     "(admin role).", required=False)],
        request=None,
        responses={
            200: ConnectionResultSerializer,
            503: _UNREADABLE,
            **error_responses(
                bad_request="VALIDATION_ERROR: the body must be empty, or `activate` is not true/false.",
                not_found="INTEGRATION_NOT_FOUND",
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test_connection(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        activate = _flag(request, "activate")
        if activate:
            self._require_admin(request, "Activating an integration")
        check_readable(integration)
        return self._tested(request, integration, activate=activate)

    @extend_schema(
        summary="Activate an integration",
        description=(
            "Tests the connection and, if it passes, switches an `inactive`, `testing` or `pending_auth` "
            "integration on (admin role). A failing test answers 409 CONNECTION_TEST_FAILED with its detail and "
            "changes nothing but `last_error`; an integration already active answers 200 with `activated: false`. "
            "To switch one on without a test, PATCH `status` to `active`."
        ),
        operation_id="integrations_activate",
        request=None,
        responses={
            200: ConnectionResultSerializer,
            409: OpenApiResponse(ErrorResponseSerializer, description="CONNECTION_TEST_FAILED: the test did not "
                                 "pass (`details.detail` says why); the integration keeps its status."),
            503: _UNREADABLE,
            **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.",
                              not_found="INTEGRATION_NOT_FOUND"),
        },
    )
    @action(detail=True, methods=["post"], url_path="activate")
    def activate(self, request: Request, pk: str) -> Response:
        integration = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        check_readable(integration)
        return self._tested(request, integration, activate=True, refuse_failure=True)

    def _require_admin(self, request: Request, what: str) -> None:
        role = request_tenant(request).role
        if ROLE_RANK[Role(role)] < ROLE_RANK[Role.ADMIN]:
            raise PermissionDenied(f"{what} needs the admin role; this key's role is {role}.")

    def _tested(self, request: Request, integration: Integration, *, activate: bool,
                refuse_failure: bool = False) -> Response:
        previous = integration.status
        if activate:
            outcome = services.integration_test_and_activate(integration=integration)
            result, activated = outcome.result, outcome.activated
        else:
            result, activated = services.integration_test_connection(integration=integration), False
        record_audit(action="integration.tested", request=request, target=integration,
                     details={"ok": result.ok, "latency_ms": result.latency_ms})
        if activated:
            record_audit(action="integration.activated", request=request, target=integration,
                         details={"from": previous, "after": "connection test"})
        if refuse_failure and not result.ok:
            raise ConnectionTestFailed(details={"detail": result.detail, "status": integration.status})
        return Response(ConnectionResultSerializer(
            {**asdict(result), "activated": activated, "status": integration.status}).data)


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
