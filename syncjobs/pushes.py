"""Channel pushes: the ERP's stock and its shipments' tracking, written to the channels.

Commerce keeps the outbox (InventoryPush rows, Fulfillment.push_status) and
decides what is due; this module makes the provider calls, outside any
transaction, and hands each outcome back to commerce's services to record.
The tasks in syncjobs.tasks call these; a lost message is picked up by
`pushes_sweep` (beat, every minute), a duplicated one finds nothing left to
push. A transient provider error (429, 5xx, timeout) is re-raised for the task
to retry with backoff; any other is recorded on the rows and stays there for
an operator.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from commerce.models import Fulfillment, InventoryPush, PushStatus
from commerce.outbox import PUSH_FULFILLMENT_TASK, PUSH_INVENTORY_TASK, inventory_push_nudge, outbox_task
from commerce.services.channel_stock import (
    inventory_push_done,
    inventory_push_failed,
    inventory_push_pending,
    inventory_push_record,
)
from commerce.services.fulfillment import (
    PUSH_CLAIM_TIMEOUT,
    fulfillment_push_body,
    fulfillment_push_claim,
    fulfillment_push_failed,
    fulfillment_push_succeeded,
)
from connectors import registry
from connectors.errors import is_transient
from integrations.models import Integration

from .labels import delivery_pushes_sweep

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------- stock
def inventory_push_send(*, integration_id: int) -> dict[str, Any]:
    """Write the ERP's quantity to each mapped location of one channel where it differs.

    Pushes go in the connector's batches, each recorded as it is confirmed, so a
    failure part way never re-sends what was already written. A row is deleted
    after its push only if nobody asked again meanwhile; if rows remain, another
    push is nudged. A failure stays on the rows (`last_error`, `attempts`); a
    transient one is re-raised so the task retries.
    """
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        return {"pushed": 0}
    rows, items = inventory_push_pending(integration=integration)
    if not rows:
        return {"pushed": 0}
    connector = registry.connector_for(integration)
    batch = max(1, int(getattr(connector, "inventory_push_batch", 100)))
    attempted_at = timezone.now()
    pushed = 0
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        try:
            answer = connector.push_inventory(
                [{k: v for k, v in item.items() if k not in ("product_id", "location_pk")} for item in chunk])
        except Exception as exc:  # noqa: BLE001 — every failure is recorded on the rows; transient ones retried
            message = str(getattr(exc, "message", None) or exc.__class__.__name__)
            inventory_push_failed(rows=rows, error=message, attempted_at=attempted_at)
            logger.warning("inventory push to integration %s failed: %s", integration.pk, exc.__class__.__name__)
            if is_transient(exc):
                raise
            return {"pushed": pushed, "error": message}
        inventory_push_record(integration=integration, chunk=chunk, answer=answer)
        pushed += len(chunk)
    if inventory_push_done(integration=integration, rows=rows):
        inventory_push_nudge(integration.pk)
    return {"pushed": pushed}


# ---------------------------------------------------------------------- tracking
def fulfillment_push(*, fulfillment_id: int, final_attempt: bool = True) -> str:
    """Send one fulfillment's tracking to its channel; returns the push status it ended in.

    Claimed first (see commerce's fulfillment_push_claim), so a duplicated task
    message sends nothing twice. A transient failure on a non-final attempt puts
    the row back to pending and re-raises, for the task to retry; any other
    failure is recorded as failed with the provider's error.
    """
    fulfillment, claimed = fulfillment_push_claim(fulfillment_id=fulfillment_id)
    if not claimed:
        return fulfillment.push_status  # pushed already, or another worker holds it
    try:
        answer = registry.connector_for(fulfillment.order.integration).push_fulfillment(
            fulfillment_push_body(fulfillment))
    except Exception as exc:  # noqa: BLE001 — the outcome is recorded on the row; transient ones re-raised
        error = f"{getattr(exc, 'code', exc.__class__.__name__)}: {getattr(exc, 'message', '') or exc}"
        retry = is_transient(exc) and not final_attempt
        status = fulfillment_push_failed(fulfillment=fulfillment, error=error, retry=retry)
        logger.warning("fulfillment %s push failed (%s)", fulfillment.pk, getattr(exc, "code", type(exc).__name__))
        if retry:
            raise
        return status
    return fulfillment_push_succeeded(fulfillment=fulfillment, answer=answer)


# ---------------------------------------------------------------------- the sweeper
def inventory_pushes_sweep(*, limit: int = 500) -> dict[str, int]:
    """Nudge the channels whose pending stock push nobody picked up (a lost message), or asked again after a
    failure. A row that failed and was not asked for again since stays for an operator ("push stock now" in the
    admin) instead of hammering a channel that refuses it."""
    cutoff = timezone.now() - timedelta(seconds=2 * settings.COMMERCE_INVENTORY_PUSH_DELAY_SECONDS + 60)
    integration_ids = list(
        InventoryPush.objects.filter(requested_at__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=F("requested_at")))
        .values_list("integration_id", flat=True).distinct()[:limit]
    )
    task = outbox_task(PUSH_INVENTORY_TASK)
    for integration_id in integration_ids:
        task.delay(integration_id)
    return {"inventory_channels": len(integration_ids)}


def fulfillment_pushes_sweep(*, older_than: timedelta = timedelta(minutes=15), limit: int = 500) -> dict[str, int]:
    """Re-queue fulfillment pushes left pending (a lost message) or held by a worker that died."""
    now = timezone.now()
    ids = list(
        Fulfillment.objects.filter(
            Q(push_status=PushStatus.PENDING, updated_at__lt=now - older_than)
            | Q(push_status=PushStatus.PUSHING, push_claimed_at__lt=now - PUSH_CLAIM_TIMEOUT)
        ).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    task = outbox_task(PUSH_FULFILLMENT_TASK)
    for pk in ids:
        task.delay(pk)
    return {"fulfillments": len(ids)}


def pushes_sweep() -> dict[str, int]:
    return inventory_pushes_sweep() | fulfillment_pushes_sweep() | {"deliveries": len(delivery_pushes_sweep())}
