"""Background work for incoming webhooks. Tasks take ids, call a service, and are safe to run twice.

The IncomingWebhook rows are the queue of record: a message is only a nudge.
A duplicate message finds the row claimed or finished and does nothing; a lost
one is made up by `sweep_incoming_webhooks`, which beat runs every 30 s
(reclaiming rows of dead workers once their lease ran out, and re-queuing
pending rows that waited longer than WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS with
no message on its way: see processing.py).
No task retries itself: retries are rows with a later `next_attempt_at`.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from . import processing


@shared_task(ignore_result=True)
def process_incoming_webhook(webhook_id: int) -> str | None:
    """Process one stored webhook unless it is not due, finished, or another worker holds it."""
    return processing.webhook_process(webhook_id=webhook_id)


@shared_task(ignore_result=True)
def process_incoming_webhooks(webhook_ids: list[int]) -> int:
    """Process the stored webhooks one web process collected (config/broker.py BatchedNudges); how many were this
    worker's to process. Each is claimed on its own, as by process_incoming_webhook."""
    return sum(processing.webhook_process(webhook_id=pk) is not None for pk in webhook_ids)


@shared_task(ignore_result=True)
def sweep_incoming_webhooks() -> dict[str, int]:
    """Re-queue what a lost message or a dead worker left behind; returns the counts."""
    return asdict(processing.webhooks_sweep())
