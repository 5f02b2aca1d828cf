"""The OAuth 2.0 connect flow: start an authorization, complete its callback, disconnect.

The provider-specific parts (authorize URL, callback checks, code exchange,
revocation, the account's name) are the connector's (connectors/base.py's OAuth
hooks); this module holds what every provider shares:

- `oauth_initiate` checks the client's redirect URI (redirects.py), builds the
  connector for the integration being connected (an existing one, or an unsaved
  draft), stores an OAuthState (≥128 random bits, the PKCE verifier encrypted,
  expiring after OAUTH_STATE_TTL_MINUTES) and answers the authorization URL.
- `oauth_complete` answers a provider's callback. The state must exist, be for
  this provider, unused and unexpired; the connector checks the query (Shopify's
  HMAC and shop); the code is exchanged through the connector (so through the
  provider client: logged and redacted). Then one transaction claims the state
  (a conditional UPDATE, so two racing callbacks cannot both win), stores the
  tokens on the integration (encrypted fields) or creates it, claims the provider
  accounts the connect proved (routing.py: a shop already another integration's
  refuses the whole connect with ACCOUNT_ALREADY_CLAIMED), and publishes
  `integration.connected`. A refusal stores nothing and leaves the state as it
  was: a forged or misrouted callback cannot burn a user's real handshake.
  After that commit the provider's webhooks are subscribed (best effort,
  services.integration_webhooks_register: a failure is recorded, never fatal).
- `oauth_disconnect` removes the webhook subscriptions and revokes at the
  provider where it can (best effort: a provider that is down must not keep
  tokens alive here), wipes the tokens and publishes `integration.disconnected`.

Provider calls happen outside transactions (a rollback must not lose tokens a
provider already issued, and no lock is held while a provider thinks).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Organization
from config.errors import ApplicationError, OAuthFailed, ValidationError
from connectors import registry
from connectors.base import AuthKind, Connector, TokenSet
from connectors.outbound import check_outbound_url
from connectors.redaction import Redactor

from .. import health, routing, selectors, services
from ..models import ClaimProof, Integration, IntegrationStatus, OAuthState
from . import pkce, redirects

logger = logging.getLogger(__name__)

STATE_BYTES = 32  # 256 bits, URL-safe: 43 characters
MESSAGE_LIMIT = 200
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_at", "scope")


@dataclass(frozen=True)
class Authorization:
    authorization_url: str
    state: str


def _oauth_connector_class(provider: str) -> type[Connector]:
    connector_cls = registry.get(provider)
    if connector_cls.auth_kind != AuthKind.OAUTH2:
        raise ValidationError(
            f"{connector_cls.display_name} is not connected with OAuth.",
            details={"provider": [f"{provider!r} uses {connector_cls.auth_kind.value} authentication"]},
        )
    return connector_cls


# ---------------------------------------------------------------- initiate
def oauth_initiate(
    *,
    organization: Organization,
    user: Any,
    provider: str,
    redirect_uri: str,
    integration_id: int | None = None,
    name: str = "",
    shop: str = "",
    metadata: dict[str, Any] | None = None,
    connected_by: str = "",
) -> Authorization:
    """Start connecting `provider` for `organization`; the browser goes to the answer's authorization_url.

    With `integration_id` the tokens will land on that integration (it must be
    the organization's and of this provider); without it the callback creates
    one (named `name`, or after the account). Raises INVALID_PROVIDER,
    INTEGRATION_NOT_FOUND or VALIDATION_ERROR (redirect URI not allowed, a shop
    the provider refuses, no client credentials, an incomplete OAuth config);
    nothing is stored then.
    """
    connector_cls = _oauth_connector_class(provider)
    if not redirects.redirect_uri_allowed(redirect_uri, organization):
        raise ValidationError(
            "The redirect URI is not allowed for this organization.",
            details={"redirect_uri": ["Not under OAUTH_ALLOWED_REDIRECT_URIS or the organization's redirect URIs."]},
        )
    if integration_id is not None:
        integration = selectors.integration_get(organization=organization, integration_id=integration_id)
        if integration.provider != provider:
            raise ValidationError(
                "The integration is of another provider.",
                details={"provider": [f"integration {integration_id} is {integration.provider!r}"]},
            )
    else:
        integration = Integration(organization=organization, provider=provider, name=name,
                                  type=connector_cls.integration_type)
    connector = connector_cls(integration)
    fields = connector.oauth_connect_fields(shop=shop)
    if integration.pk is not None:
        if any(getattr(integration, key) != value for key, value in fields.items()):
            raise ValidationError("The shop is not the integration's.", details={"shop": ["does not match"]})
        fields = {}
    else:
        for key, value in fields.items():
            setattr(integration, key, value)
    if integration.api_endpoint:
        check_outbound_url(integration.api_endpoint, field="shop" if shop else "api_endpoint")
    meta = connector.oauth_meta()
    if meta is None:
        raise ValidationError(f"{connector_cls.display_name} has no OAuth endpoints.",
                              details={"provider": ["no OAuth endpoints"]})
    client_id, _ = connector.oauth_client_credentials()
    if not client_id:
        raise ValidationError(
            f"No OAuth client is configured for {connector_cls.display_name}.",
            details={"credentials": ["Set the integration's client_id/client_secret or the provider's settings."]},
        )

    state = secrets.token_urlsafe(STATE_BYTES)
    verifier = pkce.new_verifier() if meta.pkce else ""
    scopes = list(meta.default_scopes)
    url = connector.authorize_url(
        state=state, redirect_uri=redirects.callback_url(provider), scopes=scopes,
        code_challenge=pkce.s256_challenge(verifier) if verifier else "",
    )
    OAuthState.objects.create(
        state=state,
        provider=provider,
        organization=organization,
        user=user if getattr(user, "pk", None) else None,
        integration=integration if integration.pk else None,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        metadata={"name": name, "fields": fields, "scopes": scopes, "client_metadata": metadata or {},
                  "initiated_by": str(user) if user is not None else "", "connected_by": connected_by},
        expires_at=timezone.now() + timedelta(minutes=settings.OAUTH_STATE_TTL_MINUTES),
    )
    return Authorization(authorization_url=url, state=state)


# ---------------------------------------------------------------- callback
def oauth_complete(*, provider: str, query: dict[str, str]) -> str:
    """Answer a provider's callback; returns the URL to send the browser to (the stored redirect URI + outcome).

    Raises OAuthFailed only when the state is unknown: with no stored redirect
    URI there is nowhere safe to send the browser (a URI from the query would
    make this an open redirect), so the caller renders the error envelope.
    """
    value = query.get("state") or ""
    oauth_state = (
        OAuthState.objects.select_related("organization", "integration").filter(state=value).first() if value else None
    )
    if oauth_state is None:
        raise OAuthFailed("Unknown OAuth state: start the connection again.", details={"state": ["unknown"]})
    try:
        integration = _complete(oauth_state, provider, query)
    except (OAuthFailed, routing.AccountAlreadyClaimed) as exc:
        logger.info("OAuth callback for %s refused: %s", provider, exc.message)
        return redirects.result_url(oauth_state.redirect_uri, status="error", code=exc.code,
                                    message=exc.message[:MESSAGE_LIMIT])
    return redirects.result_url(oauth_state.redirect_uri, status="success", integration_id=integration.pk)


def _complete(oauth_state: OAuthState, provider: str, query: dict[str, str]) -> Integration:
    if oauth_state.provider != provider:
        raise OAuthFailed("The OAuth state belongs to another provider.")
    if oauth_state.used_at is not None:
        raise OAuthFailed("The OAuth state was already used: start the connection again.")
    if oauth_state.expires_at <= timezone.now():
        raise OAuthFailed("The OAuth state expired: start the connection again.")
    if query.get("error"):
        words = f"{query['error']}: {query.get('error_description', '')}".strip(": ")
        raise OAuthFailed(f"The provider refused the authorization ({words[:120]}).")

    integration = oauth_state.integration or _draft(oauth_state)
    connector = registry.connector_for(integration)
    client_secret = connector.oauth_client_credentials()[1]
    try:
        connector.validate_callback(query)
        code = connector.callback_code(query)
        if not code:
            raise OAuthFailed("The callback carries no authorization code.")
        tokens = connector.exchange_code(code, redirect_uri=redirects.callback_url(provider),
                                         code_verifier=oauth_state.code_verifier)
    except OAuthFailed:
        raise
    except (ApplicationError, requests.RequestException, KeyError, ValueError, TypeError) as exc:
        raise OAuthFailed(_safe_message(exc, integration, client_secret)) from exc
    account, learned = _account_name(connector, tokens)
    integration = _store(oauth_state, integration, tokens, account, learned)
    # After the connect committed and outside any transaction; best effort, it never fails the connect.
    transaction.on_commit(partial(services.integration_webhooks_register, integration=integration))
    return integration


def _draft(oauth_state: OAuthState) -> Integration:
    """The integration a callback will create, unsaved: what the initiate recorded (its shop's endpoint)."""
    connector_cls = registry.get(oauth_state.provider)
    integration = Integration(organization=oauth_state.organization, provider=oauth_state.provider,
                              type=connector_cls.integration_type, name=oauth_state.metadata.get("name", ""))
    for key, value in (oauth_state.metadata.get("fields") or {}).items():
        if key in ("api_endpoint", "config"):
            setattr(integration, key, value)
    return integration


def _safe_message(exc: Exception, integration: Integration, client_secret: str) -> str:
    text = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__} from the provider"
    redacted = Redactor.for_integration(integration, extra=[client_secret] if client_secret else []).text(text)
    return f"The code exchange failed: {redacted}"[:MESSAGE_LIMIT]


def _account_name(connector: Connector, tokens: TokenSet) -> tuple[str, dict[str, Any]]:
    """The account's display name with the new token, and the config keys the connector set while naming it
    (eBay records the seller's user id there); a failure here must not fail the connect."""
    integration = connector.integration
    integration.access_token, integration.expires_at = tokens.access_token, tokens.expires_at
    before = dict(integration.config) if isinstance(integration.config, dict) else {}
    try:
        name = connector.account_display_name()[:200]
    except Exception as exc:  # noqa: BLE001 - a name is a nicety; the tokens are what the user came for
        logger.warning("Fetching the account name of a %s connect failed: %s", connector.key, type(exc).__name__)
        return "", {}
    after = integration.config if isinstance(integration.config, dict) else {}
    return name, {key: value for key, value in after.items() if key not in before or before[key] != value}


def _store(oauth_state: OAuthState, integration: Integration, tokens: TokenSet, account: str,
           learned: dict[str, Any]) -> Integration:
    """Save the grant: a new integration (its draft carries `learned` already), or the row locked and updated
    (`learned` merged into the config as it is now, so a concurrent edit of other keys is kept)."""
    now = timezone.now()
    scope = list(tokens.scope) or list(oauth_state.metadata.get("scopes") or [])
    token_values = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token or "",  # a new grant replaces the old pair whole
        "token_type": tokens.token_type or "Bearer",
        "expires_at": tokens.expires_at,
        "scope": scope,
    }
    with transaction.atomic():
        claimed = OAuthState.objects.filter(pk=oauth_state.pk, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
        if not claimed:
            raise OAuthFailed("The OAuth state was already used: start the connection again.")
        if integration.pk is None:
            integration = _create(oauth_state, integration, token_values, account)
        else:
            integration = Integration.objects.select_for_update().get(pk=integration.pk)
            for key, value in token_values.items():
                setattr(integration, key, value)
            if account:
                integration.metadata = {**(integration.metadata or {}), "account_name": account}
            if learned:
                integration.config = {**(integration.config or {}), **learned}
            integration.save(update_fields=[*TOKEN_FIELDS, "metadata", "config", "updated_at"])
        routing.accounts_claim(integration=integration, proof=ClaimProof.OAUTH, user=oauth_state.user)
        health.integration_connected(integration=integration, account_name=account)  # active, integration.connected
    return integration


def _create(oauth_state: OAuthState, draft: Integration, token_values: dict[str, Any], account: str) -> Integration:
    connector_cls = registry.get(draft.provider)
    name = (draft.name or account or connector_cls.display_name)[:200]
    metadata = dict(oauth_state.metadata.get("client_metadata") or {})
    if account:
        metadata["account_name"] = account
    try:
        return services.integration_create(
            organization=oauth_state.organization, name=name, code=_free_code(oauth_state.organization, name),
            provider=draft.provider,
            status=IntegrationStatus.ACTIVE, api_endpoint=draft.api_endpoint, config=draft.config or {},
            metadata=metadata, connected_by=oauth_state.metadata.get("connected_by") or "", **token_values,
        )
    except ApplicationError as exc:  # e.g. the shop's endpoint no longer passes the outbound check
        raise OAuthFailed(f"The integration could not be created: {exc.message}"[:MESSAGE_LIMIT]) from exc


def _free_code(organization: Organization, name: str) -> str:
    base = (slugify(name) or "integration")[:50].strip("-") or "integration"
    for _ in range(5):
        code = f"{base}-{secrets.token_hex(3)}"
        if not Integration.objects.filter(organization=organization, code=code).exists():
            return code
    return f"{base}-{secrets.token_hex(8)}"


# ---------------------------------------------------------------- disconnect
def oauth_holds_tokens(integration: Integration) -> bool:
    """Whether the integration is an OAuth one with tokens to revoke (an unregistered provider: no)."""
    if not registry.is_registered(integration.provider):
        return False
    oauth = registry.get(integration.provider).auth_kind == AuthKind.OAUTH2
    return oauth and bool(integration.access_token or integration.refresh_token)


def oauth_disconnect(*, integration: Integration, reason: str = "user", at_provider: bool = True) -> bool:
    """Unsubscribe and revoke at the provider (best effort), wipe the tokens, set pending_auth, publish
    integration.disconnected.

    Returns whether the provider confirmed a revocation. A webhook unsubscription
    or a revoke that fails (provider down, token already dead) is recorded in
    `last_error` and in the event, and the local tokens are wiped all the same:
    the user asked for them to be gone. `at_provider=False` calls no provider
    (it told us the authorization is gone: its deauthorization webhook). Raises
    VALIDATION_ERROR for a provider that is not OAuth.
    """
    connector = registry.connector_for(integration)
    if connector.auth_kind != AuthKind.OAUTH2:
        raise ValidationError(f"{connector.display_name} is not connected with OAuth; delete or edit its keys.",
                              details={"provider": ["not OAuth"]})
    revoked, errors = False, []
    if at_provider and (integration.access_token or integration.refresh_token):
        errors.append(services.integration_webhooks_unregister(integration=integration))  # needs the token
        try:
            revoked = connector.revoke_token()
        except (ApplicationError, requests.RequestException) as exc:
            text = exc.message if isinstance(exc, ApplicationError) else type(exc).__name__
            errors.append(Redactor.for_integration(integration).text(f"Revoking at the provider failed: {text}"))
    with transaction.atomic():
        row = Integration.objects.select_for_update().get(pk=integration.pk)
        row.access_token = row.refresh_token = ""
        row.expires_at, row.token_type, row.scope = None, "", []
        row.save(update_fields=[*TOKEN_FIELDS, "updated_at"])
        health.integration_disconnected(integration=row, reason=reason, revoked=revoked,
                                        message="; ".join(e for e in errors if e))
    for key in (*TOKEN_FIELDS, "status", "last_error", "updated_at"):
        setattr(integration, key, getattr(row, key))
    return revoked


# ---------------------------------------------------------------- housekeeping
def oauth_states_purge(*, now=None) -> int:
    """Delete expired OAuthState rows (used or not); they can no longer complete anything. Returns how many."""
    deleted, _ = OAuthState.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
