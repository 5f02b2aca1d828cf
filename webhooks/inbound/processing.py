"""Processing stored webhooks exactly once: claim with a lease, handle, record; retry with backoff; sweep.

Why exactly once:
1. `webhook_claim` is one conditional UPDATE (pending and due → processing,
   `locked_until = now + lease`); of any number of workers, one gets the row.
   The `locked_until` it wrote is the worker's token.
2. The handler runs in one transaction that first locks the row (`SELECT … FOR
   UPDATE`, PostgreSQL) and checks the token, and ends by writing the final
   status under the same token. The handler's writes (orders) and "completed"
   commit together or not at all: a worker killed mid-way commits nothing.
3. A dead worker's row stays `processing` until its lease runs out; the sweeper
   then puts it back to pending (counting a retry) and nudges a worker. The
   sweeper skips rows whose lock is held (`SKIP LOCKED`), so a live but slow
   worker is never raced; and should a stalled worker wake after its row was
   re-claimed, its token no longer matches and its transaction rolls back.

One message in flight per row: whatever makes a row pending and sends its
message marks it (`nudged_at`, in the same transaction), a send that fails
unmarks it, and a claim clears it. The sweeper re-sends only unmarked rows, or
rows whose marker is older than WEBHOOK_INCOMING_NUDGE_TTL_SECONDS (a message
the broker lost); a row queued behind a backlog keeps the one message it has.

Failures: a permanent error (the payload cannot be mapped, the body is not
what the scheme says) fails the row at once; anything else is retried after
`base · 2^(n−1)` seconds (jittered, capped) up to `max_retries` times, then
failed. A failed row publishes `webhook.failed` in the same transaction, and
its error survives the rolled-back handler transaction.
"""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from config.claims import claimable
from config.errors import ApplicationError
from connectors.errors import is_transient
from connectors.redaction import Redactor
from integrations.events import publish
from webhooks.models import IncomingStatus, IncomingWebhook

from . import handlers
from .services import ERROR_LIMIT, publish_failed, webhook_enqueue

logger = logging.getLogger(__name__)

TRACEBACK_LIMIT = 8000
DUE_LEEWAY = timedelta(seconds=2)  # a countdown nudge may land a little before next_attempt_at (clock skew)
LEASE_EXPIRED = "The worker processing it stopped before finishing (lease expired)."


class LeaseLost(Exception):
    """Another worker owns the row now (or it was deleted): this worker's transaction must commit nothing."""


def webhook_claim(webhook_id: int, *, now: datetime | None = None) -> datetime | None:
    """Lease a pending, due row for this worker; its new `locked_until` (the token), or None if not claimable."""
    now = now or timezone.now()
    token = now + timedelta(seconds=settings.WEBHOOK_INCOMING_LEASE_SECONDS)
    claimed = (
        IncomingWebhook.objects.filter(pk=webhook_id, status=IncomingStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_LEEWAY))
        .update(status=IncomingStatus.PROCESSING, locked_until=token, nudged_at=None, updated_at=now)
    )
    return token if claimed else None


def _owned(webhook_id: int, token: datetime):
    return IncomingWebhook.objects.filter(pk=webhook_id, status=IncomingStatus.PROCESSING, locked_until=token)


def webhook_process(*, webhook_id: int) -> str | None:
    """Claim and process one webhook; its new status, or None when it was not this worker's to process."""
    token = webhook_claim(webhook_id)
    if token is None:
        return None
    webhook = IncomingWebhook.objects.select_related("integration").get(pk=webhook_id)
    try:
        with transaction.atomic():
            if not _owned(webhook_id, token).select_for_update().exists():
                raise LeaseLost()
            outcome = handlers.handle(webhook)
            now = timezone.now()
            metadata = {**(webhook.metadata or {}), "result": outcome.summary}
            metadata.pop("traceback", None)
            done = _owned(webhook_id, token).update(
                status=outcome.status, processed_at=now, locked_until=None, next_attempt_at=None,
                error_message="", metadata=metadata, updated_at=now,
            )
            if not done:
                raise LeaseLost()
            if outcome.status == IncomingStatus.COMPLETED:
                publish_delivered(webhook, result=outcome.summary)
    except LeaseLost:
        logger.info("incoming webhook %s: lease lost, another worker owns it", webhook_id)
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row, none escapes the task
        return webhook_fail(webhook, token=token, exc=exc)
    return outcome.status


def publish_delivered(webhook: IncomingWebhook, *, result: dict) -> None:
    """`webhook.delivered` to the organization's endpoints, in the transaction that completes the row."""
    integration = webhook.integration
    publish(
        "webhook.delivered",
        {
            "integration": {"id": integration.pk, "code": integration.code, "provider": integration.provider,
                            "name": integration.name},
            "incoming_webhook": {"id": webhook.pk, "event_type": webhook.event_type,
                                 "external_id": webhook.external_id, "result": result},
        },
        integration.organization,
        integration=integration,
    )


def retry_delay(retry_number: int) -> float:
    """Seconds before retry `retry_number` (1-based): base · 2^(n−1), ±10 % jitter, capped."""
    base = settings.WEBHOOK_INCOMING_RETRY_BASE_SECONDS * 2 ** max(retry_number - 1, 0)
    return min(base * random.uniform(0.9, 1.1), settings.WEBHOOK_INCOMING_RETRY_MAX_SECONDS)


