"""The sync REST API: start a sync of an integration, list and watch jobs, cancel one; run auto-fulfil.

Tenancy as everywhere: another organization's integration is
INTEGRATION_NOT_FOUND and its job NOT_FOUND. Viewers read; starting and
cancelling a job, and running auto-fulfil, are operator actions.
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
from commerce.selectors import order_get
from commerce.serializers import ShippingLabelSerializer
from config.api import ErrorResponseSerializer, StrictInputSerializer, error_responses
from config.errors import NotFound
from integrations.selectors import integration_get

from . import selectors, services
from .autofulfill import auto_fulfill
from .filters import SyncJobFilter
from .labels import labels_fetch, order_labels_fetch
from .models import SyncJob, Trigger
from .schedules import schedule_list, schedule_update
from .serializers import (
    AutoFulfillResultSerializer,
    AutoFulfillSerializer,
    LabelFetchResultSerializer,
    LabelFetchSerializer,
    SyncJobSerializer,
    SyncScheduleSerializer,
    SyncScheduleUpdateSerializer,
    SyncStartSerializer,
)

_FILTER_ERRORS = "VALIDATION_ERROR: a filter value is not valid."
_START_ERRORS = (
    "VALIDATION_ERROR (unknown fields, wrong types, `since` with `full`, `until` without a backfill) or "
    "CAPABILITY_NOT_SUPPORTED (the provider cannot pull that)."
)


class IntegrationSyncViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """Start a sync of an integration, and list the integration's sync jobs."""

    queryset = SyncJob.objects.none()
    serializer_class = SyncJobSerializer
    operator_actions = ("sync",)

    @extend_schema(
        summary="Start a sync of an integration",
        description=(
            "Creates a pending job and answers 202 with it; a worker runs it. At most one job of a type runs per "
            "integration: while one is pending or running, another is refused with 409 SYNC_FAILED whose "
            "`details.job_id` names it. An inactive integration, or one awaiting authorization, is 409 "
            "INTEGRATION_INACTIVE whose message and `details.fix` name the call that switches it on."
        ),
        request=SyncStartSerializer,
        responses={
            202: SyncJobSerializer,
            409: OpenApiResponse(ErrorResponseSerializer, description="SYNC_FAILED: a job of that type is active; "
                                 "INTEGRATION_INACTIVE: the integration is inactive or pending_auth (the message "
                                 "names the call that fixes it)."),
            503: OpenApiResponse(ErrorResponseSerializer, description="SECRETS_UNREADABLE: the integration's "
                                 "secrets are stored under an encryption key this server does not hold."),
            **error_responses(bad_request=_START_ERRORS, not_found="INTEGRATION_NOT_FOUND"),
        },
    )
    def sync(self, request: Request, integration_id: str) -> Response:
        integration = integration_get(organization=self.organization, integration_id=integration_id)
        serializer = SyncStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.sync_job_start(integration=integration, trigger=Trigger.API, **serializer.validated_data)
        record_audit(action="sync.started", request=request, target=job,
                     details={"integration": integration.code, "job_type": job.job_type, "trigger": Trigger.API})
        return Response(SyncJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="List an integration's sync jobs",
        description="The same jobs as `GET /api/sync-jobs/?integration={id}`, newest first.",
        responses={200: SyncJobSerializer(many=True), **error_responses(not_found="INTEGRATION_NOT_FOUND")},
    )
    def sync_jobs(self, request: Request, integration_id: str) -> Response:
        integration = integration_get(organization=self.organization, integration_id=integration_id)
        jobs = selectors.sync_job_list(organization=self.organization).filter(integration=integration)
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(SyncJobSerializer(page, many=True).data)

    @extend_schema(
        summary="List an integration's sync jobs (old name)",
        description="The former name of `GET /api/integrations/{id}/sync-jobs/`, kept for existing clients: the "
                    "same answer. Sync jobs are what it lists; the call log is `/api/integration-logs/`.",
        deprecated=True,
        responses={200: SyncJobSerializer(many=True), **error_responses(not_found="INTEGRATION_NOT_FOUND")},
    )
    def sync_logs(self, request: Request, integration_id: str) -> Response:
        return self.sync_jobs(request, integration_id)


