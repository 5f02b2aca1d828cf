"""The event intake (`POST /api/events/`) and the API that manages event sources and lists received events.

The intake is called by the organization's own services, not with an API key:
the signature of the source named in the URL is its only credential
(intake.py). Sources are managed by admins (the secret is shown once, on
create and rotate); received events are readable by any role.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import client_ip, record_audit
from accounts.tenancy import TenantScopedMixin
from config.api import (
    CursorPagination,
    DateTimeFilter,
    ErrorResponseSerializer,
    IdFilter,
    StrictInputSerializer,
    error_responses,
)
from config.errors import PayloadTooLarge

from . import selectors, sources
from .intake import event_receive
from .models import EventSource, InboundEvent, InboundEventStatus
from .serializers import (
    EventEnvelopeSerializer,
    EventReceiptSerializer,
    EventSourceCreateSerializer,
    EventSourceSerializer,
    EventSourceUpdateSerializer,
    EventSourceWithSecretSerializer,
    InboundEventSerializer,
)

_SIGNATURE_HEADERS = [
    OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True,
                     description="The message id; a redelivery carries the same one."),
    OpenApiParameter("webhook-timestamp", str, OpenApiParameter.HEADER, required=True,
                     description="Unix seconds; refused when more than WEBHOOK_SIGNATURE_TOLERANCE_SECONDS away."),
    OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True,
                     description="`v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}` with the source's "
                                 "secret (several, space-separated, while rotating)."),
]


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorResponseSerializer, description=description)


class EventIntakeView(APIView):
    authentication_classes: list = []  # the source's signature is the only credential
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Receive an event from one of your services",
        description=(
            "A [Standard Webhooks](https://www.standardwebhooks.com/) signed event. Stored before the answer "
            "(202), processed once in the background; the same `webhook-id` again is acknowledged (200) and not "
            "processed again. Handled: `user.deleted` (removes the integrations that user connected, revoking "
            "their tokens) and `content.published` (syncs the affected integrations); other types are stored as "
            "ignored."
        ),
        operation_id="events_receive",
        auth=[],
        tags=["events"],
        parameters=[
            OpenApiParameter("source", str, OpenApiParameter.QUERY, required=True,
                             description="The event source's key (`evs_…`, from POST /api/event-sources/)."),
            *_SIGNATURE_HEADERS,
        ],
        request=EventEnvelopeSerializer,
        responses={
            202: EventReceiptSerializer,
            200: OpenApiResponse(EventReceiptSerializer, description="A redelivery: the stored event."),
            400: _error("VALIDATION_ERROR: signed, but not a JSON object with a string `type` (and object `data`)."),
            401: _error("INVALID_SIGNATURE: unknown or inactive source, wrong signature, or a timestamp out of the "
                        "window; nothing stored."),
            413: _error("PAYLOAD_TOO_LARGE: body over WEBHOOK_MAX_BODY_BYTES."),
        },
    )
    def post(self, request: Request) -> Response:
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        body = request.body
        if len(body) > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        receipt = event_receive(source_key=request.query_params.get("source", ""), headers=request.headers,
                                body=body, remote_ip=client_ip(request))
        answer = {"id": receipt.event.pk, "status": receipt.event.status, "duplicate": not receipt.created}
        return Response(answer, status=status.HTTP_202_ACCEPTED if receipt.created else status.HTTP_200_OK)


_NOT_FOUND = "NOT_FOUND"


@extend_schema_view(
    list=extend_schema(summary="List event sources", tags=["events"],
                       responses={200: EventSourceSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="Get an event source", tags=["events"],
                           responses={200: EventSourceSerializer, **error_responses(not_found=_NOT_FOUND)}),
    create=extend_schema(
        summary="Create an event source", tags=["events"],
        description="One sending service of yours. Answers with its signing secret in full, once, and its "
                    "`intake_path`.",
        request=EventSourceCreateSerializer,
        responses={201: EventSourceWithSecretSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: unknown fields or a bad name.")},
    ),
    partial_update=extend_schema(
        summary="Rename, deactivate or reactivate an event source", tags=["events"],
        request=EventSourceUpdateSerializer,
        responses={200: EventSourceSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR", not_found=_NOT_FOUND)},
    ),
    destroy=extend_schema(summary="Delete an event source and its received events", tags=["events"],
                          responses={204: None, **error_responses(not_found=_NOT_FOUND)}),
)
class EventSourceViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    queryset = EventSource.objects.none()
    serializer_class = EventSourceSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return EventSource.objects.none()
        return selectors.event_source_list(organization=self.organization)

    def get_object(self) -> EventSource:
        return selectors.event_source_get(organization=self.organization, source_id=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EventSourceSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(EventSourceSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        serializer = EventSourceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source, secret = sources.event_source_create(organization=self.organization, **serializer.validated_data)
        record_audit(action="event_source.created", request=request, target=source)
        return Response(EventSourceWithSecretSerializer(source, context={"secret": secret}).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        serializer = EventSourceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        source = sources.event_source_update(source=source, **serializer.validated_data)
        record_audit(action="event_source.changed", request=request, target=source,
                     details={"fields": sorted(serializer.validated_data)})
        return Response(EventSourceSerializer(source).data)

    def destroy(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        record_audit(action="event_source.deleted", request=request, target=source)
        sources.event_source_delete(source=source)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate an event source's signing secret", tags=["events"],
        description="Answers with the new secret, once. The old one still verifies for 24 h, so the service can "
                    "switch without its events being refused.",
        request=None,
        responses={200: EventSourceWithSecretSerializer,
                   **error_responses(bad_request="VALIDATION_ERROR: the body must be empty.", not_found=_NOT_FOUND)},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        StrictInputSerializer(data=request.data).is_valid(raise_exception=True)
        secret = sources.event_source_rotate_secret(source=source)
        record_audit(action="event_source.secret_rotated", request=request, target=source)
        return Response(EventSourceWithSecretSerializer(source, context={"secret": secret}).data)


class ReceivedCursorPagination(CursorPagination):
    ordering = ("-received_at", "-id")


class InboundEventFilter(django_filters.FilterSet):
    source = IdFilter(field_name="source_id", help_text="An event source id.")
    status = django_filters.ChoiceFilter(choices=InboundEventStatus.choices)
    event_type = django_filters.CharFilter()
    received_after = DateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = DateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = InboundEvent
        fields = ["source", "status", "event_type", "received_after", "received_before"]


@extend_schema_view(
    list=extend_schema(summary="List received events", tags=["events"],
                       responses={200: InboundEventSerializer(many=True),
                                  **error_responses(bad_request="VALIDATION_ERROR: a filter value is not valid.")}),
    retrieve=extend_schema(summary="Get a received event", tags=["events"],
                           responses={200: InboundEventSerializer, **error_responses(not_found=_NOT_FOUND)}),
)
class InboundEventViewSet(TenantScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = InboundEvent.objects.none()
    serializer_class = InboundEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InboundEventFilter
    pagination_class = ReceivedCursorPagination

    def get_queryset(self):
        if self._fake:
            return InboundEvent.objects.none()
        return selectors.inbound_event_list(organization=self.organization)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(InboundEventSerializer(
            selectors.inbound_event_get(organization=self.organization, event_id=pk)).data)
