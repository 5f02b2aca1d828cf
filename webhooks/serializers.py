"""Shapes of the webhook-endpoints and webhook-deliveries API.

Input is strict (unknown or read-only fields are a VALIDATION_ERROR). The
signing secret appears in full only in the answers to create and rotate-secret;
everywhere else as `secret_masked` (`••••1234`).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictBooleanField, StrictCharField, StrictInputSerializer, StrictIntegerField, StrictURLField
from integrations.masking import mask_secret

from .models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

# ---------------------------------------------------------------- endpoints (input)


class WebhookEndpointCreateSerializer(StrictInputSerializer):
    url = StrictURLField(max_length=1000, help_text="https in production; public addresses only unless allowlisted.")
    events = serializers.ListField(
        child=StrictCharField(max_length=128), allow_empty=False,
        help_text='Event types from GET /api/webhook-endpoints/event-types/, or ["*"] for all.',
    )
    integration = StrictIntegerField(
        required=False, allow_null=True, help_text="Only this integration's events; null or absent: all events."
    )
    description = StrictCharField(required=False, allow_blank=True, max_length=255)


class WebhookEndpointUpdateSerializer(WebhookEndpointCreateSerializer):
    """PATCH: any subset; `is_active: true` re-enables a disabled endpoint."""

    is_active = StrictBooleanField(required=False)


class RecoverSerializer(StrictInputSerializer):
    since = serializers.DateTimeField(help_text="Re-send failed deliveries created at or after this time.")
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="…and before this one (default now).")


# ---------------------------------------------------------------- endpoints (output)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    secret_masked = serializers.SerializerMethodField()
    previous_secret_expires_at = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "events", "integration", "is_active", "disabled_reason",
            "secret_masked", "previous_secret_expires_at", "last_triggered_at", "last_success_at",
            "failing_since", "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_secret_masked(self, obj: WebhookEndpoint) -> str:
        return mask_secret(obj.secret)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_secret_expires_at(self, obj: WebhookEndpoint):
        """While set and in the future, deliveries carry a second signature under the previous secret."""
        if not obj.previous_secret or obj.previous_secret_expires_at is None:
            return None
        return serializers.DateTimeField().to_representation(obj.previous_secret_expires_at)


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The answer to create and rotate-secret: the only time the full secret is shown."""

    secret = serializers.SerializerMethodField(help_text="whsec_… Store it now: it is not shown again.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_secret(self, obj: WebhookEndpoint) -> str:
        return self.context["secret"]


class EventTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    description = serializers.CharField()
    example = serializers.DictField(help_text="A delivery body of this type: {type, timestamp, data}.")


class RecoverQueuedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Failed deliveries in the window, re-sent in the background.")
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


# ---------------------------------------------------------------- deliveries


class WebhookDeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDeliveryAttempt
        fields = ["id", "attempted_at", "response_status", "response_body", "duration_ms", "error"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "endpoint", "event", "event_id", "status", "attempts", "next_attempt_at", "response_status",
            "response_body", "error", "delivered_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookDeliveryAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields
