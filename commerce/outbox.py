"""Commerce's outbox: the rows that say "tell the channel", and the nudge that says "look now".

InventoryPush rows (a channel's pending stock figures) and Fulfillment rows
whose `push_status` is pending are the queue of record of the channel pushes.
The pipeline layer sends them (`syncjobs.pushes`, run by `syncjobs.tasks`) and
records the outcome through commerce's services; a re-pull of an order is
asked for the same way.

Commerce sits below the pipelines, so it names their tasks instead of
importing them. The names are the contract: they are the ones the tasks had
when they lived in `commerce.tasks`, so messages already queued, beat rows
(commerce migration 0002) and an operator's saved periodic tasks still resolve.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings

from config.broker import nudge_on_commit

PUSH_INVENTORY_TASK = "commerce.tasks.push_inventory"
PUSH_FULFILLMENT_TASK = "commerce.tasks.push_fulfillment"
SWEEP_PUSHES_TASK = "commerce.tasks.sweep_pending_pushes"
REPULL_ORDER_TASK = "commerce.tasks.repull_order"
PUSH_DELIVERY_TASK = "commerce.tasks.push_delivery"


def outbox_task(name: str) -> Any:
    """The task registered under `name` (so eager mode and test doubles see it), else a signature that sends by
    name (a process that never imported the pipeline's tasks still reaches the workers that did)."""
    return current_app.tasks.get(name) or current_app.signature(name)


def inventory_push_nudge(integration_id: int, countdown: float | None = None) -> None:
    """Nudge the stock push of one channel after commit, best effort: the InventoryPush rows and their sweeper
    stand behind the message."""
    delay = settings.COMMERCE_INVENTORY_PUSH_DELAY_SECONDS if countdown is None else countdown
    nudge_on_commit(outbox_task(PUSH_INVENTORY_TASK), (integration_id,), countdown=delay)


def fulfillment_push_nudge(fulfillment_id: int) -> None:
    """Nudge the tracking push of one fulfillment after commit, best effort (the row and its sweeper stand behind)."""
    nudge_on_commit(outbox_task(PUSH_FULFILLMENT_TASK), (fulfillment_id,))


def delivery_push_nudge(order_id: int) -> None:
    """Ask for the delivery confirmation of an order's parcels to its channel, after commit (channels that take
    one: `DeliveryNotifier`). Each fulfillment records the outcome (`delivery_pushed_at` / `delivery_push_error`)."""
    nudge_on_commit(outbox_task(PUSH_DELIVERY_TASK), (order_id,))
