"""Processing stored events exactly once: claim with a lease, handle, record; retry with backoff; sweep.

The same machinery as incoming provider webhooks (webhooks/inbound/processing.py),
with the same settings (WEBHOOK_INCOMING_LEASE_SECONDS, _MAX_RETRIES,
_RETRY_BASE_SECONDS, _SWEEP_AFTER_SECONDS, _SWEEP_BATCH):

1. `event_claim` is one conditional UPDATE (pending and due → processing,
   `locked_until = now + lease`): of any number of workers, one gets the row,
   and the `locked_until` it wrote is its token.
2. An atomic handler runs in one transaction that first locks the row and
   checks the token and ends by writing "completed" under it, so its writes and
   the status commit together or not at all. A handler that calls providers
   (user.deleted) cannot hold a transaction open; it checks the token before
   each step and is idempotent, so a re-run after a crash does only what is left.
3. A dead worker's row stays `processing` until its lease runs out; the
   sweeper then puts it back to pending (counting a retry) and nudges a worker.

A permanent error (the payload is wrong) fails the row at once; anything else
is retried after `base · 2^(n−1)` seconds up to `max_retries` times, then failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from config.claims import claimable
from config.errors import ApplicationError
from connectors.errors import is_transient
from webhooks.inbound.processing import retry_delay

from .handlers import HANDLERS
from .intake import event_enqueue, event_envelope
from .models import InboundEvent, InboundEventStatus

logger = logging.getLogger(__name__)

ERROR_LIMIT = 2000
DUE_LEEWAY = timedelta(seconds=2)  # a countdown nudge may land a little before next_attempt_at
LEASE_EXPIRED = "The worker processing it stopped before finishing (lease expired)."


class LeaseLost(Exception):
    """Another worker owns the event now: this one stops and commits nothing more."""


def event_claim(event_id: int, *, now: datetime | None = None) -> datetime | None:
    """Lease a pending, due event for this worker; its new `locked_until` (the token), or None."""
    now = now or timezone.now()
    token = now + timedelta(seconds=settings.WEBHOOK_INCOMING_LEASE_SECONDS)
    claimed = (
        InboundEvent.objects.filter(pk=event_id, status=InboundEventStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_LEEWAY))
        .update(status=InboundEventStatus.PROCESSING, locked_until=token, updated_at=now)
    )
    return token if claimed else None


def _owned(event_id: int, token: datetime):
    return InboundEvent.objects.filter(pk=event_id, status=InboundEventStatus.PROCESSING, locked_until=token)


def event_process(*, event_id: int) -> str | None:
    """Claim and process one event; its new status, or None when it was not this worker's to process."""
    token = event_claim(event_id)
    if token is None:
        return None
    event = InboundEvent.objects.select_related("source", "organization").get(pk=event_id)

    def still_ours() -> None:
        if not _owned(event_id, token).exists():
            raise LeaseLost()

    try:
        _, data = event_envelope(bytes(event.body))
        handler = HANDLERS.get(event.event_type)
        if handler is None:  # a handler removed since the event was stored
            _finish(event_id, token, InboundEventStatus.IGNORED, {"ignored": "No handler for this event type."})
            return InboundEventStatus.IGNORED
        if handler.atomic:
            with transaction.atomic():
                if not _owned(event_id, token).select_for_update().exists():
                    raise LeaseLost()
                _finish(event_id, token, InboundEventStatus.COMPLETED, handler.run(event, data, still_ours))
        else:
            result = handler.run(event, data, still_ours)
            _finish(event_id, token, InboundEventStatus.COMPLETED, result)
    except LeaseLost:
        logger.info("inbound event %s: lease lost, another worker owns it", event_id)
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row, none escapes the task
        return event_fail(event, token=token, exc=exc)
    return InboundEventStatus.COMPLETED


def _finish(event_id: int, token: datetime, status: str, result: dict) -> None:
    now = timezone.now()
    done = _owned(event_id, token).update(status=status, processed_at=now, locked_until=None, next_attempt_at=None,
                                          error_message="", result=result, updated_at=now)
    if not done:
        raise LeaseLost()


