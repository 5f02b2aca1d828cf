"""/api/notification-rules/: an organization's rules (viewers read, admins write) and each rule's notices."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import record_audit
from accounts.tenancy import TenantScopedMixin
from config.api import error_responses
from config.errors import NotFound

from . import services
from .models import Notice, NotificationRule
from .serializers import (
    NoticeSerializer,
    NotificationRuleSerializer,
    NotificationRuleUpdateSerializer,
    NotificationRuleWriteSerializer,
)

_WRITE_ERRORS = ("VALIDATION_ERROR: unknown fields or triggers, an integration of another organization or one "
                 "that cannot send notices, no addresses for SMTP, one end of the quiet hours, an unknown zone.")


class RuleNotFound(NotFound):
    code = "NOTIFICATION_RULE_NOT_FOUND"
    default_message = "Notification rule not found."


@extend_schema_view(
    list=extend_schema(summary="List notification rules",
                       responses={200: NotificationRuleSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="Get a notification rule",
                           responses={200: NotificationRuleSerializer,
                                      **error_responses(not_found="NOTIFICATION_RULE_NOT_FOUND")}),
    create=extend_schema(summary="Create a notification rule", request=NotificationRuleWriteSerializer,
                         responses={201: NotificationRuleSerializer, **error_responses(bad_request=_WRITE_ERRORS)}),
    partial_update=extend_schema(
        summary="Change a notification rule", request=NotificationRuleUpdateSerializer,
        responses={200: NotificationRuleSerializer,
                   **error_responses(bad_request=_WRITE_ERRORS, not_found="NOTIFICATION_RULE_NOT_FOUND")}),
    destroy=extend_schema(summary="Delete a notification rule (its notices go with it)",
                          responses={204: None, **error_responses(not_found="NOTIFICATION_RULE_NOT_FOUND")}),
)
class NotificationRuleViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    queryset = NotificationRule.objects.none()
    serializer_class = NotificationRuleSerializer
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self._fake:
            return NotificationRule.objects.none()
        return NotificationRule.objects.filter(organization=self.organization).order_by("id")

    def get_object(self) -> NotificationRule:
        pk = str(self.kwargs["pk"])
        rule = self.get_queryset().filter(pk=int(pk)).first() if pk.isdigit() else None
        if rule is None:
            raise RuleNotFound()
        return rule

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(NotificationRuleSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(NotificationRuleSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        serializer = NotificationRuleWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_create(organization=self.organization, **serializer.validated_data)
        record_audit(action="notification_rule.created", request=request, target=rule)
        return Response(NotificationRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        serializer = NotificationRuleUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_update(rule=rule, data=dict(serializer.validated_data))
        record_audit(action="notification_rule.changed", request=request, target=rule,
                     details={"fields": sorted(serializer.validated_data)})
        return Response(NotificationRuleSerializer(rule).data)

    def destroy(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        record_audit(action="notification_rule.deleted", request=request, target=rule)
        rule.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="List a rule's notices (sent, failed, suppressed, waiting), newest first",
                   responses={200: NoticeSerializer(many=True),
                              **error_responses(not_found="NOTIFICATION_RULE_NOT_FOUND")})
    @action(detail=True, methods=["get"])
    def notices(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        page = self.paginate_queryset(Notice.objects.filter(rule=rule).order_by("-created_at", "-id"))
        return self.get_paginated_response(NoticeSerializer(page, many=True).data)
