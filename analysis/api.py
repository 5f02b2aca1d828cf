"""The analyses API: start one (202, it runs in a worker) or retry a failed one, read runs with their
suggestions, and accept or reject a suggestion. Viewers read; operators start analyses and decide suggestions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.tenancy import TenantScopedMixin
from config.api import ErrorResponseSerializer, error_responses

from . import decisions, selectors, services
from .models import AnalysisRun, Suggestion, SuggestionStatus, Trigger
from .serializers import (
    AnalysisRunSerializer,
    AnalysisStartSerializer,
    SuggestionFilterSerializer,
    SuggestionSerializer,
)

_BUDGET = OpenApiResponse(ErrorResponseSerializer, description="AI_TOKEN_BUDGET_EXCEEDED: the run would exceed "
                          "the organization's monthly token budget (`details`: estimate, used, budget); a refused "
                          "run is recorded.")


@extend_schema_view(
    list=extend_schema(summary="List analyses", responses={200: AnalysisRunSerializer(many=True),
                                                           **error_responses()}),
    retrieve=extend_schema(summary="Get an analysis with its suggestions", responses={
        200: AnalysisRunSerializer, **error_responses(not_found="ANALYSIS_NOT_FOUND")}),
    create=extend_schema(
        summary="Start an analysis",
        description="Queues an analysis of `kind` (campaigns, pricing, stock) and answers 202 with the run; a worker "
                    "computes the figures and asks the organization's AI integration, or the rule-based analyzer "
                    "without one (or when the model fails). Poll GET /api/analyses/{id}/. Nothing is changed until "
                    "a suggestion is accepted.",
        request=AnalysisStartSerializer,
        responses={202: AnalysisRunSerializer, 422: _BUDGET,
                   **error_responses(bad_request="VALIDATION_ERROR: an unknown kind.")}),
)
class AnalysisViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    queryset = AnalysisRun.objects.none()
    serializer_class = AnalysisRunSerializer
    operator_actions = ("create", "retry")

    def get_queryset(self):
        if self._fake:
            return AnalysisRun.objects.none()
        return selectors.run_list(organization=self.organization).prefetch_related("suggestions")

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AnalysisRunSerializer(selectors.run_get(organization=self.organization, run_id=pk)).data)

    def create(self, request: Request) -> Response:
        body = AnalysisStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.analysis_start(organization=self.organization, kind=body.validated_data["kind"],
                                      scope=dict(body.validated_data["scope"]), trigger=Trigger.API, request=request)
        return Response(AnalysisRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed or refused analysis",
        description="Queues a new run of the same kind and scope whose `retry_of` names this one (202, as starting "
                    "one); this run is left as it ended and its `retry` names the new one. A run is retried once: "
                    "retry the retry if it fails too.",
        request=None,
        responses={202: AnalysisRunSerializer, 422: _BUDGET, 409: OpenApiResponse(
            ErrorResponseSerializer, description="ANALYSIS_NOT_RETRYABLE: it did not fail (`details.status`), or it "
                                                 "was retried already (`details.retry`)."),
                   **error_responses(not_found="ANALYSIS_NOT_FOUND")})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        old = selectors.run_get(organization=self.organization, run_id=pk)
        run = services.analysis_retry(run=old, trigger=Trigger.API, request=request)
        return Response(AnalysisRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


_DECIDE = {200: SuggestionSerializer, 409: OpenApiResponse(
    ErrorResponseSerializer, description="SUGGESTION_NOT_PROPOSED: it was already decided, or is being applied now "
                                         "(`details.status`)."),
           **error_responses(not_found="SUGGESTION_NOT_FOUND")}
_ACCEPT = {**_DECIDE, 202: OpenApiResponse(SuggestionSerializer, description=(
    "Accepted, not applied yet: the platform failed for now (throttled, down; `error` says how). It stays "
    "`accepted` and the sweep applies it within minutes."))}


@extend_schema_view(
    list=extend_schema(summary="List suggestions", parameters=[
        OpenApiParameter("status", str, description="proposed, accepted, rejected, applied, failed"),
        OpenApiParameter("run", int, description="An analysis id.")],
        responses={200: SuggestionSerializer(many=True), **error_responses(bad_request="VALIDATION_ERROR")}),
    retrieve=extend_schema(summary="Get a suggestion",
                           responses={200: SuggestionSerializer, **error_responses(not_found="SUGGESTION_NOT_FOUND")}),
)
class SuggestionViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Suggestion.objects.none()
    serializer_class = SuggestionSerializer
    operator_actions = ("accept", "reject")

    def get_queryset(self):
        if self._fake:
            return Suggestion.objects.none()
        query = SuggestionFilterSerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        found = selectors.suggestion_list(organization=self.organization)
        if "status" in query.validated_data:
            found = found.filter(status=query.validated_data["status"])
        if "run" in query.validated_data:
            found = found.filter(run_id=query.validated_data["run"])
        return found

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SuggestionSerializer(selectors.suggestion_get(organization=self.organization,
                                                                      suggestion_id=pk)).data)

    @extend_schema(summary="Accept a suggestion (applies it)", request=None, description=(
        "Applies it once through the normal services: a budget or pause through the ads service (the platform "
        "first), a price through commerce, a reorder as a purchase need; audited. A refusal answers the service's "
        "error (e.g. 422 CAMPAIGN_CHANGE_REFUSED) and leaves the suggestion `failed` with the reason. Accepting "
        "one whose earlier apply was interrupted (`accepted`, its lease run out) finishes that apply, applying "
        "nothing twice."),
        responses=_ACCEPT)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        found = selectors.suggestion_get(organization=self.organization, suggestion_id=pk)
        decided = decisions.suggestion_accept(suggestion=found, request=request)
        return Response(SuggestionSerializer(decided).data, status=status.HTTP_202_ACCEPTED
                        if decided.status == SuggestionStatus.ACCEPTED else status.HTTP_200_OK)

    @extend_schema(summary="Reject a suggestion", request=None, responses=_DECIDE)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        found = selectors.suggestion_get(organization=self.organization, suggestion_id=pk)
        return Response(SuggestionSerializer(decisions.suggestion_reject(suggestion=found, request=request)).data)
