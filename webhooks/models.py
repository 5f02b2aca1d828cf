"""Webhooks in both directions.

Inbound: every verified provider webhook is an IncomingWebhook row before we
answer 2xx; the row, not the Celery message, is the queue of record.
Outbound: `publish()` writes one WebhookDelivery per matching WebhookEndpoint in
the caller's transaction; each send is a WebhookDeliveryAttempt.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from integrations.encryption import EncryptedTextField
from integrations.models import Integration

# ---------------------------------------------------------------- inbound


class IncomingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class IncomingWebhook(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="incoming_webhooks")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incoming_webhooks")
    event_type = models.CharField(max_length=128, blank=True, default="")
    source = models.CharField(max_length=64, blank=True, default="", help_text="Provider key or scheme.")
    external_id = models.CharField(
        max_length=255, blank=True, default="", help_text="The provider's event id; deduplicates redeliveries."
    )
    body = models.BinaryField(help_text="Raw body bytes exactly as received.")
    headers = models.JSONField(default=dict, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=IncomingStatus.choices, default=IncomingStatus.PENDING)
    retry_count = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the worker processing it.")
    nudged_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When its processing message was sent (empty: none is on its way); the sweeper sends another "
        "only once this is WEBHOOK_INCOMING_NUDGE_TTL_SECONDS old.",
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    signature = models.CharField(max_length=512, blank=True, default="")
    signature_verified = models.BooleanField(default=False)
    fingerprint = models.CharField(  # db_default: web processes of the previous release insert rows without it
        max_length=64, blank=True, default="", db_default="",
        help_text="Hash of what the signature covers (schemes whose event id is unsigned); spots replays.",
    )
    metadata = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "external_id"],
                condition=~models.Q(external_id=""),
                name="incomingwebhook_unique_event",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="incoming_due"),
            models.Index(fields=["organization", "-received_at"], name="incoming_org_received"),
            models.Index(fields=["integration", "-received_at"], name="incoming_integration_received"),
            models.Index(fields=["integration", "fingerprint", "-received_at"], name="incoming_fingerprint",
                         condition=~models.Q(fingerprint="")),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event_type} #{self.pk}"


# ---------------------------------------------------------------- outbound


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=255, blank=True, default="")
    events = models.JSONField(default=list, help_text='Event names, or ["*"] for all.')
    secret = EncryptedTextField(help_text="whsec_… signing secret.")
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "is_active"], name="endpoint_org_active")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    RETRYING = "retrying", "Retrying"


class WebhookDelivery(models.Model):
    # Indexed by the composites below that lead with them (db_index=False): a lease and a record rewrite every
    # index of the row, so an index no query needs is work on every delivery (issue 18).
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_index=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_deliveries",
                                     db_index=False)
    event = models.CharField(max_length=128)
    event_id = models.CharField(max_length=64, help_text="Stable across retries: the webhook-id header.")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    round_attempts = models.PositiveIntegerField(
        default=0, help_text="Attempts since it was last queued (published, redelivered, recovered): its retry step."
    )
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the dispatcher sending it.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status__in=["pending", "retrying"]),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["organization", "-created_at"], name="delivery_org_created"),
            # In flight: the few leased rows, counted per endpoint for its concurrency cap.
            models.Index(
                fields=["endpoint", "locked_until"],
                name="delivery_leased",
                condition=models.Q(locked_until__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class WebhookDeliveryAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of delivery {self.delivery_id}"


class WebhookNotice(models.Model):
    """Something an organization's owners were told about its endpoints (e.g. `endpoint.disabled`), for the admin."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_notices")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    kind = models.CharField(max_length=64)
    message = models.TextField()
    emailed_to = models.JSONField(default=list, blank=True, help_text="Addresses an email went to, if any.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key on a create call, with the first answer, kept 24 h."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=64, help_text="Which create call the key was used on.")
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = EncryptedTextField(help_text="May carry a secret shown once, so it is encrypted.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "scope", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
