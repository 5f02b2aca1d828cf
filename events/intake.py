"""Receiving an event: verify the Standard Webhooks signature, store the row, answer; processing comes after commit.

The source is named by the intake URL (`?source=evs_…`) and proves itself
with its signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`
over the exact body bytes, a timestamp within
WEBHOOK_SIGNATURE_TOLERANCE_SECONDS either way). An unknown or inactive
source, a wrong signature and a stale or future timestamp are all the same
401 INVALID_SIGNATURE, with nothing stored: the answer does not tell a
stranger which source keys exist. A verified body must be a JSON object with a
string `type` (and `data`, if present, an object); otherwise 400, nothing stored.

The row is written in its own transaction before the view answers 2xx; a
redelivery of a message id the source already sent hits the unique
(source, event_id) constraint and is acknowledged with the stored row, never
processed twice. A type no handler takes is stored as `ignored`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.broker import nudge
from config.errors import InvalidSignature, ValidationError

# The one Standard Webhooks verifier (issue 16 moves it to connectors/signing.py; this import follows it).
from connectors.signing import header, verify_standard_webhooks

from .handlers import HANDLERS
from .models import EventSource, InboundEvent, InboundEventStatus
from .sources import event_source_secrets

logger = logging.getLogger(__name__)

EVENT_ID_LIMIT = 255
EVENT_TYPE_LIMIT = 128


@dataclass(frozen=True)
class Receipt:
    """What a receive did: `created` False means `event` is the row an earlier delivery of the message stored."""

    event: InboundEvent
    created: bool


def _source(source_key: str) -> EventSource | None:
    if not source_key:
        return None
    return (EventSource.objects.select_related("organization")
            .filter(key=source_key, is_active=True, organization__is_active=True).first())


def event_envelope(body: bytes) -> tuple[str, dict[str, Any]]:
    """(type, data) of a Standard Webhooks body; ValidationError when it is not one."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("The body is not JSON.", details={"body": ["Not valid JSON."]}) from None
    if not isinstance(payload, dict):
        raise ValidationError(details={"body": ["Must be a JSON object with `type` and `data`."]})
    event_type, data = payload.get("type"), payload.get("data", {})
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > EVENT_TYPE_LIMIT:
        raise ValidationError(details={"type": [f"A non-empty string of at most {EVENT_TYPE_LIMIT} characters."]})
    if not isinstance(data, dict):
        raise ValidationError(details={"data": ["Must be a JSON object."]})
    return event_type, data


def event_receive(*, source_key: str, headers: Mapping[str, str], body: bytes,
                  remote_ip: str | None = None, tolerance: int | None = None) -> Receipt:
    """Verify and store one event. Raises INVALID_SIGNATURE (401) or VALIDATION_ERROR (400), storing nothing.

    `tolerance`: how far the signed timestamp may be off (WEBHOOK_SIGNATURE_TOLERANCE_SECONDS; a stream's
    consumer allows its entries' age)."""
    source = _source(source_key)
    window = settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS if tolerance is None else tolerance
    verified = source is not None and verify_standard_webhooks(
        headers, body, event_source_secrets(source), tolerance=window)
    if not verified:
        logger.warning("event refused: bad signature or unknown source (source=%r, %d bytes, from %s)",
                       source_key[:40], len(body), remote_ip)
        raise InvalidSignature()
    message_id = header(headers, "webhook-id")
    if len(message_id) > EVENT_ID_LIMIT:
        raise ValidationError(details={"webhook-id": [f"At most {EVENT_ID_LIMIT} characters."]})
    event_type, _ = event_envelope(body)
    now = timezone.now()
    handled = event_type in HANDLERS
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=source, organization=source.organization, event_id=message_id, event_type=event_type,
                body=body, remote_ip=remote_ip, received_at=now,
                status=InboundEventStatus.PENDING if handled else InboundEventStatus.IGNORED,
                next_attempt_at=now if handled else None, processed_at=None if handled else now,
                max_retries=settings.WEBHOOK_INCOMING_MAX_RETRIES,
                result={} if handled else {"ignored": "No handler for this event type."},
            )
    except IntegrityError:
        existing = InboundEvent.objects.filter(source=source, event_id=message_id).first()
        if existing is None:  # not a duplicate after all: let the caller see the failure (a 5xx, the sender retries)
            raise
        return Receipt(event=existing, created=False)
    EventSource.objects.filter(pk=source.pk).update(last_received_at=now)
    if handled:
        transaction.on_commit(partial(event_enqueue, event.pk))
    return Receipt(event=event, created=True)


def event_enqueue(event_id: int, *, countdown: float | None = None) -> bool:
    """Nudge a worker to process the event, best effort: the row is the queue, the sweeper re-sends."""
    from .tasks import process_inbound_event

    options: dict[str, Any] = {"countdown": countdown} if countdown else {}
    if settings.WEBHOOK_INCOMING_QUEUE:
        options["queue"] = settings.WEBHOOK_INCOMING_QUEUE
    return nudge(process_inbound_event, (event_id,), **options)
