"""Events the organization's own services send us (`POST /api/events/`), and the sources allowed to send them.

An EventSource is one sending service of one organization (its user service,
its content service…) with its own Standard Webhooks secret. Every event that
verifies is an InboundEvent row before we answer 2xx; like an IncomingWebhook,
the row, not the Celery message, is the queue of record, and the sender's
message id (`webhook-id`) is unique per source, so a redelivery is acknowledged
and never processed twice.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from integrations.encryption import EncryptedTextField

SOURCE_KEY_PREFIX = "evs_"


def new_source_key() -> str:
    """The public name of a source in its intake URL (`?source=evs_…`); not a secret, the signature is."""
    return f"{SOURCE_KEY_PREFIX}{secrets.token_hex(12)}"


class EventSource(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="event_sources")
    name = models.CharField(max_length=100, help_text="Which of your services sends through it, e.g. user-service.")
    key = models.CharField(max_length=40, unique=True, default=new_source_key, editable=False,
                           help_text="Names the source in the intake URL: POST /api/events/?source=<key>.")
    secret = EncryptedTextField(help_text="whsec_… Standard Webhooks signing secret; shown once.")
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True, help_text="An inactive source's events are refused (401).")
    last_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class InboundEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class InboundEvent(models.Model):
    source = models.ForeignKey(EventSource, on_delete=models.CASCADE, related_name="events")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="inbound_events")
    event_id = models.CharField(max_length=255, help_text="The sender's message id (webhook-id); deduplicates.")
    event_type = models.CharField(max_length=128)
    body = models.BinaryField(help_text="Raw body bytes exactly as received and verified.")
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=InboundEventStatus.choices, default=InboundEventStatus.PENDING)
    retry_count = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the worker processing it.")
    processed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True, help_text="What processing did (ids and counts).")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inboundevent_unique_per_source"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="inboundevent_due"),
            models.Index(fields=["organization", "-received_at"], name="inboundevent_org_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk}"
