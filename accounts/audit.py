"""The audit trail: `record_audit(...)` writes one AuditEvent per operator action.

Called by the admin actions and the API views that act (start a sync, retry a
webhook, replace a secret, activate an integration, rotate a key), after the
service did its work, with the request that asked for it: the actor (a staff
user or an API key) and the client address come from the request, so callers
pass only what happened. `details` must never hold a secret's value: pass the
names of what changed (`{"secrets": ["api_key"]}`), ids and counts.

The client address is REMOTE_ADDR. Behind a reverse proxy that address is the
proxy's unless the deployment rewrites it (e.g. gunicorn's
--forwarded-allow-ips with a proxy-fix middleware); X-Forwarded-For is not
trusted here because any client can send one.
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import socket
from typing import Any

from django.db import transaction
from django.db.models import Model

from .models import ApiKey, AuditEvent, Organization

logger = logging.getLogger(__name__)

# Keys whose values are never stored in `details`, whatever a caller passes.
_SECRET_WORDS = ("secret", "token", "password", "api_key_value", "credential_value", "raw")


def client_ip(request) -> str | None:
    """The address a request came from, as every record of who-did-what (audit, sign-in lockout) names it."""
    value = (getattr(request, "META", None) or {}).get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def command_actor(command: str) -> str:
    """Who ran a management command, as the trail names them: `command sync (deploy@web-1)` (the OS user and host:
    a shell has no signed-in user; pass it as `actor_label`)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unnamed uid)
        user = "unknown"
    return f"command {command} ({user}@{socket.gethostname()})"


def _actor(request) -> tuple[Any, ApiKey | None, str]:
    """(user, api key, label) of whoever made the request."""
    user = getattr(request, "user", None)
    api_key = getattr(user, "api_key", None)
    if isinstance(api_key, ApiKey):
        return None, api_key, f"API key {api_key.name} ({api_key.prefix}…)"
    if user is not None and getattr(user, "is_authenticated", False) and getattr(user, "pk", None):
        return user, None, user.get_username()
    return None, None, "anonymous"


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    """Drop any value whose key names a secret: the trail says *that* a secret changed, never to what."""
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if any(word in key.lower() for word in _SECRET_WORDS) and not isinstance(value, (list, bool, int)):
            clean[key] = "(not recorded)"
        else:
            clean[key] = value
    return clean


def record_audit(
    *,
    action: str,
    request=None,
    organization: Organization | int | None = None,
    target: Model | None = None,
    details: dict[str, Any] | None = None,
    via: str | None = None,
    actor_label: str | None = None,
) -> AuditEvent | None:
    """Record that `action` happened to `target` in `organization`, done by the request's user or key.

    Without a request (a management command) pass `actor_label`, e.g.
    "command rotate_keys". The organization defaults to the target's. Never
    raises: a failure to write the trail is logged, and the action it
    describes (already done) stands.
    """
    try:
        user, api_key, label = _actor(request) if request is not None else (None, None, "system")
        if organization is None and target is not None:
            organization = getattr(target, "organization_id", None)
        org_id = organization.pk if isinstance(organization, Organization) else organization
        if via is None:
            via = "api" if api_key is not None or hasattr(request, "data") else ("admin" if request else "command")
        with transaction.atomic():  # a savepoint: a failed insert leaves the caller's transaction usable
            return AuditEvent.objects.create(
                organization_id=org_id,
                actor=user,
                api_key=api_key,
                actor_label=(actor_label or label)[:200],
                action=action,
                target_type=target._meta.label_lower if target is not None else "",
                target_id=str(target.pk) if target is not None and target.pk is not None else "",
                target_repr=str(target)[:200] if target is not None else "",
                details=_scrub(details or {}),
                ip_address=client_ip(request) if request is not None else None,
                via=via,
            )
    except Exception:  # noqa: BLE001 - the trail must not undo the action it records
        logger.exception("Could not record the audit event %s", action)
        return None


def record_audit_each(*, action: str, request, targets, details: dict[str, Any] | None = None) -> int:
    """One event per target (a bulk admin action); returns how many were written."""
    return sum(1 for target in targets if record_audit(action=action, request=request, target=target,
                                                      details=details))


def record_changes(*, request, target: Model, data: dict[str, Any], secret_fields: tuple[str, ...],
                   kind: str) -> None:
    """The events of an update of `target` with `data` (the fields the caller changed):

    `<kind>.activated` / `.deactivated` / `.status_changed` for a status move,
    `secret.replaced` and `secret.cleared` naming the secret fields (never their
    values), and `<kind>.changed` naming the other fields.
    """
    if "status" in data:
        moved = {"active": "activated", "inactive": "deactivated"}.get(str(data["status"]), "status_changed")
        record_audit(action=f"{kind}.{moved}", request=request, target=target, details={"status": data["status"]})
    secrets = [name for name in data if name in secret_fields]
    replaced = sorted(name for name in secrets if data[name] not in (None, "", {}))
    cleared = sorted(name for name in secrets if data[name] in (None, "", {}))
    if replaced:
        record_audit(action="secret.replaced", request=request, target=target, details={"secrets": replaced})
    if cleared:
        record_audit(action="secret.cleared", request=request, target=target, details={"secrets": cleared})
    others = sorted(set(data) - set(secrets) - {"status"})
    if others:
        record_audit(action=f"{kind}.changed", request=request, target=target, details={"fields": others})