def _permanent(exc: Exception) -> bool:
    """Retrying cannot help: the payload or the configuration is wrong, not the moment."""
    if isinstance(exc, ApplicationError):
        return not is_transient(exc)
    return isinstance(exc, (ValueError, KeyError, TypeError, LookupError))


def webhook_fail(webhook: IncomingWebhook, *, token: datetime, exc: Exception) -> str | None:
    """Record a failed attempt: pending again after a backoff, or failed (publishing `webhook.failed`)."""
    redactor = Redactor.for_integration(webhook.integration)
    message = redactor.text(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")[:ERROR_LIMIT]
    trace = redactor.text("".join(traceback.format_exception(exc)))[-TRACEBACK_LIMIT:]
    logger.warning("incoming webhook %s failed: %s", webhook.pk, message)
    now = timezone.now()
    with transaction.atomic():
        row = _owned(webhook.pk, token).select_for_update().first()
        if row is None:
            return None
        metadata = {**(row.metadata or {}), "traceback": trace}
        if _permanent(exc) or row.retry_count >= row.max_retries:
            _owned(row.pk, token).update(
                status=IncomingStatus.FAILED, error_message=message, locked_until=None, next_attempt_at=None,
                processed_at=now, metadata=metadata, updated_at=now,
            )
            row.error_message = message
            publish_failed(row)
            return IncomingStatus.FAILED
        delay = retry_delay(row.retry_count + 1)
        _owned(row.pk, token).update(
            status=IncomingStatus.PENDING, retry_count=F("retry_count") + 1, error_message=message,
            locked_until=None, next_attempt_at=now + timedelta(seconds=delay), nudged_at=now, metadata=metadata,
            updated_at=now,
        )
        transaction.on_commit(partial(webhook_enqueue, row.pk, countdown=delay))
    return IncomingStatus.PENDING


# ---------------------------------------------------------------- the sweeper


@dataclass(frozen=True)
class SweepResult:
    reclaimed: int  # processing rows whose lease ran out, back to pending
    exhausted: int  # of those, rows out of retries: failed
    requeued: int  # pending rows nudged again (lost messages, due retries)


def webhooks_unsent(*, now: datetime) -> QuerySet[IncomingWebhook]:
    """Pending webhooks due for a while with no message on its way: none was sent (the broker was down, the
    process died before its commit hook), or the one sent is presumed lost, being older than
    WEBHOOK_INCOMING_NUDGE_TTL_SECONDS (and the time it was due for).

    A marked row whose message is merely queued behind others is not among them, however long the queue: a
    backlog is worked off, never multiplied by re-queues.
    """
    due_before = now - timedelta(seconds=settings.WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS)
    lost_before = now - timedelta(seconds=settings.WEBHOOK_INCOMING_NUDGE_TTL_SECONDS)
    return IncomingWebhook.objects.filter(status=IncomingStatus.PENDING, next_attempt_at__lte=due_before).filter(
        Q(nudged_at__isnull=True) | Q(nudged_at__lt=lost_before, next_attempt_at__lt=lost_before)
    )


def webhooks_sweep(*, now: datetime | None = None, batch: int | None = None) -> SweepResult:
    """Re-queue what a lost message or a dead worker left behind. Safe to run anywhere, any number of times."""
    now = now or timezone.now()
    batch = batch or settings.WEBHOOK_INCOMING_SWEEP_BATCH
    reclaimed, exhausted = _reclaim_expired(now, batch)
    with transaction.atomic():
        stale = list(
            claimable(webhooks_unsent(now=now).order_by("next_attempt_at")).values_list("pk", flat=True)[:batch]
        )
        # Marked: their messages are on their way, and the next sweeps leave them alone while they are.
        IncomingWebhook.objects.filter(pk__in=stale).update(nudged_at=now)
        for pk in stale:
            transaction.on_commit(partial(webhook_enqueue, pk))
    return SweepResult(reclaimed=len(reclaimed), exhausted=exhausted, requeued=len(stale))


def _reclaim_expired(now: datetime, batch: int) -> tuple[list[int], int]:
    exhausted = 0
    with transaction.atomic():
        rows = list(
            claimable(IncomingWebhook.objects.filter(status=IncomingStatus.PROCESSING, locked_until__lt=now)
                      .select_related("integration__organization"))
            .order_by("locked_until")[:batch]
        )
        retry = [row.pk for row in rows if row.retry_count < row.max_retries]
        IncomingWebhook.objects.filter(pk__in=retry).update(
            status=IncomingStatus.PENDING, retry_count=F("retry_count") + 1, locked_until=None,
            next_attempt_at=now, nudged_at=now, error_message=LEASE_EXPIRED, updated_at=now,
        )
        for row in rows:
            if row.pk in retry:
                transaction.on_commit(partial(webhook_enqueue, row.pk))
                continue
            IncomingWebhook.objects.filter(pk=row.pk).update(
                status=IncomingStatus.FAILED, locked_until=None, next_attempt_at=None, processed_at=now,
                error_message=LEASE_EXPIRED, updated_at=now,
            )
            row.error_message = LEASE_EXPIRED
            publish_failed(row)
            exhausted += 1
    return retry, exhausted
