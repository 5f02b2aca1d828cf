"""Writes to event sources: create, change, rotate the secret, delete. The secret is returned once, never logged.

A rotation keeps the old secret valid for ROTATION_OVERLAP, so the sending
service can switch to the new one without a window in which its events are
refused.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from webhooks.outbound.signing import secret_generate

from .models import EventSource

ROTATION_OVERLAP = timedelta(hours=24)


def event_source_create(*, organization: Organization, name: str) -> tuple[EventSource, str]:
    """A new active source with a fresh `whsec_…` secret; returns the source and the secret (shown once)."""
    secret = secret_generate()
    source = EventSource.objects.create(organization=organization, name=name, secret=secret)
    return source, secret


def event_source_update(*, source: EventSource, name: str | None = None, is_active: bool | None = None) -> EventSource:
    fields = []
    if name is not None:
        source.name = name
        fields.append("name")
    if is_active is not None:
        source.is_active = is_active
        fields.append("is_active")
    if fields:
        source.save(update_fields=[*fields, "updated_at"])
    return source


@transaction.atomic
def event_source_rotate_secret(*, source: EventSource) -> str:
    """A new secret; the old one still verifies for ROTATION_OVERLAP. Returns the new secret (shown once)."""
    locked = EventSource.objects.select_for_update().get(pk=source.pk)
    secret = secret_generate()
    locked.previous_secret = locked.secret
    locked.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
    locked.secret = secret
    locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    source.secret, source.previous_secret = locked.secret, locked.previous_secret
    source.previous_secret_expires_at, source.updated_at = locked.previous_secret_expires_at, locked.updated_at
    return secret


def event_source_secrets(source: EventSource) -> list[str]:
    """The secrets an event may be signed with now: the current one, and the previous one within its overlap."""
    current = [source.secret]
    expires = source.previous_secret_expires_at
    if source.previous_secret and expires is not None and expires > timezone.now():
        current.append(source.previous_secret)
    return current


def event_source_delete(*, source: EventSource) -> None:
    """Delete the source with its received events (the foreign key cascades)."""
    source.delete()