def _permanent(exc: Exception) -> bool:
    """Retrying cannot help: the payload is wrong, not the moment (a provider's 5xx or a timeout can)."""
    if isinstance(exc, ApplicationError):
        return not is_transient(exc)
    return isinstance(exc, (ValueError, KeyError, TypeError, LookupError))


def event_fail(event: InboundEvent, *, token: datetime, exc: Exception) -> str | None:
    """Record a failed attempt: pending again after a backoff, or failed for good."""
    message = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:ERROR_LIMIT]
    logger.warning("inbound event %s failed: %s", event.pk, message)
    now = timezone.now()
    with transaction.atomic():
        row = _owned(event.pk, token).select_for_update().first()
        if row is None:
            return None
        if _permanent(exc) or row.retry_count >= row.max_retries:
            _owned(row.pk, token).update(status=InboundEventStatus.FAILED, error_message=message, locked_until=None,
                                         next_attempt_at=None, processed_at=now, updated_at=now)
            return InboundEventStatus.FAILED
        delay = retry_delay(row.retry_count + 1)
        _owned(row.pk, token).update(
            status=InboundEventStatus.PENDING, retry_count=F("retry_count") + 1, error_message=message,
            locked_until=None, next_attempt_at=now + timedelta(seconds=delay), updated_at=now,
        )
        transaction.on_commit(partial(event_enqueue, row.pk, countdown=delay))
    return InboundEventStatus.PENDING


# ---------------------------------------------------------------- the sweeper


@dataclass(frozen=True)
class SweepResult:
    reclaimed: int  # processing rows whose lease ran out, back to pending
    exhausted: int  # of those, rows out of retries: failed
    requeued: int  # pending rows nudged again (lost messages, due retries)


def events_sweep(*, now: datetime | None = None, batch: int | None = None) -> SweepResult:
    """Re-queue what a lost message or a dead worker left behind. Safe to run anywhere, any number of times."""
    now = now or timezone.now()
    batch = batch or settings.WEBHOOK_INCOMING_SWEEP_BATCH
    reclaimed = exhausted = 0
    with transaction.atomic():
        expired = list(
            claimable(InboundEvent.objects.filter(status=InboundEventStatus.PROCESSING, locked_until__lt=now)
                      .order_by("locked_until")).values_list("pk", "retry_count", "max_retries")[:batch]
        )
        retry = [pk for pk, count, limit in expired if count < limit]
        out = [pk for pk, count, limit in expired if count >= limit]
        reclaimed = InboundEvent.objects.filter(pk__in=retry).update(
            status=InboundEventStatus.PENDING, retry_count=F("retry_count") + 1, locked_until=None,
            next_attempt_at=now, error_message=LEASE_EXPIRED, updated_at=now,
        )
        exhausted = InboundEvent.objects.filter(pk__in=out).update(
            status=InboundEventStatus.FAILED, locked_until=None, next_attempt_at=None, processed_at=now,
            error_message=LEASE_EXPIRED, updated_at=now,
        )
        for pk in retry:
            transaction.on_commit(partial(event_enqueue, pk))
    stale_before = now - timedelta(seconds=settings.WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        stale = list(
            claimable(InboundEvent.objects.filter(status=InboundEventStatus.PENDING, next_attempt_at__lte=stale_before)
                      .order_by("next_attempt_at")).values_list("pk", flat=True)[:batch]
        )
        InboundEvent.objects.filter(pk__in=stale).update(next_attempt_at=now)  # not nudged again every run
        for pk in stale:
            transaction.on_commit(partial(event_enqueue, pk))
    return SweepResult(reclaimed=reclaimed, exhausted=exhausted, requeued=len(stale))


def events_requeue(*, event_ids: list[int]) -> list[int]:
    """Failed events among `event_ids` back to pending with fresh retries (an operator's retry); nudge each."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(InboundEvent.objects.filter(pk__in=event_ids, status=InboundEventStatus.FAILED)
                   .select_for_update().values_list("pk", flat=True))
        InboundEvent.objects.filter(pk__in=ids).update(
            status=InboundEventStatus.PENDING, retry_count=0, next_attempt_at=now, processed_at=None,
            error_message="", updated_at=now)
        for pk in ids:
            transaction.on_commit(partial(event_enqueue, pk))
    return ids
