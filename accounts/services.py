"""Writes for organizations, memberships and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from config.errors import ValidationError

from .models import ApiKey, Organization, Role

API_KEY_PREFIX = "sy_"
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def organization_create(*, slug: str, name: str | None = None) -> Organization:
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(f"Organization {slug!r} already exists.", details={"slug": ["already exists"]})
    return Organization.objects.create(slug=slug, name=name or slug)


def api_key_create(
    *, organization: Organization, name: str, role: str = Role.OPERATOR, created_by: AbstractBaseUser | None = None
) -> tuple[ApiKey, str]:
    """Make a key and return it with its raw value, which is never stored and shown only now."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.", details={"role": [f"choose one of {', '.join(Role.values)}"]})
    prefix = secrets.token_hex(4)
    raw = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        organization=organization, name=name, prefix=prefix, hashed_key=hash_api_key(raw), role=role,
        created_by=created_by,
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Find the active key for a raw value; touch last_used_at at most once a minute."""
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    key = (
        ApiKey.objects.select_related("organization")
        .filter(hashed_key=hash_api_key(raw_key), revoked_at__isnull=True, organization__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        with transaction.atomic():
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
