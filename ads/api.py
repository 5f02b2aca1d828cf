"""The ads REST API: ad accounts, campaigns (PATCH changes a budget or status at the platform first), and a
campaign's daily figures. Thin views over selectors.py and services; every queryset is the tenant's, so another
organization's campaign is CAMPAIGN_NOT_FOUND. Viewers read; operators change budgets and statuses."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.tenancy import TenantScopedMixin
from config.api import ErrorResponseSerializer, error_responses
from config.errors import IntegrationNotFound
from integrations.models import Integration

from . import selectors
from .filters import AdAccountFilter, CampaignFilter, MarketingCampaignFilter
from .models import AdAccount, Campaign, MarketingCampaign
from .serializers import (
    AdAccountSerializer,
    CampaignChangeSerializer,
    CampaignMetricsSerializer,
    CampaignSerializer,
    MarketingCampaignCreateSerializer,
    MarketingCampaignSerializer,
    MetricsQuerySerializer,
)
from .services import campaign_budget_set, campaign_status_set, marketing_campaign_create

_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."


@extend_schema_view(
    list=extend_schema(summary="List ad accounts", responses={
        200: AdAccountSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get an ad account",
                           responses={200: AdAccountSerializer, **error_responses(not_found="NOT_FOUND")}),
)
class AdAccountViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    queryset = AdAccount.objects.none()
    serializer_class = AdAccountSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AdAccountFilter
    ordering = ["name", "id"]

    def get_queryset(self):
        return AdAccount.objects.none() if self._fake else selectors.ad_account_list(organization=self.organization)


@extend_schema_view(
    list=extend_schema(summary="List campaigns", responses={
        200: CampaignSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get a campaign",
                           responses={200: CampaignSerializer, **error_responses(not_found="CAMPAIGN_NOT_FOUND")}),
    partial_update=extend_schema(
        summary="Change a campaign's budget or status",
        description="One change per request: `status` (`active` or `paused`), `daily_budget` or `lifetime_budget` "
                    "(major units of the campaign's currency). The ad platform is asked first; the campaign "
                    "changes only if it accepted (audit event, `campaign.updated` to webhook endpoints). A refusal "
                    "answers 422 CAMPAIGN_CHANGE_REFUSED with the platform's words in `details.reason` and the "
                    "campaign unchanged; a throttled or unreachable platform answers 429/503 and changes nothing.",
        request=CampaignChangeSerializer,
        responses={200: CampaignSerializer, 422: OpenApiResponse(
            ErrorResponseSerializer, description="CAMPAIGN_CHANGE_REFUSED: the platform said no (`details.reason`)."),
                   **error_responses(bad_request="VALIDATION_ERROR: none or several changes, a bad amount or "
                                     "status; INTEGRATION_INACTIVE.", not_found="CAMPAIGN_NOT_FOUND")},
    ),
)
class CampaignViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    queryset = Campaign.objects.none()
    serializer_class = CampaignSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = CampaignFilter
    ordering_fields = ["name", "updated_at"]
    ordering = ["name", "id"]
    operator_actions = ("partial_update",)
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return Campaign.objects.none() if self._fake else selectors.campaign_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(CampaignSerializer(selectors.campaign_get(organization=self.organization,
                                                                  campaign_id=pk)).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        campaign = selectors.campaign_get(organization=self.organization, campaign_id=pk)
        serializer = CampaignChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = serializer.validated_data
        reason = change.get("reason", "")
        if "status" in change:
            campaign = campaign_status_set(campaign=campaign, status=change["status"], reason=reason,
                                           request=request)
        else:
            campaign = campaign_budget_set(campaign=campaign, daily_budget=change.get("daily_budget"),
                                           lifetime_budget=change.get("lifetime_budget"), reason=reason,
                                           request=request)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(
        summary="A campaign's figures per day",
        description="Spend, impressions, clicks, conversions and conversion value per day in [from, to] (the ad "
                    "account's days; default the last 30), with totals. `roas` is the platform's: conversion value "
                    "÷ spend (orders carry no campaign id to attribute revenue from).",
        parameters=[OpenApiParameter("from", str, description="First day, YYYY-MM-DD."),
                    OpenApiParameter("to", str, description="Last day, YYYY-MM-DD (inclusive).")],
        responses={200: CampaignMetricsSerializer, **error_responses(
            bad_request="VALIDATION_ERROR: a bad date, from after to, more than 366 days.",
            not_found="CAMPAIGN_NOT_FOUND")},
    )
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk: str) -> Response:
        campaign = selectors.campaign_get(organization=self.organization, campaign_id=pk)
        query = MetricsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        window = query.validated_data
        data = selectors.campaign_metrics(campaign=campaign, first=window["first"], last=window["last"])
        return Response(CampaignMetricsSerializer(data).data)


_PROVIDER_FAILED = {
    409: OpenApiResponse(ErrorResponseSerializer, description="INTEGRATION_INACTIVE: reconnect or activate the "
                                                              "integration first."),
    429: OpenApiResponse(ErrorResponseSerializer, description="RATE_LIMITED: the CRM throttled the call."),
    502: OpenApiResponse(ErrorResponseSerializer, description="PROVIDER_ERROR: the CRM refused the campaign "
                                                              "(its words in the message); nothing was stored."),
    503: OpenApiResponse(ErrorResponseSerializer, description="PROVIDER_UNAVAILABLE: the CRM did not answer."),
}


@extend_schema_view(
    list=extend_schema(summary="List a CRM's marketing campaigns", responses={
        200: MarketingCampaignSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)}),
    retrieve=extend_schema(summary="Get a marketing campaign", responses={
        200: MarketingCampaignSerializer, **error_responses(not_found="NOT_FOUND")}),
    create=extend_schema(
        summary="Create a marketing campaign at the CRM",
        description="The CRM is asked first; the campaign is stored as the CRM answered it (the next "
                    "`sync_marketing_campaigns` finds it unchanged). Not idempotent at the CRM: a create whose "
                    "answer timed out is not retried, so look before sending it again.",
        request=MarketingCampaignCreateSerializer,
        responses={201: MarketingCampaignSerializer, **_PROVIDER_FAILED, **error_responses(
            bad_request="VALIDATION_ERROR (no name, an end before the start) or CAPABILITY_NOT_SUPPORTED (the "
                        "integration keeps no marketing campaigns).",
            not_found="INTEGRATION_NOT_FOUND")}),
)
class MarketingCampaignViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                               mixins.CreateModelMixin, viewsets.GenericViewSet):
    """A CRM's marketing campaigns, as the last `sync_marketing_campaigns` (or a create here) wrote them."""

    queryset = MarketingCampaign.objects.none()
    serializer_class = MarketingCampaignSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MarketingCampaignFilter
    ordering = ["name", "id"]
    operator_actions = ("create",)
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return MarketingCampaign.objects.none()
        return (MarketingCampaign.objects.filter(organization=self.organization).select_related("integration")
                .order_by("name", "id"))

    def create(self, request: Request) -> Response:
        serializer = MarketingCampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        integration = Integration.objects.filter(organization=self.organization, pk=data.pop("integration")).first()
        if integration is None:
            raise IntegrationNotFound(details={"integration": ["Not found."]})
        campaign = marketing_campaign_create(integration=integration, request=request, **data)
        return Response(MarketingCampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)
