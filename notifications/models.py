"""Notification rules, the conditions they watch, and every notice they produce.

A rule (per organization) says which triggers go where: a Notifier integration and its target (a channel,
an address list), or plain SMTP to a list of addresses when no integration is named. A condition is one
thing being wrong (a sync of one integration failing, one product low at one location): it opens once,
notices while it stays open are suppressed as duplicates, and its clearing sends one "resolved". Every notice
is a row, whatever became of it: sent, failed (with the reason), suppressed, or waiting (quiet hours, digest).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as django_timezone

from accounts.models import Organization
from integrations.models import Integration


class TriggerKind(models.TextChoices):
    INTEGRATION_ERROR = "integration.error", "Integration in error"
    INTEGRATION_REAUTH = "integration.needs_reauth", "Integration needs re-authorization"
    SYNC_FAILED = "sync_job.failed", "Sync failed"
    WEBHOOK_FAILED = "webhook.failed", "Incoming webhook failed"
    ENDPOINT_DISABLED = "endpoint.disabled", "Outgoing webhook endpoint disabled"
    LOW_STOCK = "inventory.low_stock", "Low stock"
    ORDER_STUCK = "order.stuck", "Order unfulfilled too long"
    AI_SUGGESTIONS = "ads.suggestions_ready", "AI suggestions ready"


class NotificationRule(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notification_rules")
    name = models.CharField(max_length=120)
    triggers = models.JSONField(default=list, help_text="Trigger kinds this rule sends (see TriggerKind).")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="notification_rules",
        help_text="A messaging or email integration that sends the notices; empty: plain SMTP (EMAIL_HOST).",
    )
    target = models.CharField(
        max_length=1000, blank=True, default="",
        help_text="Where: a channel id (chat), or comma-separated addresses (email).",
    )
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time; notices wait until the end.")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default=settings.TIME_ZONE, help_text="Of the quiet hours.")
    digest_minutes = models.PositiveIntegerField(
        default=0, help_text="0: each notice at once; N: notices of N minutes batched into one message.")
    stuck_after_hours = models.PositiveIntegerField(
        default=24, help_text="An order paid but not fulfilled this long is stuck (order.stuck).")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Condition(models.Model):
    """One thing being wrong, as a rule sees it: open until it clears (then a "resolved" is sent)."""

    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="conditions")
    trigger = models.CharField(max_length=40, choices=TriggerKind.choices)
    key = models.CharField(max_length=200, help_text="What is wrong, e.g. sync:42:sync_orders.")
    subject = models.JSONField(default=dict, blank=True, help_text="What the opening event said (for resolved).")
    opened_at = models.DateTimeField(default=django_timezone.now)
    last_seen_at = models.DateTimeField(default=django_timezone.now)
    occurrences = models.PositiveIntegerField(default=1)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One open condition per rule and key: two failures at the same instant open it once.
            models.UniqueConstraint(fields=["rule", "key"], condition=Q(cleared_at__isnull=True),
                                    name="notification_condition_open_once"),
        ]
        indexes = [models.Index(fields=["trigger", "cleared_at"], name="notification_cond_trigger")]

    def __str__(self) -> str:
        return f"{self.key} ({'open' if self.cleared_at is None else 'cleared'})"


class NoticeKind(models.TextChoices):
    ALERT = "alert", "Alert"
    RESOLVED = "resolved", "Resolved"
    INFO = "info", "Info"
    DIGEST = "digest", "Digest"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DEFERRED = "deferred", "Deferred"
    SENT = "sent", "Sent"
    IN_DIGEST = "in_digest", "Sent in a digest"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed (duplicate)"


WAITING = (NoticeStatus.PENDING, NoticeStatus.DEFERRED)


class Notice(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notices")
    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="notices")
    condition = models.ForeignKey(Condition, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="notices")
    trigger = models.CharField(max_length=40, choices=TriggerKind.choices, blank=True, default="")
    kind = models.CharField(max_length=16, choices=NoticeKind.choices, default=NoticeKind.ALERT)
    status = models.CharField(max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    title = models.CharField(max_length=300)
    text = models.TextField(blank=True, default="")
    facts = models.JSONField(default=list, blank=True, help_text="[[label, value], …] shown under the text.")
    link = models.URLField(max_length=500, blank=True, default="")
    deliver_after = models.DateTimeField(default=django_timezone.now,
                                         help_text="Not sent before (quiet hours, digest, a retry's backoff).")
    deferred_reason = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="A sender holds it until then.")
    error = models.TextField(blank=True, default="", help_text="Why it failed, or why the last attempt did.")
    digest = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="items",
                               help_text="The digest notice that carried it.")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "deliver_after"], name="notice_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title[:60]}"
