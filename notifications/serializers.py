"""Shapes of /api/notification-rules/ and their notices. Input is strict (unknown fields are VALIDATION_ERROR)."""

from __future__ import annotations

from rest_framework import serializers

from config.api import StrictBooleanField, StrictCharField, StrictInputSerializer, StrictIntegerField

from .models import Notice, NotificationRule, TriggerKind


class NotificationRuleWriteSerializer(StrictInputSerializer):
    name = StrictCharField(max_length=120)
    triggers = serializers.ListField(
        child=serializers.ChoiceField(choices=TriggerKind.choices), allow_empty=False,
        help_text="Trigger kinds: " + ", ".join(TriggerKind.values) + ".")
    integration = StrictIntegerField(
        required=False, allow_null=True,
        help_text="A messaging or email integration (notify capability); null: plain SMTP to `target`.")
    target = StrictCharField(required=False, allow_blank=True, max_length=1000,
                             help_text="A channel id for chat integrations, comma-separated addresses for email.")
    quiet_hours_start = serializers.TimeField(required=False, allow_null=True, help_text="HH:MM, local time.")
    quiet_hours_end = serializers.TimeField(required=False, allow_null=True)
    timezone = StrictCharField(required=False, max_length=64, help_text="IANA zone of the quiet hours.")
    digest_minutes = StrictIntegerField(required=False, min_value=0, max_value=1440)
    stuck_after_hours = StrictIntegerField(required=False, min_value=1, max_value=24 * 30)
    is_active = StrictBooleanField(required=False)


class NotificationRuleUpdateSerializer(NotificationRuleWriteSerializer):
    """PATCH: any subset of the fields."""


class NotificationRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationRule
        fields = ["id", "name", "triggers", "integration", "target", "quiet_hours_start", "quiet_hours_end",
                  "timezone", "digest_minutes", "stuck_after_hours", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = ["id", "rule", "condition", "trigger", "kind", "status", "title", "text", "facts", "link",
                  "deliver_after", "deferred_reason", "attempts", "error", "digest", "sent_at", "created_at"]
        read_only_fields = fields
