"""An organization's connections to third parties, the OAuth handshakes that make them, and their call log."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization

from .encryption import EncryptedJSONField, EncryptedTextField

# Fields that hold secrets: encrypted at rest, write-only in the API and admin.
SECRET_FIELDS = ("api_key", "api_secret", "webhook_secret", "access_token", "refresh_token", "credentials")


def new_route_key(code: str) -> str:
    """`<code>-<12 hex>`: readable in a provider's dashboard, and saying nothing about any other organization's
    codes (a route key derived from the code alone would collide, and so reveal, when two organizations share it)."""
    return f"{(code or 'integration')[:60].strip('-')}-{secrets.token_hex(6)}"


class IntegrationType(models.TextChoices):
    PAYMENT_GATEWAY = "payment_gateway", "Payment gateway"
    ERP = "erp", "ERP"
    ACCOUNTING = "accounting", "Accounting"
    CRM = "crm", "CRM"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    SHIPPING = "shipping", "Shipping"
    INVENTORY = "inventory", "Inventory"
    ECOMMERCE = "ecommerce", "E-commerce"
    ADVERTISING = "advertising", "Advertising"
    SOCIAL = "social", "Social"
    STORAGE = "storage", "Storage"
    TAX = "tax", "Tax"
    API = "api", "API"
    WEBHOOK = "webhook", "Webhook"
    AI = "ai", "AI"


class IntegrationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    ERROR = "error", "Error"
    TESTING = "testing", "Testing"
    PENDING_AUTH = "pending_auth", "Pending authorization"


class StockMode(models.TextChoices):
    """Who is the source of truth for a channel's stock (see commerce/services/stock.py)."""

    IMPORT = "import", "Import: the channel is the source; the hub never writes its stock"
    PUSH = "push", "Push: the ERP is the source; the channel's levels are recorded as drift"
    OFF = "off", "Off: stock is neither imported nor pushed"


class Integration(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="integrations")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=64, help_text="Unique within the organization.")
    route_key = models.SlugField(
        max_length=80, unique=True, editable=False,
        help_text="Names the integration in the URLs providers call (webhooks, payment callbacks); unique across "
                  "organizations, generated at creation. Integrations older than per-organization codes keep "
                  "their code as route key, so the URLs providers already have keep working.",
    )
    type = models.CharField(max_length=32, choices=IntegrationType.choices)
    provider = models.CharField(max_length=64, db_index=True, help_text="Connector registry key.")
    status = models.CharField(max_length=16, choices=IntegrationStatus.choices, default=IntegrationStatus.INACTIVE)
    description = models.TextField(blank=True)
    api_endpoint = models.URLField(blank=True, help_text="Replaces the provider's base URL for every call.")

    api_key = EncryptedTextField(blank=True, default="")
    api_secret = EncryptedTextField(blank=True, default="")
    webhook_secret = EncryptedTextField(blank=True, default="")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    credentials = EncryptedJSONField(blank=True, default=dict, help_text="Provider-specific secrets (JSON).")
    token_type = models.CharField(max_length=32, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.JSONField(default=list, blank=True)

    config = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_test_mode = models.BooleanField(default=False)
    # Replaced by per-job-type schedules (syncjobs.SyncSchedule, migrated from it by syncjobs 0007) and no longer
    # read; the column stays one release for the previous release's processes, which still write it.
    sync_interval_minutes = models.PositiveIntegerField(default=0, help_text="0 = manual only.")
    auto_sync_enabled = models.BooleanField(default=False)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    connected_by = models.CharField(  # db_default: web processes of the previous release insert rows without it
        max_length=255, blank=True, default="", db_default="",
        help_text="Id of the user who connected it, as the organization's user service names them; a user.deleted "
                  "event (events/) removes that user's integrations.",
    )
    stock_mode = models.CharField(
        max_length=8, choices=StockMode.choices, default=StockMode.IMPORT,
        help_text="Who is the source of truth for this channel's stock; changed through the audited stock_mode_set.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="integration_code_per_org")]
        indexes = [
            models.Index(fields=["organization", "provider"], name="integration_org_provider"),
            models.Index(fields=["organization", "status"], name="integration_org_status"),
            models.Index(fields=["organization", "connected_by"], name="integration_org_connected_by",
                         condition=~models.Q(connected_by="")),
            models.Index(
                fields=["next_sync_at"],
                name="integration_due_sync",
                condition=models.Q(auto_sync_enabled=True, status="active"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        if not self.route_key:
            self.route_key = new_route_key(self.code)
        super().save(*args, **kwargs)

    @property
    def token_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class OAuthState(models.Model):
    """One OAuth authorization in flight; single use, short-lived."""

    state = models.CharField(max_length=128, unique=True)
    provider = models.CharField(max_length=64)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="oauth_states")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.CASCADE)
    redirect_uri = models.URLField(max_length=500)
    code_verifier = EncryptedTextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth state"
        indexes = [models.Index(fields=["expires_at"], name="oauthstate_expires")]

    def __str__(self) -> str:
        return f"{self.provider} {self.state[:8]}…"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class ClaimProof(models.TextChoices):
    OAUTH = "oauth", "Completed OAuth connect"
    STAFF = "staff", "Staff"
    MIGRATION = "migration", "Existing OAuth connection (data migration)"


class AccountClaim(models.Model):
    """A provider account (a Shopify shop, an eBay user…) and the one integration its provider-level webhooks reach.

    Unique per (kind, account_id) across all organizations: a shop's app-level webhooks carry customer data, so
    an integration merely naming the shop gets none of them. Only proof makes a claim: a completed OAuth connect
    (the provider vouching for the account) or a superuser (integrations/routing.py).
    """

    kind = models.CharField(max_length=64,
                            help_text="What the id names: <provider>.<kind>, e.g. a shop or a seller of that provider.")
    account_id = models.CharField(max_length=255)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="account_claims")
    proof = models.CharField(max_length=16, choices=ClaimProof.choices)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "account_id"], name="account_claim_one_owner")]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id}"


class LogDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class IntegrationLog(models.Model):
    """One row per provider call or inbound request. Bodies are redacted and truncated before they get here."""

    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="logs"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="integration_logs"
    )
    action = models.CharField(max_length=64)
    direction = models.CharField(max_length=8, choices=LogDirection.choices, default=LogDirection.OUTBOUND)
    method = models.CharField(max_length=8, blank=True, default="")
    endpoint = models.CharField(max_length=1000, blank=True, default="")
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "-created_at"], name="intlog_integration_created"),
            models.Index(fields=["organization", "-created_at"], name="intlog_org_created"),
            models.Index(fields=["action", "-created_at"], name="intlog_action_created"),
            models.Index(fields=["status_code", "-created_at"], name="intlog_status_created"),
            # The admin's filters within an organization (the scoped list is `organization IN (...)`).
            models.Index(fields=["organization", "action", "-created_at"], name="intlog_org_action_created"),
            models.Index(fields=["organization", "status_code", "-created_at"], name="intlog_org_status_created"),
            models.Index(fields=["organization", "direction", "-created_at"], name="intlog_org_direction_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.method} {self.status_code or ''}".strip()

    @property
    def is_error(self) -> bool:
        return bool(self.error_message) or (self.status_code or 0) >= 400


class KeyRingReport(models.Model):
    """The key ring a running process holds, as it last reported it (integrations/key_ring_reports.py).

    `rotate_encryption_keys` reads these before re-encrypting: a process that does not hold the new first key
    could not read the values once they are under it. Only key ids (8 hex digits of each key's SHA-256) are kept.
    """

    process = models.CharField(max_length=200, unique=True, help_text="hostname:pid of the process.")
    role = models.CharField(max_length=16, help_text="web or worker.")
    key_ids = models.JSONField(default=list, help_text="The ids of the keys in its ENCRYPTION_KEYS, first first.")
    reported_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-reported_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.process}"

    @property
    def primary_key_id(self) -> str:
        return self.key_ids[0] if self.key_ids else ""
