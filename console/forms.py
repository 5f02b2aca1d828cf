"""The Integration admin form: secrets are write-only.

The model's secret fields are never form fields, so no widget can ever render
their values. Each secret instead gets a "new value" input that renders empty
(blank keeps the stored value) and a "clear" checkbox; `credentials` gets a JSON
textarea that also renders empty, and its help text names its keys only.
"""

from __future__ import annotations

import json

from django import forms

from config.errors import UnsafeURL
from connectors import registry
from connectors.base import AuthKind
from connectors.outbound import check_outbound_url
from integrations.encryption import UnreadableSecret
from integrations.masking import mask_secret
from integrations.models import SECRET_FIELDS, Integration, IntegrationType

SECRET_LABELS = {
    "api_key": "API key",
    "api_secret": "API secret",
    "webhook_secret": "Webhook secret",
    "access_token": "Access token",
    "refresh_token": "Refresh token",
    "credentials": "Credentials",
}


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one just posted back after an error."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


def _new_secret_input() -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _clear_checkbox() -> forms.BooleanField:
    return forms.BooleanField(required=False, label="Clear")


# Which secrets a provider reads, by how it authenticates, when its connector does not list them itself
# (a `secret_fields` tuple on the Connector class wins). `credentials` holds provider-specific extras.
_SECRETS_BY_AUTH = {
    AuthKind.OAUTH2: ("api_key", "api_secret", "access_token", "refresh_token"),
    AuthKind.API_KEY: ("api_key", "api_secret"),
    AuthKind.BASIC: ("api_key", "api_secret"),
    AuthKind.SERVICE_ACCOUNT: (),
    AuthKind.NONE: (),
}


def provider_secret_fields(connector_cls) -> list[str]:
    """The secret inputs the add and change forms show for a provider (the others stay hidden)."""
    declared = getattr(connector_cls, "secret_fields", None)
    if declared is not None:
        return list(declared)
    fields = list(_SECRETS_BY_AUTH.get(connector_cls.auth_kind, SECRET_FIELDS))
    if getattr(connector_cls, "webhook_scheme", None):  # a WebhookReceiver with a scheme of its own
        fields.append("webhook_secret")
    if connector_cls.auth_kind != AuthKind.NONE:
        fields.append("credentials")
    return fields


def secret_status(integration: Integration | None, name: str) -> str:
    """How a stored secret is shown: `••••1234`, or "not set"; credentials by key names only."""
    value = getattr(integration, name, None) if integration is not None else None
    if isinstance(value, UnreadableSecret):
        return f"unreadable: stored under key {value.key_id}, which this process's ENCRYPTION_KEYS does not hold"
    if name == "credentials":
        keys = sorted(value) if isinstance(value, dict) else []
        return f"keys: {', '.join(keys)}" if keys else "not set"
    return mask_secret(value) or "not set"


class IntegrationAdminForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=())
    api_endpoint = forms.URLField(
        required=False, assume_scheme="https", help_text=Integration._meta.get_field("api_endpoint").help_text
    )

    api_key_new = _new_secret_input()
    api_key_clear = _clear_checkbox()
    api_secret_new = _new_secret_input()
    api_secret_clear = _clear_checkbox()
    webhook_secret_new = _new_secret_input()
    webhook_secret_clear = _clear_checkbox()
    access_token_new = _new_secret_input()
    access_token_clear = _clear_checkbox()
    refresh_token_new = _new_secret_input()
    refresh_token_clear = _clear_checkbox()
    credentials_new = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='A JSON object, e.g. {"client_secret": "…"}; it replaces every stored credential.',
    )
    credentials_clear = _clear_checkbox()

    class Meta:
        model = Integration
        # Listed, not excluded: a secret field added to the model later must not appear here by default.
        fields = (
            "organization", "name", "code", "type", "provider", "status", "description", "api_endpoint",
            "token_type", "expires_at", "scope", "config", "metadata", "is_test_mode", "auto_sync_enabled",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        existing = self.instance.pk is not None
        if "provider" in self.fields:
            choices = list(registry.provider_choices())
            current = self.instance.provider
            if current and current not in dict(choices):
                choices.append((current, f"{current} (not registered)"))
            self.fields["provider"].choices = [("", "---------"), *choices]
            # The page's script shows only the secret inputs the chosen provider reads (and any stored one).
            stored = [name for name in SECRET_FIELDS if existing and getattr(self.instance, name, None)]
            self.fields["provider"].widget.attrs.update({
                "data-secrets": json.dumps({key: provider_secret_fields(cls)
                                            for key, cls in registry.providers().items()}),
                "data-stored": json.dumps(stored),
            })
        if not existing:
            # As in the API: the type follows the provider, the code the name, unless given.
            if "type" in self.fields:
                self.fields["type"].required = False
                self.fields["type"].choices = [("", "(the provider's type)"), *IntegrationType.choices]
                self.fields["type"].help_text = "Leave it to follow the provider."
            if "code" in self.fields:
                self.fields["code"].required = False
                self.fields["code"].help_text = ("Unique within the organization; leave it empty to make one from "
                                                 "the name.")
        for name in SECRET_FIELDS:
            new = self.fields.get(f"{name}_new")
            if new is not None:
                new.label = f"New {SECRET_LABELS.get(name, name)}"
                status = secret_status(self.instance if existing else None, name)
                keep = "leave blank to keep it" if existing else "optional"
                extra = f" {new.help_text}" if name == "credentials" else ""
                new.help_text = f"Stored: {status}; {keep}.{extra}"

    def clean_api_endpoint(self):
        url = self.cleaned_data.get("api_endpoint", "")
        if url:
            try:
                check_outbound_url(url, field="api_endpoint", allow_unresolved=True)  # each call checks again
            except UnsafeURL as exc:
                raise forms.ValidationError(exc.message) from None
        return url

    def clean_credentials_new(self):
        raw = self.cleaned_data.get("credentials_new", "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            # Never echo the input: it is a secret.
            raise forms.ValidationError("Enter a valid JSON object.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object (name → secret), not a list or a single value.")
        return value

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if cleaned.get(f"{name}_clear") and cleaned.get(f"{name}_new") not in (None, ""):
                self.add_error(f"{name}_clear", "Either enter a new value or clear it, not both.")
        return cleaned

    def secret_changes(self) -> dict[str, object]:
        """{secret field: new value} for what this submission replaces or clears."""
        changes: dict[str, object] = {}
        for name in SECRET_FIELDS:
            if f"{name}_new" not in self.cleaned_data:
                continue  # the field was not on this form (a read-only view)
            new = self.cleaned_data.get(f"{name}_new")
            if self.cleaned_data.get(f"{name}_clear"):
                changes[name] = {} if name == "credentials" else ""
            elif new not in (None, ""):
                changes[name] = new
        return changes

    def save(self, commit: bool = True):
        instance = super().save(commit=False)
        for name, value in self.secret_changes().items():
            setattr(instance, name, value)
        if commit:
            instance.save()
            self._save_m2m()
        return instance
