"""Shapes of the integrations API: strict input, output that never carries a secret.

Input serializers only check shapes and types; the rules (registered provider,
free code, safe endpoint) live in services.py. Output shows whether each secret
is set and its masked tail (`••••1234`), never its value; `credentials` shows
only its key names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import (
    StrictBooleanField,
    StrictCharField,
    StrictInputSerializer,
    StrictSlugField,
    StrictURLField,
)

from .encryption import unreadable_secrets
from .health_selectors import Health, integration_health
from .masking import mask_secret
from .models import Integration, IntegrationLog, IntegrationStatus, IntegrationType
from .selectors import integration_receive_url

# ---------------------------------------------------------------- integrations


def _secret_input(label: str) -> StrictCharField:
    return StrictCharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=8192,
        write_only=True,
        style={"input_type": "password"},
        help_text=f"Write-only. {label}; \"\" or null clears it.",
    )


class IntegrationWriteSerializer(StrictInputSerializer):
    """POST creates (name and provider required); PATCH sends any subset."""

    name = StrictCharField(max_length=200)
    code = StrictSlugField(
        max_length=64, required=False,
        help_text="Unique within the organization. Left out on create: made from the name (\"Shop RO\" → "
                  "\"shop-ro\", then \"shop-ro-2\" if that is taken).",
    )
    provider = StrictCharField(max_length=64, help_text="A key from GET /api/providers/.")
    type = serializers.ChoiceField(
        choices=IntegrationType.choices, required=False, help_text="Defaults to the provider's type."
    )
    status = serializers.ChoiceField(choices=IntegrationStatus.choices, required=False)
    description = StrictCharField(required=False, allow_blank=True)
    api_endpoint = StrictURLField(
        required=False, allow_blank=True, max_length=200, help_text="Replaces the provider's base URL."
    )
    api_key = _secret_input("API key")
    api_secret = _secret_input("API secret")
    webhook_secret = _secret_input("Secret that signs the provider's webhooks")
    access_token = _secret_input("OAuth or static access token")
    refresh_token = _secret_input("OAuth refresh token")
    credentials = serializers.DictField(
        required=False,
        allow_null=True,
        write_only=True,
        help_text="Write-only. Provider-specific secrets; replaces the stored object as a whole; null clears it.",
    )
    token_type = StrictCharField(required=False, allow_blank=True, max_length=32)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    scope = serializers.ListField(child=StrictCharField(max_length=200), required=False)
    config = serializers.DictField(required=False)
    metadata = serializers.DictField(required=False)
    is_test_mode = StrictBooleanField(required=False)
    auto_sync_enabled = StrictBooleanField(
        required=False, help_text="Whether its sync schedules run (each job type's interval and switch: "
                                  "GET/PATCH /api/integrations/{id}/schedules/).")
    connected_by = StrictCharField(
        required=False, allow_blank=True, max_length=255,
        help_text="Id of the user who connected it, as your user service names them (a `user.deleted` event "
                  "removes that user's integrations); filter with `?connected_by=`.",
    )


@extend_schema_field(OpenApiTypes.BOOL)
class SecretPresenceField(serializers.Field):
    def __init__(self, **kwargs: Any):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> bool:
        return bool(value)


@extend_schema_field(OpenApiTypes.STR)
class MaskedSecretField(serializers.Field):
    def __init__(self, **kwargs: Any):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return mask_secret(value)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class KeyNamesField(serializers.Field):
    def __init__(self, **kwargs: Any):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> list[str]:
        return sorted(str(key) for key in value) if isinstance(value, Mapping) else []


class HealthSerializer(serializers.Serializer):
    """The integration's health: the same computation and states as the console's badge
    (integrations/health_selectors.py), with the counts behind it."""

    state = serializers.ChoiceField(
        choices=Health.STATES,
        help_text="Worst first: error (secrets unreadable, status error, most calls failing), needs_reauth "
                  "(pending_auth, or a token expired with no refresh token), paused (inactive or testing), degraded "
                  "(failures in a row, last sync failed, calls failing, incoming webhooks failed or retrying after "
                  "errors, failing outgoing endpoints of the integration or its organization, sync overdue, token "
                  "expiring), ok.")
    label = serializers.CharField(help_text="The badge's text, e.g. `Needs re-auth`.")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="The state's cause first, then "
                                    "every other problem found; empty when ok.")
    calls_24h = serializers.IntegerField(help_text="Provider calls in the last 24 hours.")
    call_errors_24h = serializers.IntegerField()
    webhooks_retrying = serializers.IntegerField(help_text="Incoming webhooks retrying after an error (failing).")
    webhooks_failed_24h = serializers.IntegerField(help_text="Incoming webhooks received in 24 h that failed.")
    endpoints_failing = serializers.IntegerField(help_text="This integration's outgoing endpoints failing.")
    organization_endpoints_failing = serializers.IntegerField(
        help_text="Organization-wide outgoing endpoints failing (they carry this integration's events too).")
    last_sync_status = serializers.CharField(allow_null=True, help_text="The last sync job's status; null: none.")
    secrets_readable = serializers.BooleanField(
        help_text="False when a secret is stored under an encryption key this server's ring lacks "
                  "(see `unreadable_secrets`).")


class UnreadableSecretSerializer(serializers.Serializer):
    field = serializers.CharField()
    key_id = serializers.CharField(help_text="The encryption key the value is stored under.")


class IntegrationSerializer(serializers.ModelSerializer):
    """An integration as the API shows it. Secrets appear only as `has_*` and `*_masked`.

    `health` comes from the view's context (`{"health": {id: IntegrationHealth}}`, one computation for a page
    of rows) or, for a lone integration, is computed here.
    """

    has_api_key = SecretPresenceField(source="api_key")
    api_key_masked = MaskedSecretField(source="api_key")
    has_api_secret = SecretPresenceField(source="api_secret")
    api_secret_masked = MaskedSecretField(source="api_secret")
    has_webhook_secret = SecretPresenceField(source="webhook_secret")
    webhook_secret_masked = MaskedSecretField(source="webhook_secret")
    has_access_token = SecretPresenceField(source="access_token")
    access_token_masked = MaskedSecretField(source="access_token")
    has_refresh_token = SecretPresenceField(source="refresh_token")
    refresh_token_masked = MaskedSecretField(source="refresh_token")
    has_credentials = SecretPresenceField(source="credentials")
    credentials_keys = KeyNamesField(source="credentials")
    token_expired = serializers.BooleanField(read_only=True)
    webhook_url = serializers.SerializerMethodField(
        help_text="Where the provider delivers this integration's webhooks (`/api/webhooks/receive/{route_key}/`).")
    # Empty when the provider's own base URL is used, so not a "uri" in the schema.
    api_endpoint = serializers.CharField(read_only=True, help_text="Replaces the provider's base URL; empty: none.")
    health = serializers.SerializerMethodField()
    unreadable_secrets = serializers.SerializerMethodField(
        help_text="Secrets stored under an encryption key this server's ENCRYPTION_KEYS lacks (during a key "
                  "rotation: a server still on the old ring); empty when all are readable. Such an integration's "
                  "own URLs answer 503 SECRETS_UNREADABLE.")

    class Meta:
        model = Integration
        fields = [
            "id", "name", "code", "route_key", "webhook_url", "type", "provider", "status", "description",
            "api_endpoint",
            "has_api_key", "api_key_masked", "has_api_secret", "api_secret_masked",
            "has_webhook_secret", "webhook_secret_masked", "has_access_token", "access_token_masked",
            "has_refresh_token", "refresh_token_masked", "has_credentials", "credentials_keys",
            "token_type", "expires_at", "token_expired", "scope", "config", "metadata",
            "is_test_mode", "auto_sync_enabled", "connected_by",
            "last_sync_at", "next_sync_at", "last_error", "consecutive_failures", "stock_mode", "health",
            "unreadable_secrets", "created_at", "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"next_sync_at": {"help_text": "The earliest next due time of its enabled sync schedules "
                                                      "(GET /api/integrations/{id}/schedules/)."}}

    def get_webhook_url(self, integration: Integration) -> str:
        return integration_receive_url(integration)

    @extend_schema_field(HealthSerializer)
    def get_health(self, integration: Integration) -> dict[str, Any]:
        found = self.context.get("health", {}).get(integration.pk) or integration_health(integration)
        return found.as_dict()

    @extend_schema_field(UnreadableSecretSerializer(many=True))
    def get_unreadable_secrets(self, integration: Integration) -> list[dict[str, str]]:
        return [{"field": name, "key_id": kid} for name, kid in sorted(unreadable_secrets(integration).items())]


class ConnectionResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField(min_value=0)
    detail = serializers.CharField(help_text="What happened; never contains a secret.")
    activated = serializers.BooleanField(help_text="Whether this call switched the integration on (only with "
                                         "activation asked for, and a passing test).")
    status = serializers.ChoiceField(choices=IntegrationStatus.choices, help_text="The integration's status after "
                                     "the call. inactive or pending_auth with `ok: true`: POST …/activate/ "
                                     "switches it on.")


# ---------------------------------------------------------------- providers, logs


class _ProviderOAuthSerializer(serializers.Serializer):
    scopes = serializers.ListField(child=serializers.CharField())
    pkce = serializers.BooleanField()


class _ProviderRateLimitSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    per_seconds = serializers.FloatField()


class ProviderSerializer(serializers.Serializer):
    """Documents `Connector.describe()`; the API returns that dict as the connector gives it."""

    key = serializers.CharField()
    display_name = serializers.CharField()
    integration_type = serializers.CharField()
    auth_kind = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    webhook_scheme = serializers.CharField(allow_null=True)
    oauth = _ProviderOAuthSerializer(allow_null=True)
    rate_limit = _ProviderRateLimitSerializer(allow_null=True)
    docs_url = serializers.CharField(allow_blank=True)


class IntegrationLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = IntegrationLog
        fields = [
            "id", "integration", "action", "direction", "method", "endpoint", "request", "response",
            "status_code", "duration_ms", "error_message", "metadata", "created_at",
        ]
        read_only_fields = fields
