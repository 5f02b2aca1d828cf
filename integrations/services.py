"""Writes to integrations: create, update, delete, and the connection test.

The API, the admin and commands all come through here, so the rules live here:
the provider must be registered, `type` defaults to the provider's, `code` is a
slug unique within the organization (another organization's codes are none of
the caller's business: they are never checked against, nor revealed), a custom
`api_endpoint` must pass the outbound URL check, and a secret given as "" or
None is cleared. Every check runs before anything is
written, so a refused call changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Organization
from config.errors import ApplicationError, ValidationError
from connectors import registry
from connectors.base import AuthKind, ConnectionResult
from connectors.capabilities import WebhookReceiver
from connectors.outbound import check_outbound_url
from connectors.redaction import Redactor

from . import health
from .masking import MASK
from .metadata import integration_metadata_write
from .models import SECRET_FIELDS, Integration, IntegrationStatus
from .routing import claims_forget_stale
from .selectors import integration_receive_url

logger = logging.getLogger(__name__)

SECRET_TEXT_FIELDS = tuple(name for name in SECRET_FIELDS if name != "credentials")

# What `integration_update` may change. The organization, the sync bookkeeping
# (last_sync_at, next_sync_at, last_error, consecutive_failures) and timestamps
# belong to the product, not to the caller.
UPDATABLE_FIELDS = frozenset(
    {
        "name", "code", "type", "provider", "status", "description", "api_endpoint",
        *SECRET_FIELDS,
        "token_type", "expires_at", "scope", "config", "metadata",
        "is_test_mode", "auto_sync_enabled", "connected_by",
    }
)

_DETAIL_LIMIT = 500


def _check_code_free(organization_id: int, code: str, *, exclude_pk: int | None = None) -> None:
    taken = Integration.objects.filter(organization_id=organization_id, code=code)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError(f"The code {code!r} is already in use.", details={"code": ["already in use"]})


def integration_code_from_name(*, organization_id: int, name: str, provider: str = "") -> str:
    """A free code for a new integration when the caller gave none: the name as a slug ("Shop RO" → "shop-ro"),
    then "-2", "-3"… until the organization does not use it. A name with no letters or digits falls back to
    the provider's key."""
    field_length = Integration._meta.get_field("code").max_length
    base = slugify(name)[:field_length].strip("-") or slugify(provider)[:field_length] or "integration"
    taken = set(Integration.objects.filter(organization_id=organization_id, code__startswith=base)
                .values_list("code", flat=True))
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate, number = f"{base[:field_length - len(suffix)].rstrip('-')}{suffix}", number + 1
    return candidate


def _check_api_endpoint(api_endpoint: str) -> None:
    if api_endpoint:
        check_outbound_url(api_endpoint, field="api_endpoint", allow_unresolved=True)  # each call checks again


def _save_new(integration: Integration) -> None:
    """Insert, turning a lost race on the unique code into the same error the pre-check gives."""
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError:
        _check_code_free(integration.organization_id, integration.code, exclude_pk=integration.pk)
        raise


