"""Shapes of the incoming-webhooks API: read-only output; the body is shown parsed and masked, never raw."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import IncomingWebhook

from .selectors import incoming_webhook_headers, incoming_webhook_payload


class IncomingWebhookSerializer(serializers.ModelSerializer):
    integration_code = serializers.CharField(source="integration.code", read_only=True)

    class Meta:
        model = IncomingWebhook
        fields = [
            "id", "integration", "integration_code", "event_type", "source", "external_id", "status",
            "retry_count", "max_retries", "next_attempt_at", "processed_at", "error_message",
            "signature_verified", "remote_ip", "received_at", "updated_at",
        ]
        read_only_fields = fields


class IncomingWebhookDetailSerializer(IncomingWebhookSerializer):
    headers = serializers.SerializerMethodField(help_text="As received, secrets masked.")
    payload = serializers.SerializerMethodField(help_text="The body parsed as JSON (else its text), secrets masked.")
    body_size = serializers.SerializerMethodField(help_text="Bytes received.")
    result = serializers.SerializerMethodField(help_text="What processing did (e.g. orders created/updated).")

    class Meta(IncomingWebhookSerializer.Meta):
        fields = [*IncomingWebhookSerializer.Meta.fields, "headers", "payload", "body_size", "result"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_headers(self, obj: IncomingWebhook) -> dict[str, str]:
        return incoming_webhook_headers(obj)

    @extend_schema_field(OpenApiTypes.ANY)
    def get_payload(self, obj: IncomingWebhook) -> Any:
        return incoming_webhook_payload(obj)

    def get_body_size(self, obj: IncomingWebhook) -> int:
        return len(obj.body or b"")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, obj: IncomingWebhook) -> dict[str, Any]:
        return (obj.metadata or {}).get("result") or {}


class ReceiptSerializer(serializers.Serializer):
    """What a receive endpoint answers (202 stored, 200 a duplicate of `id`)."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    duplicate = serializers.BooleanField(required=False)
