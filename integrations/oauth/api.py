"""The OAuth endpoints: initiate, the providers' callback, refresh and disconnect. Thin: flow.py and refresh.py decide.

Roles: initiate and disconnect change an integration's credentials (admin);
refresh is operating it (operator). The callback is public — the browser comes
from the provider with no API key — and the state it carries is its only
authority: it was issued to one organization, for one provider, once.
"""

from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import TenantScopedMixin
from config.api import (
    ErrorResponseSerializer,
    StrictCharField,
    StrictInputSerializer,
    StrictIntegerField,
    StrictURLField,
    error_responses,
)

from .. import selectors
from ..serializers import IntegrationSerializer
from . import flow, refresh


class InitiateSerializer(StrictInputSerializer):
    provider = StrictCharField(max_length=64, help_text="An OAuth provider's key from GET /api/providers/.")
    redirect_uri = StrictURLField(
        max_length=500, help_text="Where the browser returns afterwards; must be under an allowed prefix."
    )
    integration_id = StrictIntegerField(
        required=False, min_value=1, help_text="Connect (or reconnect) this integration; without it one is created."
    )
    name = StrictCharField(required=False, max_length=200, help_text="Name of the integration to create.")
    shop = StrictCharField(required=False, max_length=255, help_text="Shopify: the shop's myshopify.com domain.")
    metadata = serializers.DictField(required=False, help_text="Stored on the integration the callback creates.")
    connected_by = StrictCharField(
        required=False, allow_blank=True, max_length=255,
        help_text="Id of the user connecting, as your user service names them; recorded on the integration the "
                  "callback creates (a `user.deleted` event removes it).",
    )


class AuthorizationSerializer(serializers.Serializer):
    authorization_url = serializers.URLField()
    state = serializers.CharField()


class RefreshResultSerializer(serializers.Serializer):
    refreshed = serializers.BooleanField(help_text="False: another refresh got there first; its token is current.")
    integration = IntegrationSerializer()


class DisconnectResultSerializer(serializers.Serializer):
    revoked = serializers.BooleanField(help_text="Whether the provider confirmed a revocation.")
    integration = IntegrationSerializer()


class OAuthInitiateView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Start connecting an OAuth integration",
        operation_id="integrations_oauth_initiate",
        request=InitiateSerializer,
        responses={
            201: AuthorizationSerializer,
            **error_responses(
                bad_request="VALIDATION_ERROR (redirect URI not allowed, bad shop, no client credentials, "
                "incomplete OAuth config) or INVALID_PROVIDER.",
                not_found="INTEGRATION_NOT_FOUND",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = InitiateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        authorization = flow.oauth_initiate(organization=self.organization, user=request.user,
                                            **serializer.validated_data)
        return Response(AuthorizationSerializer(authorization).data, status=status.HTTP_201_CREATED)


class OAuthCallbackView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="OAuth callback (called by the provider through the browser)",
        operation_id="integrations_oauth_callback",
        auth=[],
        parameters=[
            OpenApiParameter("state", str, required=True),
            OpenApiParameter("code", str, required=False),
        ],
        responses={
            302: OpenApiResponse(description="To the stored redirect URI with status=success&integration_id=… or "
                                 "status=error&code=OAUTH_FAILED&message=…"),
            400: OpenApiResponse(ErrorResponseSerializer, description="OAUTH_FAILED: unknown state."),
        },
    )
    def get(self, request: Request, provider: str) -> HttpResponseRedirect:
        target = flow.oauth_complete(provider=provider, query=request.query_params.dict())
        response = HttpResponseRedirect(target)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"  # the callback URL carried a code
        return response


class IntegrationRefreshView(TenantScopedMixin, APIView):
    action = "refresh"
    operator_actions = ("refresh",)

    @extend_schema(
        summary="Refresh an integration's access token now",
        operation_id="integrations_refresh",
        request=None,
        responses={
            200: RefreshResultSerializer,
            **error_responses(
                bad_request="VALIDATION_ERROR (no refresh token, non-empty body) or CAPABILITY_NOT_SUPPORTED.",
                not_found="INTEGRATION_NOT_FOUND",
            ),
            401: OpenApiResponse(ErrorResponseSerializer, description="REFRESH_FAILED (or a bad API key)."),
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        integration = selectors.integration_get(organization=self.organization, integration_id=pk)
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        refreshed = refresh.oauth_refresh(integration=integration)
        return Response({"refreshed": refreshed, "integration": IntegrationSerializer(integration).data})


class IntegrationDisconnectView(TenantScopedMixin, APIView):
    @extend_schema(
        summary="Disconnect an OAuth integration (revoke, wipe tokens)",
        operation_id="integrations_disconnect",
        request=None,
        responses={
            200: DisconnectResultSerializer,
            **error_responses(bad_request="VALIDATION_ERROR: not an OAuth integration, or a non-empty body.",
                              not_found="INTEGRATION_NOT_FOUND"),
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        integration = selectors.integration_get(organization=self.organization, integration_id=pk)
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        revoked = flow.oauth_disconnect(integration=integration)
        return Response({"revoked": revoked, "integration": IntegrationSerializer(integration).data})
