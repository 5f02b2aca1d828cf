"""Shapes of the event intake and event-sources API. A source's secret appears in full only on create and rotate."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictBooleanField, StrictCharField, StrictInputSerializer
from integrations.masking import mask_secret

from .models import EventSource, InboundEvent


class EventEnvelopeSerializer(serializers.Serializer):
    """Documents the body of POST /api/events/: a Standard Webhooks payload (the view reads the raw bytes)."""

    type = serializers.CharField(max_length=128, help_text="user.deleted, content.published; others are stored "
                                                           "and ignored.")
    timestamp = serializers.DateTimeField(required=False)
    data = serializers.DictField(
        required=False,
        help_text='user.deleted: {"user_id": "u_123"}. content.published: {"integrations"?: ["shop-ro"], '
                  '"job_type"?: "sync_products"} (no list: every integration of the organization).',
    )


class EventReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The stored event's id.")
    status = serializers.CharField(help_text="pending, or ignored for a type no handler takes; for a redelivery, "
                                             "the stored event's status.")
    duplicate = serializers.BooleanField(help_text="True: this message id was received before; not processed again.")


class EventSourceCreateSerializer(StrictInputSerializer):
    name = StrictCharField(max_length=100, help_text="Which of your services sends through it, e.g. user-service.")


class EventSourceUpdateSerializer(StrictInputSerializer):
    name = StrictCharField(max_length=100, required=False)
    is_active = StrictBooleanField(required=False, help_text="false: its events are refused with 401.")


class EventSourceSerializer(serializers.ModelSerializer):
    secret_masked = serializers.SerializerMethodField()
    intake_path = serializers.SerializerMethodField(help_text="Where the service posts its signed events.")

    class Meta:
        model = EventSource
        fields = ["id", "name", "key", "intake_path", "is_active", "secret_masked", "previous_secret_expires_at",
                  "last_received_at", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_secret_masked(self, source: EventSource) -> str:
        return mask_secret(source.secret)

    @extend_schema_field(serializers.CharField())
    def get_intake_path(self, source: EventSource) -> str:
        return f"/api/events/?source={source.key}"


class EventSourceWithSecretSerializer(EventSourceSerializer):
    secret = serializers.SerializerMethodField(help_text="whsec_… — shown this once; sign events with it.")

    class Meta(EventSourceSerializer.Meta):
        fields = [*EventSourceSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_secret(self, source: EventSource) -> str:
        return self.context["secret"]


class InboundEventSerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField()

    class Meta:
        model = InboundEvent
        fields = ["id", "source", "event_id", "event_type", "status", "payload", "retry_count", "next_attempt_at",
                  "processed_at", "error_message", "result", "received_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_payload(self, event: InboundEvent) -> dict:
        try:
            return json.loads(bytes(event.body))
        except ValueError:
            return {}
