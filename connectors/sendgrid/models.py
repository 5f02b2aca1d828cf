"""Addresses SendGrid told us not to send to again, from its signed Event Webhook.

A `bounce` (and `dropped`, `spamreport`, `unsubscribe`, `group_unsubscribe`) records the address against the
integration; send_notice leaves recorded addresses out, so a dead mailbox stops costing reputation. A later
event for the same address updates the row (the newest reason wins).
"""

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from integrations.models import Integration


class EmailSuppression(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sendgrid_suppressions")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sendgrid_suppressions")
    email = models.EmailField(max_length=254, help_text="Lower-cased.")
    event = models.CharField(max_length=32, help_text="bounce, dropped, spamreport, unsubscribe…")
    reason = models.TextField(blank=True, default="", help_text="SendGrid's words (the SMTP answer of a bounce).")
    sg_event_id = models.CharField(max_length=100, blank=True, default="")
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "email"], name="sendgrid_suppression_once")]

    def __str__(self) -> str:
        return f"{self.email} ({self.event})"
