"""Background pushes to channels. Tasks take ids, call a service, and are safe to run twice.

The rows are the queue of record (InventoryPush, Fulfillment.push_status); a
message only says "look now". A lost message is picked up by the beat sweeper
`sweep_pending_pushes`; a duplicate finds nothing left to push. Only transient
provider errors (429, 5xx, timeouts) are retried, with exponential backoff.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from connectors.errors import is_transient

from .services import channel_stock, fulfillment, orders_pull, stock


def _backoff(retries: int) -> int:
    return min(3600, 30 * 2**retries)


@shared_task(bind=True, ignore_result=True)
def push_inventory(self, integration_id: int) -> dict:
    """Push one channel's pending stock figures (all its InventoryPush rows, in one call)."""
    try:
        return channel_stock.inventory_push_send(integration_id=integration_id)
    except Exception as exc:
        if is_transient(exc) and self.request.retries < settings.COMMERCE_PUSH_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise


@shared_task(bind=True, ignore_result=True)
def push_fulfillment(self, fulfillment_id: int) -> str:
    """Push one fulfillment's tracking number to its order's channel; the outcome is recorded on the row."""
    final = self.request.retries >= settings.COMMERCE_PUSH_MAX_RETRIES
    try:
        return fulfillment.fulfillment_push(fulfillment_id=fulfillment_id, final_attempt=final)
    except Exception as exc:
        if is_transient(exc) and not final:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
        raise


@shared_task(ignore_result=True)
def sweep_pending_pushes() -> dict:
    """Beat sweeper: re-send pushes whose message was lost (a pending row nobody picked up)."""
    return stock.sweep_pending_pushes() | fulfillment.sweep_pending_pushes()


@shared_task(ignore_result=True)
def repull_order(order_id: int) -> dict:
    """Fetch an order's changes from its channel again (admin action) and import them."""
    return orders_pull.order_repull(order_id=order_id)