@extend_schema_view(
    list=extend_schema(
        summary="List sync jobs",
        responses={200: SyncJobSerializer(many=True), **error_responses(bad_request=_FILTER_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="Get a sync job (counts so far, cursor, timings)",
        responses={200: SyncJobSerializer, **error_responses(not_found="NOT_FOUND")},
    ),
)
class SyncJobViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = SyncJob.objects.none()
    serializer_class = SyncJobSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = SyncJobFilter
    operator_actions = ("cancel",)

    def get_queryset(self):
        if self._fake:
            return SyncJob.objects.none()
        return selectors.sync_job_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SyncJobSerializer(selectors.sync_job_get(organization=self.organization, job_id=pk)).data)

    @extend_schema(
        summary="Cancel a sync job",
        description=(
            "A pending job is cancelled at once; a running one stops after the page it is writing "
            "(`cancel_requested` is true until then). Cancelling a cancelled job is a no-op; a completed or "
            "failed one is 409 SYNC_JOB_FINISHED."
        ),
        request=None,
        responses={
            200: SyncJobSerializer,
            409: OpenApiResponse(ErrorResponseSerializer, description="SYNC_JOB_FINISHED: completed or failed."),
            **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.", not_found="NOT_FOUND"),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = selectors.sync_job_get(organization=self.organization, job_id=pk)
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        job = services.sync_job_cancel(job=job)
        record_audit(action="sync.cancelled", request=request, target=job)
        return Response(SyncJobSerializer(job).data)


class IntegrationScheduleViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """An integration's schedules: one per job type its provider runs (defaults: syncjobs/cadences.py)."""

    queryset = SyncJob.objects.none()
    serializer_class = SyncScheduleSerializer
    pagination_class = None

    @extend_schema(
        summary="List an integration's schedules",
        description="One per job type the provider runs (products every 6 h, inventory every 2 h, orders every "
                    "hour, order status every 30 min, health check every 15 min by default), in that order. Syncs "
                    "run while the integration is active with `auto_sync_enabled`; health checks while it is "
                    "active or in error.",
        responses={200: SyncScheduleSerializer(many=True), **error_responses(not_found="INTEGRATION_NOT_FOUND")},
    )
    def list(self, request: Request, integration_id: str) -> Response:
        integration = integration_get(organization=self.organization, integration_id=integration_id)
        return Response(SyncScheduleSerializer(schedule_list(integration=integration), many=True).data)

    @extend_schema(
        summary="Change one of an integration's schedules",
        description="Admin role. A new interval moves the next due time to that interval after the last start "
                    "(now, if that has passed): shortening it takes effect at once. Switching it on makes it due "
                    "by the same rule. Audited.",
        request=SyncScheduleUpdateSerializer,
        responses={200: SyncScheduleSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: unknown fields, wrong types, an interval "
                                                 "outside 1 minute to a week.",
                                     not_found="INTEGRATION_NOT_FOUND, or NOT_FOUND: no schedule of that job type "
                                               "(the provider does not run it).")},
    )
    def partial_update(self, request: Request, integration_id: str, job_type: str) -> Response:
        integration = integration_get(organization=self.organization, integration_id=integration_id)
        serializer = SyncScheduleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = next((row for row in schedule_list(integration=integration) if row.job_type == job_type), None)
        if schedule is None:
            raise NotFound(f"{integration.code} has no {job_type!r} schedule.",
                           details={"job_types": [row.job_type for row in schedule_list(integration=integration)]})
        before = {"every_minutes": schedule.every_minutes, "enabled": schedule.enabled}
        schedule = schedule_update(schedule=schedule, **serializer.validated_data)
        record_audit(action="schedule.changed", request=request, target=integration,
                     details={"job_type": job_type, "before": before, "after": serializer.validated_data})
        return Response(SyncScheduleSerializer(schedule).data)


class AutoFulfillViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """`POST /api/orders/auto-fulfill/`, routed explicitly (the orders viewset belongs to commerce)."""

    queryset = SyncJob.objects.none()
    serializer_class = AutoFulfillResultSerializer
    operator_actions = ("auto_fulfill",)

    @extend_schema(
        summary="Apply the organization's auto-fulfil rules",
        description="Ships each unshipped order that a rule matches with the rule's courier, and fulfils it with "
                    "the courier's tracking number. 409 AUTO_FULFILL_RUNNING while another run is in progress.",
        request=AutoFulfillSerializer,
        responses={200: AutoFulfillResultSerializer, 409: OpenApiResponse(description="AUTO_FULFILL_RUNNING"),
                   **error_responses(bad_request="VALIDATION_ERROR: unknown fields or wrong types.")},
    )
    def auto_fulfill(self, request: Request) -> Response:
        serializer = AutoFulfillSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = auto_fulfill(organization=self.organization, order_ids=serializer.validated_data.get("order_ids"))
        return Response(AutoFulfillResultSerializer(outcome).data)


class LabelFetchViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """Fetch shipping labels from the courier (or channel) that prints them: `POST /api/orders/{id}/label/fetch/`
    and `POST /api/orders/labels/fetch/`, routed explicitly (the orders viewset belongs to commerce)."""

    queryset = SyncJob.objects.none()
    serializer_class = LabelFetchResultSerializer
    operator_actions = ("fetch_one", "fetch_many")

    @extend_schema(
        summary="Fetch and store an order's shipping labels",
        description="Asks the courier that booked each parcel (its AWB label, a PDF), or the order's channel "
                    "when the channel ships itself (its own label: a PDF, or ZPL for thermal printers), and stores "
                    "the label; download it with GET /api/orders/{id}/label/.",
        request=None,
        responses={201: ShippingLabelSerializer(many=True), **error_responses(
            bad_request="ORDER_NOT_SHIPPED or CAPABILITY_NOT_SUPPORTED (nobody prints this parcel's label).",
            not_found="ORDER_NOT_FOUND")},
    )
    def fetch_one(self, request: Request, order_id: str) -> Response:
        order = order_get(organization=self.organization, order_id=order_id)
        labels = order_labels_fetch(order=order)
        return Response(ShippingLabelSerializer(labels, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Fetch the shipping labels of many orders",
        description="Each order on its own: a failure is reported in `results` and the others go on. Then print "
                    "them as one PDF with POST /api/orders/labels/print/.",
        request=LabelFetchSerializer,
        responses={200: LabelFetchResultSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: unknown fields or wrong types.")},
    )
    def fetch_many(self, request: Request) -> Response:
        serializer = LabelFetchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = labels_fetch(organization=self.organization, order_ids=serializer.validated_data["order_ids"],
                               missing_only=serializer.validated_data["missing_only"])
        return Response(LabelFetchResultSerializer(outcome).data)