@transaction.atomic
def integration_create(
    *,
    organization: Organization,
    name: str,
    code: str = "",
    provider: str,
    type: str | None = None,
    status: str = IntegrationStatus.INACTIVE,
    description: str = "",
    api_endpoint: str = "",
    api_key: str | None = "",
    api_secret: str | None = "",
    webhook_secret: str | None = "",
    access_token: str | None = "",
    refresh_token: str | None = "",
    credentials: dict[str, Any] | None = None,
    token_type: str = "",
    expires_at: datetime | None = None,
    scope: list[str] | None = None,
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    is_test_mode: bool = False,
    auto_sync_enabled: bool = False,
    connected_by: str = "",
) -> Integration:
    """Create an integration for `organization`.

    Raises InvalidProvider for an unregistered provider, ValidationError for a
    code the organization already uses and UnsafeURL for an api_endpoint that
    points inside. No code: one is made from the name (integration_code_from_name).
    The route key of its provider-facing URLs is generated.
    """
    connector_cls = registry.get(provider)
    code = code or integration_code_from_name(organization_id=organization.pk, name=name, provider=provider)
    _check_code_free(organization.pk, code)
    _check_api_endpoint(api_endpoint)
    integration = Integration(
        organization=organization,
        name=name,
        code=code,
        provider=provider,
        type=type or connector_cls.integration_type,
        status=status,
        description=description,
        api_endpoint=api_endpoint,
        api_key=api_key or "",
        api_secret=api_secret or "",
        webhook_secret=webhook_secret or "",
        access_token=access_token or "",
        refresh_token=refresh_token or "",
        credentials=credentials or {},
        token_type=token_type,
        expires_at=expires_at,
        scope=scope or [],
        config=config or {},
        metadata=metadata or {},
        is_test_mode=is_test_mode,
        auto_sync_enabled=auto_sync_enabled,
        connected_by=connected_by,
    )
    _save_new(integration)
    if integration.status == IntegrationStatus.ACTIVE and connector_cls.auth_kind != AuthKind.OAUTH2:
        transaction.on_commit(partial(_register_after_commit, integration.pk))
    return integration


# Fields whose new value may be the working credential a `pending_auth` integration waits for.
CREDENTIAL_FIELDS = ("api_key", "api_secret", "access_token", "refresh_token", "credentials")


@transaction.atomic
def integration_update(*, integration: Integration, data: dict[str, Any]) -> Integration:
    """Change the fields in `data` (a partial update) and save only those.

    A secret given as "" or None is cleared; `credentials` is replaced as a
    whole, not merged, so a key can be removed by leaving it out. Changing the
    provider does not change `type` unless `type` is given too. Changing `code`
    leaves the provider-facing URLs alone: they use the route key.

    New credentials for an integration waiting in `pending_auth` (and no status in `data`) are tried once the
    change commits: a passing connection test returns it to `active` (integration_test_and_activate), a
    failing one leaves it waiting with the test's detail in last_error. The caller's `integration` shows the
    outcome when it returns (outside a transaction) or when its transaction commits (the admin's).
    """
    retry_credentials = (integration.status == IntegrationStatus.PENDING_AUTH and "status" not in data
                         and any(data.get(name) for name in CREDENTIAL_FIELDS))
    unknown = sorted(set(data) - UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(details={name: ["This field cannot be changed."] for name in unknown})
    if "provider" in data:
        registry.get(data["provider"])
    if "code" in data and data["code"] != integration.code:
        _check_code_free(integration.organization_id, data["code"], exclude_pk=integration.pk)
    if data.get("api_endpoint"):
        _check_api_endpoint(data["api_endpoint"])
    activated = data.get("status") == IntegrationStatus.ACTIVE and Integration.objects.filter(
        pk=integration.pk).exclude(status=IntegrationStatus.ACTIVE).exists()

    changes = dict(data)
    for name in SECRET_TEXT_FIELDS:
        if name in changes and changes[name] is None:
            changes[name] = ""
    if "credentials" in changes and changes["credentials"] is None:
        changes["credentials"] = {}
    for name in ("scope", "config", "metadata"):
        if name in changes and changes[name] is None:
            changes[name] = [] if name == "scope" else {}

    for name, value in changes.items():
        setattr(integration, name, value)
    if changes:
        try:
            with transaction.atomic():
                integration.save(update_fields=[*changes, "updated_at"])
        except IntegrityError:
            _check_code_free(integration.organization_id, integration.code, exclude_pk=integration.pk)
            raise
    if changes.keys() & {"config", "api_endpoint", "provider"}:
        claims_forget_stale(integration=integration)
    if activated and not _oauth(integration.provider):
        transaction.on_commit(partial(_register_after_commit, integration.pk))
    if retry_credentials:
        transaction.on_commit(partial(integration_test_and_activate, integration=integration))
    return integration


def integration_delete(*, integration: Integration) -> None:
    """Delete the integration with its log rows and OAuth states (the foreign keys cascade).

    An OAuth integration holding tokens is disconnected first (its webhook
    subscriptions removed and its tokens revoked at the provider where it can
    be, integration.disconnected published); any other has its subscriptions
    removed (best effort). Both outside the delete's transaction: no
    transaction stays open while a provider answers.
    """
    from .oauth.flow import oauth_disconnect, oauth_holds_tokens  # flow builds on this module

    if oauth_holds_tokens(integration):
        oauth_disconnect(integration=integration, reason="deleted")
    elif registry.is_registered(integration.provider) and not _oauth(integration.provider):
        integration_webhooks_unregister(integration=integration)
    with transaction.atomic():
        integration.delete()


# ---------------------------------------------------------------- webhook subscriptions at the provider
# Made when an integration becomes usable (an OAuth connect, an API-key integration created or set active) and
# removed when it goes (disconnect, delete). Best effort: a provider that refuses or is down must not fail the
# connect or the delete; the scheduled syncs import whatever the webhooks would have brought. What happened is
# kept in metadata["webhook_subscriptions"] (and a failure in last_error, through health.py) for the operator.
SUBSCRIPTIONS_KEY = "webhook_subscriptions"
SUBSCRIPTION_ERROR_PREFIX = "Subscribing to the provider's webhooks failed: "


def _oauth(provider: str) -> bool:
    """OAuth integrations subscribe on connect (oauth/flow.py); the others when they are created or set active."""
    return registry.get(provider).auth_kind == AuthKind.OAUTH2


def _register_after_commit(integration_id: int) -> None:
    integration = Integration.objects.select_related("organization").filter(
        pk=integration_id, status=IntegrationStatus.ACTIVE).first()
    if integration is not None:
        integration_webhooks_register(integration=integration)


def _failure_text(exc: Exception, integration: Integration) -> str:
    # A non-domain exception's message may carry a secret or a personal detail: only its class is kept.
    text = f"{exc.code}: {exc.message}" if isinstance(exc, ApplicationError) else type(exc).__name__
    return scrub_secrets(text, integration)


def integration_webhooks_register(*, integration: Integration) -> list[str] | None:
    """Subscribe the integration's receive URL to its provider's topics (`connector.register_webhooks`).

    Call it outside transactions (it calls the provider). Returns the topics newly subscribed, or None when
    it failed: the failure is logged and recorded (last_error, metadata), never raised. A success clears a
    last_error that an earlier failed subscription wrote.
    """
    now = timezone.now().isoformat()
    try:
        connector = registry.connector_for(integration)
        topics = list(connector.register_webhooks(integration_receive_url(integration))
                      if isinstance(connector, WebhookReceiver) else [])
    except Exception as exc:  # noqa: BLE001 - best effort: whatever went wrong is recorded, the caller goes on
        detail = _failure_text(exc, integration)
        logger.warning("Webhook subscription of integration %s failed: %s", integration.code, detail)
        _record_subscriptions(integration, {"status": "failed", "error": detail, "at": now})
        health.integration_problem_noted(integration=integration, message=f"{SUBSCRIPTION_ERROR_PREFIX}{detail}")
        return None
    _record_subscriptions(integration, {"status": "registered", "added": topics, "at": now})
    health.integration_problem_cleared(integration=integration, prefix=SUBSCRIPTION_ERROR_PREFIX)
    return topics


def integration_webhooks_unregister(*, integration: Integration) -> str:
    """Remove the subscriptions `integration_webhooks_register` made (`connector.unregister_webhooks`).

    Best effort, like registering; call it while the integration still holds its credentials. Returns ""
    or the failure's description (logged and recorded in metadata, never raised).
    """
    now = timezone.now().isoformat()
    try:
        connector = registry.connector_for(integration)
        removed = (connector.unregister_webhooks(integration_receive_url(integration))
                   if isinstance(connector, WebhookReceiver) else 0)
    except Exception as exc:  # noqa: BLE001 - best effort: a disconnect or delete goes on regardless
        detail = _failure_text(exc, integration)
        logger.warning("Removing the webhook subscriptions of integration %s failed: %s", integration.code, detail)
        _record_subscriptions(integration, {"status": "unregister_failed", "error": detail, "at": now})
        return f"Removing the provider's webhook subscriptions failed: {detail}"
    if removed:
        _record_subscriptions(integration, {"status": "removed", "removed": removed, "at": now})
    return ""


def _record_subscriptions(integration: Integration, outcome: dict[str, Any]) -> None:
    integration_metadata_write(integration, values={SUBSCRIPTIONS_KEY: outcome})


def scrub_secrets(text: str, integration: Integration) -> str:
    """`text` with every secret of the integration replaced by the mask, longest first, and cut to a sane length.

    Each secret is searched for as is, URL-encoded and JSON-escaped (the forms it
    takes in an echoed URL or error body). Very short values (under 4
    characters) are left alone: they carry no secret worth the name and
    replacing them would mangle ordinary words. Scrub before cutting: a cut
    secret no longer matches.
    """
    text = Redactor.for_integration(integration, replacement=MASK).values(text)
    return text[:_DETAIL_LIMIT]


def integration_test_connection(*, integration: Integration) -> ConnectionResult:
    """Run the provider's connection test and record the outcome on the integration.

    Never raises for a provider's failure: a domain error (PROVIDER_ERROR,
    TOKEN_EXPIRED, an unregistered provider…), a network error, a connector
    without a test, even a bug in a connector, all become `ok=False` with a
    detail that names what went wrong. The detail is scrubbed of the
    integration's secrets, because providers and HTTP libraries like to echo
    credentials back in their messages.

    What it records (health.integration_tested): `last_error` is set to the
    failure's detail, or cleared on success; an integration in status `error`
    goes back to `active` on success. A failure does not change `status` or
    `consecutive_failures`: a test is an operator's probe (often of an
    integration not switched on yet), while those fields track the scheduled work.
    """
    try:
        result = registry.connector_for(integration).test_connection()
    except ApplicationError as exc:
        result = ConnectionResult(ok=False, latency_ms=0, detail=f"{exc.code}: {exc.message}")
    except NotImplementedError:
        result = ConnectionResult(ok=False, latency_ms=0, detail="This provider has no connection test.")
    except Exception as exc:  # noqa: BLE001 - any failure of a test is its result, not a 500
        # The message may carry a secret: log and answer with the exception's class only.
        logger.warning("Connection test of integration %s failed with %s", integration.pk, type(exc).__name__)
        result = ConnectionResult(ok=False, latency_ms=0, detail=f"Connection failed ({type(exc).__name__}).")
    result = ConnectionResult(
        ok=bool(result.ok), latency_ms=max(0, int(result.latency_ms)), detail=scrub_secrets(result.detail, integration)
    )
    health.integration_tested(integration=integration, ok=result.ok, detail=result.detail)
    return result


# What a passing connection test may switch on: not yet active, or waiting for working credentials. (An
# integration in `error` goes back to active on any passing test: health.integration_tested.)
ACTIVATABLE = (IntegrationStatus.INACTIVE, IntegrationStatus.TESTING, IntegrationStatus.PENDING_AUTH)


@dataclass(frozen=True)
class Activation:
    result: ConnectionResult
    activated: bool  # the test passed and the integration went from `previous_status` to active


def integration_test_and_activate(*, integration: Integration) -> Activation:
    """Test the connection and, if it passes, switch an inactive, testing or pending_auth integration on.

    How an integration becomes active: this (the console's "Activate" after a passing test, the API's
    `POST …/test/?activate=true` and `POST …/activate/`), a completed OAuth connect (oauth/flow.py), new
    credentials for a pending_auth integration that pass the test (integration_update), or a user setting
    `status` itself. Activation is a user's edit: it goes through integration_update, which subscribes the
    provider's webhooks. Never raises for a provider's failure (see integration_test_connection).
    """
    result = integration_test_connection(integration=integration)
    if not (result.ok and integration.status in ACTIVATABLE):
        return Activation(result=result, activated=False)
    integration_update(integration=integration, data={"status": IntegrationStatus.ACTIVE})
    return Activation(result=result, activated=True)
